// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The server: listeners, their accept loops, and the set of live transports
 * (asyncio's `base_events.Server`). It takes bound listeners from
 * `_bind.ts`; accepted TLS connections finish their handshake in `_tls.ts`
 * before their protocol is made.
 *
 * @module
 */
import type { BaseProtocol } from "./_contract.ts";
import type {
  ServerLimitOptions,
  ServerOptions,
  SocketOptions,
  TlsListenOptions,
  UnixServerOptions,
  WaitOptions,
} from "./_options.ts";
import { bindTcp, bindUnix, type Bound } from "./_bind.ts";
import { logger, reportException } from "./_log.ts";
import { abortable } from "./_signal.ts";
import { checkWaitOptions, toError } from "./_checks.ts";
import {
  openTls,
  replaceServerTls,
  serverTlsSide,
  type TlsSide,
} from "./_tls.ts";
import {
  SocketTransport,
  type StreamTransport,
  type TransportOwner,
} from "./_transport.ts";
import { formatAddr } from "./_address.ts";
import { closeQuietly, makeProtocol, setSocketOptions } from "./_conn.ts";

/** How a server is put together (internal). */
interface ServerInit extends Bound {
  protocolFactory: () => BaseProtocol;
  socketOptions: SocketOptions;
  /** The server's side of TLS, for a TLS server. */
  tls: TlsSide | undefined;
  signal: AbortSignal | undefined;
  /** `maxConnections` and each connection's `idleTimeout`. */
  limits: ServerLimitOptions;
}

/**
 * Makes a `Server`, whose constructor is private. The classes a public
 * module exports but that only this module may make (`Server`,
 * `StreamWriter`) or reach into (`StreamReader`) all use this idiom: a
 * module-level function, assigned in the class's `static {}` block, which
 * runs inside the class and so may call its private constructor or touch
 * its `#private` fields. A function only its own module calls stays
 * module-local (this one, `makeWriter` in `_stream_adapter.ts`); one that
 * another private module calls is exported from its private module (the
 * `StreamReader` functions `_stream_adapter.ts` uses), never from a public
 * one.
 */
let makeServer: (init: ServerInit) => Server;
/** True only while `makeServer` runs: `new Server()` elsewhere throws. */
let inMakeServer = false;

/**
 * The first pause after an accept error that is neither the listener
 * closing nor a client gone before it was accepted (out of descriptors,
 * say); each failure in a row doubles it, up to `ACCEPT_RETRY_MAX_MS`.
 */
const ACCEPT_RETRY_MS = 100;
/** The longest pause between accepts that keep failing. */
const ACCEPT_RETRY_MAX_MS = 1000;

/** Whether `accept()` failed for want of file descriptors (EMFILE, ENFILE). */
function isOutOfDescriptors(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** Whether `accept()` failed because the client left before it was taken. */
function isGoneBeforeAccept(err: unknown): boolean {
  return err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.ConnectionReset;
}

/**
 * A listening server: asyncio's `Server`. Made by `createServer`,
 * `startServer` and their Unix twins, never directly.
 *
 * `close()` stops listening and leaves open connections alone;
 * `waitClosed()` resolves once the server is closed, its listening sockets
 * are released (a connect is refused, the address can be bound again) and
 * every connection is gone (asyncio 3.12 semantics). `await using` closes
 * the server and waits.
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
  #socketOptions: SocketOptions;
  #tls: TlsSide | undefined;
  #signal: AbortSignal | undefined;
  #beforeClose: (() => void) | undefined;
  #afterClose: (() => void) | undefined;
  /** The connections being served. */
  #transports = new Set<StreamTransport>();
  /** TLS connections whose handshake is not done: no protocol yet. */
  #handshaking = new Set<StreamTransport>();
  #serving = false;
  #closed = false;
  /** Accept loops still running: each holds its listener's socket open. */
  #acceptLoops = 0;
  #waiters: PromiseWithResolvers<void>[] = [];
  #forever: PromiseWithResolvers<void> | null = null;
  #owner: TransportOwner;
  #onAbort = () => this.close();
  /** Each connection's idle timeout, if any. */
  #idleTimeout: number | undefined;
  /** The most connections served at once, if limited. */
  #maxConnections: number;
  /** Connections closed at once for want of room. */
  #refused = 0;
  /** Whether the server is refusing connections (logged once until it has room). */
  #full = false;
  /** Wakes the accept loops pausing after an error (at close). */
  #pauses = new Set<() => void>();

  static {
    makeServer = (init) => {
      inMakeServer = true;
      try {
        return new Server(init);
      } finally {
        inMakeServer = false;
      }
    };
  }

  private constructor(init: ServerInit) {
    if (!inMakeServer) {
      throw new TypeError(
        "Server cannot be constructed directly: use createServer(), startServer(), createUnixServer() or startUnixServer()",
      );
    }
    this.#listeners = init.listeners;
    this.#owner = {
      detach: (t) => this.#detach(t),
      name: this.#listeners.map((l) => formatAddr(l.addr)).join(", "),
    };
    this.#protocolFactory = init.protocolFactory;
    this.#socketOptions = init.socketOptions;
    this.#tls = init.tls;
    this.#signal = init.signal;
    this.#beforeClose = init.beforeClose;
    this.#afterClose = init.afterClose;
    this.#idleTimeout = init.limits.idleTimeout;
    this.#maxConnections = init.limits.maxConnections ?? Infinity;
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
   * How many connections the server is serving now, TLS ones still in their
   * handshake included: what `maxConnections` limits and what
   * `waitClosed()` waits for to reach 0 (Node's `server.getConnections()`,
   * asyncio's private `Server._active_count`).
   *
   * @example Count the clients
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { createConnection, createServer, Protocol, type Transport } from "@aio/net/protocol";
   *
   * const made = Promise.withResolvers<void>();
   * class Served extends Protocol {
   *   override connectionMade(_transport: Transport): void {
   *     made.resolve();
   *   }
   * }
   * await using server = await createServer(() => new Served(), "127.0.0.1", 0);
   * assertEquals(server.connectionCount, 0);
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   * const [transport] = await createConnection(() => new Protocol(), "127.0.0.1", port);
   * await made.promise;
   * assertEquals(server.connectionCount, 1);
   * transport.close();
   * ```
   */
  get connectionCount(): number {
    return this.#active();
  }

  /**
   * How many connections the server has refused because `maxConnections`
   * were open: each was accepted and closed at once, without a protocol
   * (Node's `"drop"` events, counted).
   *
   * @example One client too many
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { createConnection, createServer, Protocol } from "@aio/net/protocol";
   *
   * class Client extends Protocol {
   *   readonly lost = Promise.withResolvers<void>();
   *   override connectionLost(): void {
   *     this.lost.resolve();
   *   }
   * }
   * await using server = await createServer(() => new Protocol(), "127.0.0.1", 0, {
   *   maxConnections: 1,
   * });
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   * const [first, firstClient] = await createConnection(() => new Client(), "127.0.0.1", port);
   * const [, second] = await createConnection(() => new Client(), "127.0.0.1", port);
   * await second.lost.promise; // closed by the server at once
   * assertEquals(server.refusedCount, 1);
   * first.close();
   * await firstClient.lost.promise;
   * server.closeClients();
   * ```
   */
  get refusedCount(): number {
    return this.#refused;
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
      for (const listener of this.#listeners) {
        this.#acceptLoops++;
        void this.#acceptLoop(listener);
      }
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
    this.#cleanUp(this.#beforeClose);
    this.#listeners.forEach(closeQuietly);
    this.#listeners = [];
    for (const wake of [...this.#pauses]) wake();
    this.#forever?.resolve();
    this.#maybeReleased();
  }

  /**
   * Once every accept loop has ended, the listening sockets are really
   * closed: Deno keeps a socket open while an `accept()` on it is pending,
   * until that op is cancelled on a later tick. Then the Unix socket file
   * is removed, and `waitClosed()` may resolve.
   */
  #maybeReleased(): void {
    if (!this.#closed || this.#acceptLoops > 0) return;
    const afterClose = this.#afterClose;
    this.#afterClose = undefined;
    this.#cleanUp(afterClose);
    this.#maybeWake();
  }

  /** Runs a cleanup step of the listeners (Unix socket files), logging errors. */
  #cleanUp(step: (() => void) | undefined): void {
    try {
      step?.();
    } catch (err) {
      reportException({
        message: "Error cleaning up after server close",
        exception: toError(err),
        server: this.#owner.name!,
      });
    }
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

  /**
   * Replaces the server's TLS options (certificate, key, CAs, SNI, policy)
   * for the handshakes that start from now on; open connections, and
   * handshakes under way, keep what they began with. The new options are
   * checked as `createServer` checks them, and replace the old ones whole.
   * (Node's `server.setSecureContext`; in asyncio, loading a new chain
   * into the server's `SSLContext`.)
   *
   * @param options The new TLS options.
   * @throws {TypeError} If an option is wrong, material is not PEM text,
   * or a key does not match its certificate (the old options stay).
   * @throws {Error} If the server was made without `tls`.
   *
   * @example Rotate the certificate while serving
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { openConnection, startServer } from "@aio/net/streams";
   *
   * const read = (name: string) => Deno.readTextFileSync(`tests/fixtures/tls/${name}`);
   * await using server = await startServer((_reader, writer) => writer.close(), "127.0.0.1", 0, {
   *   tls: { cert: read("server.pem"), key: read("server.key") },
   * });
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   * server.setTlsOptions({ cert: read("server2.pem"), key: read("server2.key") });
   * const [, writer] = await openConnection("localhost", port, { tls: { caCerts: [read("ca.pem")] } });
   * const peer = writer.getExtraInfo("peerCertificate") as { subject: { O?: string } };
   * assertEquals(peer.subject.O, "rotated");
   * writer.close();
   * await writer.waitClosed();
   * ```
   */
  setTlsOptions(options: TlsListenOptions): void {
    this.#tls = replaceServerTls(this.#tls, options);
  }

  /**
   * Resolves once the server is closed, its listening sockets are released
   * (a connect is refused, and the address can be bound again at once), and
   * every connection is gone.
   *
   * @param options `signal` stops the wait (the server is left as it is).
   * @throws {TypeError} If `options` holds an unknown key or a non-signal.
   */
  waitClosed(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      signal = checkWaitOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#isDone()) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#waiters.push(waiter);
    return abortable(waiter.promise, signal, {
      onAbort: () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
      },
    });
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

  /** Whether `waitClosed()` may resolve. */
  #isDone(): boolean {
    return this.#closed && this.#acceptLoops === 0 && this.#active() === 0;
  }

  #maybeWake(): void {
    if (!this.#isDone()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #detach(transport: StreamTransport): void {
    this.#transports.delete(transport);
    this.#handshaking.delete(transport);
    if (this.#full && this.#active() < this.#maxConnections) {
      this.#full = false;
      logger.info(
        "Server {server} has room for connections again (maxConnections {max})",
        { server: this.#owner.name, max: this.#maxConnections },
      );
    }
    this.#maybeWake();
  }

  #abortHandshakes(): void {
    for (const transport of [...this.#handshaking]) transport.abort();
  }

  /**
   * Accepts until the server closes. An accept that fails for another
   * reason than the listener closing or a client gone (out of descriptors,
   * say) starts an episode: it is reported once, then the loop pauses,
   * 100 ms and twice as long after each failure in a row, up to 1 s, and
   * tries again without reporting, until an accept succeeds.
   */
  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    /** The pause after the next failure; 0 outside an episode. */
    let retryMs = 0;
    let failures = 0;
    try {
      while (this.#serving) {
        let conn: Deno.Conn;
        try {
          conn = await listener.accept();
        } catch (err) {
          if (
            this.#closed || err instanceof Deno.errors.BadResource ||
            err instanceof Deno.errors.Interrupted
          ) return;
          if (isGoneBeforeAccept(err)) {
            // The client reset before accept() took it: routine (asyncio
            // ignores ECONNABORTED and friends too); accept the next one.
            logger.debug("A client left before it was accepted: {error}", {
              error: err,
            });
            continue;
          }
          failures++;
          if (retryMs === 0) {
            retryMs = ACCEPT_RETRY_MS;
            this.#acceptFailed(listener, err);
          } else {
            retryMs = Math.min(retryMs * 2, ACCEPT_RETRY_MAX_MS);
            logger.debug(
              "Accepting on {address} failed again ({error}); retrying in {delay} ms",
              {
                address: formatAddr(listener.addr),
                error: err,
                delay: retryMs,
              },
            );
          }
          await this.#pause(retryMs);
          continue;
        }
        if (retryMs !== 0) {
          logger.info(
            "Accepting on {address} again, after {failures} failed attempts",
            { address: formatAddr(listener.addr), failures },
          );
          retryMs = failures = 0;
        }
        if (this.#closed) {
          closeQuietly(conn); // accepted as the server closed: too late
          return;
        }
        if (this.#active() >= this.#maxConnections) {
          this.#refuse(conn);
          continue;
        }
        this.#accepted(conn);
      }
    } finally {
      this.#acceptLoops--;
      this.#maybeReleased();
    }
  }

  /** Reports the first failed accept of an episode. */
  #acceptFailed(listener: Deno.Listener, err: unknown): void {
    const address = formatAddr(listener.addr);
    reportException({
      message: isOutOfDescriptors(err)
        ? `Out of file descriptors accepting a connection on ${address}: retrying, at most every ${ACCEPT_RETRY_MAX_MS} ms, until some are free`
        : `Error accepting a connection on ${address}: retrying, at most every ${ACCEPT_RETRY_MAX_MS} ms`,
      exception: toError(err),
      server: this.#owner.name!,
    });
  }

  /** Waits `ms` milliseconds, or until the server closes. */
  #pause(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      clearTimeout(timer);
      this.#pauses.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    this.#pauses.add(wake);
    return promise;
  }

  /** Closes a connection beyond `maxConnections` at once, and counts it. */
  #refuse(conn: Deno.Conn): void {
    closeQuietly(conn);
    this.#refused++;
    if (this.#full) return;
    this.#full = true;
    logger.warning(
      "Server {server} is serving {max} connections (maxConnections): closing new ones at once until one ends",
      { server: this.#owner.name, max: this.#maxConnections },
    );
  }

  /**
   * Serves an accepted connection; a TLS one after its handshake, which
   * drops only this connection if it fails (logged by the TLS transport,
   * the protocol never made).
   */
  #accepted(conn: Deno.Conn): void {
    try {
      setSocketOptions(conn, this.#socketOptions);
    } catch (err) {
      this.#cannotServe(
        conn.remoteAddr,
        err,
        "setting its socket options failed",
      );
      closeQuietly(conn);
      return;
    }
    if (!this.#tls) {
      this.#serve(
        new SocketTransport(conn, null, {
          owner: this.#owner,
          idleTimeout: this.#idleTimeout,
        }),
      );
      return;
    }
    const transport = openTls(
      conn,
      this.#tls,
      this.#owner,
      this.#idleTimeout,
    );
    this.#handshaking.add(transport);
    transport.handshake().then(
      () => {
        if (!this.#handshaking.delete(transport)) return; // aborted meanwhile
        this.#serve(transport);
      },
      () => {}, // logged, and the connection is gone
    );
  }

  /**
   * Makes the connection's protocol and starts it (a `connectionMade` that
   * throws is logged by the transport, which aborts).
   */
  #serve(transport: StreamTransport): void {
    let protocol: BaseProtocol;
    try {
      protocol = makeProtocol(this.#protocolFactory);
    } catch (err) {
      this.#cannotServe(
        transport.getExtraInfo("peername") as Deno.Addr,
        err,
        "the protocol factory failed",
      );
      transport.abort();
      return;
    }
    this.#transports.add(transport);
    transport.start(protocol);
  }

  #cannotServe(peer: Deno.Addr, err: unknown, why: string): void {
    reportException({
      message: `Cannot serve a connection: ${why}`,
      exception: toError(err),
      peer: formatAddr(peer),
      server: this.#owner.name!,
    });
  }
}

/**
 * Makes a server from bound listeners and starts it unless told not to: the
 * body of `createServer` and its Unix twin, once bound.
 */
function serve(
  bound: Bound,
  protocolFactory: () => BaseProtocol,
  opts: ServerOptions,
  tls: TlsSide | undefined,
): Server {
  const server = makeServer({
    ...bound,
    protocolFactory,
    socketOptions: opts,
    tls,
    signal: opts.signal,
    limits: opts,
  });
  if (opts.signal?.aborted) server.close();
  else if (opts.startServing !== false) void server.startServing();
  return server;
}

/** Binds and starts a TCP (or TLS) server: the body of `createServer`. */
export async function listenTcp(
  protocolFactory: () => BaseProtocol,
  host: string | string[] | undefined,
  port: number,
  opts: ServerOptions,
): Promise<Server> {
  const tls = opts.tls ? await serverTlsSide(opts) : undefined;
  opts.signal?.throwIfAborted();
  return serve(bindTcp(host, port, opts), protocolFactory, opts, tls);
}

/** Binds and starts a Unix socket server: the body of `createUnixServer`. */
export async function listenUnix(
  protocolFactory: () => BaseProtocol,
  path: string,
  opts: UnixServerOptions,
): Promise<Server> {
  opts.signal?.throwIfAborted();
  const tls = opts.tls ? await serverTlsSide(opts) : undefined;
  return serve(await bindUnix(path), protocolFactory, opts, tls);
}
