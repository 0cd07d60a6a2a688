// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The server: listeners, their accept loops, and the set of live transports
 * (asyncio's `base_events.Server`).
 *
 * @module
 */
import { checkProtocol, handshake } from "./_connect.ts";
import { logger } from "./_log.ts";
import {
  formatAddr,
  SocketTransport,
  type TransportOwner,
} from "./_transport.ts";
import type { BaseProtocol, ServerOptions } from "./protocol.ts";

/** How a server is put together (internal). */
export interface ServerInit {
  listeners: Deno.Listener[];
  protocolFactory: () => BaseProtocol;
  noDelay: boolean;
  tls: boolean;
  signal: AbortSignal | undefined;
  /** Runs once after the listeners are closed (Unix socket file cleanup). */
  onClose?: () => void;
}

let makeServer: (init: ServerInit) => Server;

/** Pause after an accept error that is not the listener closing. */
const ACCEPT_RETRY_MS = 100;

/**
 * A listening server: asyncio's `Server`. Made by `createServer`,
 * `startServer` and their Unix twins, never directly.
 *
 * `close()` stops listening and leaves open connections alone;
 * `waitClosed()` resolves once the server is closed and every connection is
 * gone (asyncio 3.12 semantics). `await using` closes the server and waits.
 *
 * @example Close a server that has a client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol } from "@aio/net/protocol";
 *
 * const server = await createServer(() => new Protocol(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport] = await createConnection(() => new Protocol(), "127.0.0.1", port);
 * server.close();
 * assertEquals(server.isServing(), false);
 * assertEquals(server.sockets.length, 0);
 * server.closeClients(); // or wait for the clients to leave
 * await server.waitClosed();
 * transport.close();
 * ```
 */
export class Server implements AsyncDisposable {
  #listeners: Deno.Listener[];
  #protocolFactory: () => BaseProtocol;
  #noDelay: boolean;
  #tls: boolean;
  #signal: AbortSignal | undefined;
  #onClose: (() => void) | undefined;
  #transports = new Set<SocketTransport>();
  #handshaking = new Set<Deno.Conn>();
  #serving = false;
  #closed = false;
  #waiters: PromiseWithResolvers<void>[] = [];
  #forever: PromiseWithResolvers<void> | null = null;
  #owner: TransportOwner = { detach: (t) => this.#detach(t) };
  #onAbort = () => this.close();

  static {
    makeServer = (init) => new Server(init);
  }

  private constructor(init: ServerInit) {
    this.#listeners = init.listeners;
    this.#protocolFactory = init.protocolFactory;
    this.#noDelay = init.noDelay;
    this.#tls = init.tls;
    this.#signal = init.signal;
    this.#onClose = init.onClose;
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** The listeners; `sockets[0].addr` is the bound address. Empty once closed. */
  get sockets(): readonly Deno.Listener[] {
    return Object.freeze([...this.#listeners]);
  }

  /** Whether the server is accepting connections. */
  isServing(): boolean {
    return this.#serving;
  }

  /**
   * Starts accepting connections (when made with `startServing: false`).
   *
   * @throws {Error} If the server is closed.
   */
  startServing(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new Error("Cannot start serving: the server is closed"),
      );
    }
    if (!this.#serving) {
      this.#serving = true;
      for (const listener of this.#listeners) void this.#acceptLoop(listener);
    }
    return Promise.resolve();
  }

  /**
   * Serves until `close()` or the server's `signal` ends it, then waits for
   * every connection to go (as asyncio's `serve_forever` does on cancel).
   *
   * @throws {Error} If the server is closed or already served forever.
   */
  async serveForever(): Promise<void> {
    if (this.#forever) {
      throw new Error(
        "Cannot serveForever(): the server is already being served forever",
      );
    }
    if (this.#closed) {
      throw new Error("Cannot serveForever(): the server is closed");
    }
    const forever = Promise.withResolvers<void>();
    this.#forever = forever;
    try {
      await this.startServing();
      await forever.promise;
      await this.waitClosed();
    } finally {
      this.#forever = null;
    }
  }

  /** Stops listening. Open connections stay. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#serving = false;
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (const listener of this.#listeners) {
      try {
        listener.close();
      } catch (err) {
        if (!(err instanceof Deno.errors.BadResource)) throw err;
      }
    }
    this.#listeners = [];
    try {
      this.#onClose?.();
    } catch (err) {
      logger.error("Error cleaning up after server close: {error}", {
        error: err,
      });
    }
    this.#forever?.resolve();
    this.#maybeWake();
  }

  /** Closes every open connection, flushing each first. */
  closeClients(): void {
    for (const transport of [...this.#transports]) transport.close();
    this.#abortHandshakes();
  }

  /** Aborts every open connection, dropping what is buffered. */
  abortClients(): void {
    for (const transport of [...this.#transports]) transport.abort();
    this.#abortHandshakes();
  }

  /** Resolves once the server is closed and every connection is gone. */
  waitClosed(): Promise<void> {
    if (this.#closed && this.#active() === 0) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    return waiter.promise;
  }

  /** Closes the server and waits for its connections to go. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.waitClosed();
  }

  /** Shows the state that matters, as asyncio's `__repr__` does. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#closed
      ? "closed"
      : this.#serving
      ? "serving"
      : "not serving";
    const addrs = this.#listeners.map((l) => formatAddr(l.addr)).join(", ");
    return `Server { ${state}, sockets=[${addrs}], connections=${this.#active()} }`;
  }

  #active(): number {
    return this.#transports.size + this.#handshaking.size;
  }

  #maybeWake(): void {
    if (!this.#closed || this.#active() > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #detach(transport: SocketTransport): void {
    this.#transports.delete(transport);
    this.#maybeWake();
  }

  #abortHandshakes(): void {
    for (const conn of this.#handshaking) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (this.#serving) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (
          this.#closed || err instanceof Deno.errors.BadResource ||
          err instanceof Deno.errors.Interrupted
        ) return;
        logger.error("Error accepting a connection on {addr}: {error}", {
          addr: formatAddr(listener.addr),
          error: err,
        });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#tls) void this.#acceptTls(conn as Deno.TlsConn);
      else this.#accepted(conn, undefined);
    }
  }

  async #acceptTls(conn: Deno.TlsConn): Promise<void> {
    this.#handshaking.add(conn);
    let tls: { alpnProtocol: string | null } | undefined;
    try {
      ({ tls } = await handshake(conn));
    } catch (err) {
      logger.warning("TLS handshake with {peer} failed: {error}", {
        peer: formatAddr(conn.remoteAddr),
        error: err,
      });
      return;
    } finally {
      this.#handshaking.delete(conn);
      this.#maybeWake();
    }
    this.#accepted(conn, tls);
  }

  #accepted(
    conn: Deno.Conn,
    tls: { alpnProtocol: string | null } | undefined,
  ): void {
    let protocol: BaseProtocol;
    try {
      if (this.#noDelay && !tls && conn.remoteAddr.transport === "tcp") {
        (conn as Deno.TcpConn).setNoDelay(true);
      }
      protocol = this.#protocolFactory();
      checkProtocol(protocol);
    } catch (err) {
      logger.error("Cannot serve a connection from {peer}: {error}", {
        peer: formatAddr(conn.remoteAddr),
        error: err,
      });
      try {
        conn.close();
      } catch { /* already closed */ }
      return;
    }
    const transport = new SocketTransport(
      conn,
      protocol,
      tls ? { owner: this.#owner, tls } : { owner: this.#owner },
    );
    this.#transports.add(transport);
    transport.start();
  }
}

/** Makes a server from bound listeners and starts it unless told not to. */
export function serve(
  listeners: Deno.Listener[],
  protocolFactory: () => BaseProtocol,
  opts: ServerOptions,
  onClose?: () => void,
): Server {
  const server = makeServer({
    listeners,
    protocolFactory,
    noDelay: opts.noDelay !== false,
    tls: opts.tls !== undefined,
    signal: opts.signal,
    ...(onClose ? { onClose } : {}),
  });
  if (opts.signal?.aborted) server.close();
  else if (opts.startServing !== false) void server.startServing();
  return server;
}

/** The addresses "localhost" stands for. */
const LOCALHOST = ["127.0.0.1", "::1"];

/** Whether an error says the machine has no such address (no IPv6). */
function isAddrNotAvailable(err: unknown): boolean {
  return err instanceof Deno.errors.AddrNotAvailable ||
    (err instanceof Error &&
      /address not available|cannot assign requested address|address family not supported/i
        .test(err.message));
}

/** Binds one TCP (or TLS) listener. */
function bindOne(
  hostname: string,
  port: number,
  opts: ServerOptions,
): Deno.Listener {
  const base = {
    hostname,
    port,
    ...(opts.reusePort !== undefined ? { reusePort: opts.reusePort } : {}),
    ...(opts.backlog !== undefined ? { tcpBacklog: opts.backlog } : {}),
  };
  if (opts.tls) {
    return Deno.listenTls({
      ...base,
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.alpnProtocols
        ? { alpnProtocols: opts.tls.alpnProtocols }
        : {}),
    });
  }
  return Deno.listen({ ...base, transport: "tcp" });
}

/** Closes listeners, ignoring ones already closed. */
function closeAll(listeners: Deno.Listener[]): void {
  for (const listener of listeners) {
    try {
      listener.close();
    } catch { /* already closed */ }
  }
}

/**
 * Binds every address `host` names on `port` (the same port for all, when
 * `port` is 0), all or none.
 */
function bindAll(
  host: string | string[] | undefined,
  port: number,
  opts: ServerOptions,
): Deno.Listener[] {
  if (host === undefined) {
    // Every interface: one dual-stack listener, or IPv4 alone without IPv6.
    try {
      return [bindOne("::", port, opts)];
    } catch (err) {
      if (!isAddrNotAvailable(err)) throw err;
      return [bindOne("0.0.0.0", port, opts)];
    }
  }
  const names = [
    ...new Set(
      (Array.isArray(host) ? host : [host]).flatMap((h) =>
        h === "localhost" ? LOCALHOST : [h]
      ),
    ),
  ];
  if (names.length === 0) {
    throw new RangeError(
      "host must name at least one address, got an empty list",
    );
  }
  const listeners: Deno.Listener[] = [];
  try {
    let bound = port;
    for (const name of names) {
      let listener: Deno.Listener;
      try {
        listener = bindOne(name, bound, opts);
      } catch (err) {
        // "localhost" on a machine without IPv6: bind what there is.
        if (name === "::1" && listeners.length > 0 && isAddrNotAvailable(err)) {
          continue;
        }
        throw err;
      }
      listeners.push(listener);
      bound = (listener.addr as Deno.NetAddr).port;
    }
  } catch (err) {
    closeAll(listeners);
    throw err;
  }
  return listeners;
}

/** Binds and starts a TCP server: the body of `createServer`. */
export function listenTcp(
  protocolFactory: () => BaseProtocol,
  host: string | string[] | undefined,
  port: number,
  opts: ServerOptions,
): Promise<Server> {
  opts.signal?.throwIfAborted();
  let listeners: Deno.Listener[] | undefined;
  // With port 0 and several addresses, the port picked by the first may be
  // taken on another: try again with a fresh one.
  for (let attempt = 0;; attempt++) {
    try {
      listeners = bindAll(host, port, opts);
      break;
    } catch (err) {
      if (
        port !== 0 || attempt >= 4 || !(err instanceof Deno.errors.AddrInUse)
      ) throw err;
    }
  }
  return Promise.resolve(serve(listeners, protocolFactory, opts));
}
