// Copyright 2026 the @aio/net authors. MIT license.
/**
 * All of TLS: a TLS engine (`node:tls`, loaded on first use) running over a
 * plain {@linkcode SocketTransport}, as asyncio's `SSLProtocol` runs over
 * memory buffers. The socket transport reads and writes ciphertext; the
 * application gets a {@linkcode TlsTransport} that encrypts. The same
 * engine serves every TLS connection: a TLS server's (accepted as plain TCP),
 * a TLS client's (dialled as plain TCP), and `startTls` on either side of a
 * connection that began in plaintext.
 *
 * Why not Deno's native TLS (`Deno.listenTls`, `Deno.connectTls`,
 * `Deno.startTls`), measured in Deno 2.9.6:
 * - A `Deno.TlsConn` closed while its handshake is pending keeps its TCP
 *   socket open (`ss` shows it established) until the peer sends something:
 *   a client that never sends a ClientHello, or a server that never answers
 *   one, would hold the descriptor forever, whatever timeout we set.
 * - A `Deno.TlsConn` cannot set `TCP_NODELAY`, so an accepted connection
 *   whose reply spans more than one TLS record waits for the peer's delayed
 *   ACK (~40 ms) at every turn. A plain `Deno.TcpConn` can.
 * - `Deno.startTls` takes the connection's resource, which fails ("Busy")
 *   while a read is in flight and loses the connection; the socket
 *   transport always keeps a read in flight. And Deno has no server-side
 *   `startTls`.
 *
 * A `Deno.TlsConn` made elsewhere still runs on the socket transport as any
 * connection does (its TLS is then Deno's).
 *
 * @module
 */
import type { Duplex as DuplexType } from "node:stream";
import type { TLSSocket } from "node:tls";
import { checkStartTlsOptions, toError } from "./_checks.ts";
import type {
  BaseProtocol,
  StartTlsOptions,
  TlsConnectOptions,
  TlsListenOptions,
  TlsTimeoutOptions,
  Transport,
} from "./_contract.ts";
import { abortable, withTimeout } from "./_signal.ts";
import {
  deliverData,
  isTls,
  SocketTransport,
  StreamTransport,
  type TlsInfo,
  type TransportOwner,
  unknownTls,
} from "./_transport.ts";

/** asyncio's `ssl_handshake_timeout` default: 60 s. */
export const TLS_HANDSHAKE_TIMEOUT = 60_000;
/** asyncio's `ssl_shutdown_timeout` default: 30 s. */
const TLS_SHUTDOWN_TIMEOUT = 30_000;

/** One side of a TLS session, checked: what the engine is given. */
export type TlsSide =
  & TlsTimeoutOptions
  & (
    | ({ serverSide: false; serverHostname: string } & TlsConnectOptions)
    | ({ serverSide: true } & TlsListenOptions)
  );

// ---- The engine --------------------------------------------------------------

/** The parts of `node:tls` and `node:stream` used. */
interface Engine {
  tls: typeof import("node:tls");
  Duplex: typeof DuplexType;
}

let engine: Engine | undefined;
let loading: Promise<Engine> | undefined;

/**
 * Loads the TLS engine (once; later calls resolve at once). Every path that
 * makes a {@linkcode TlsTransport} awaits it first.
 */
export function loadTlsEngine(): Promise<Engine> {
  if (engine) return Promise.resolve(engine);
  loading ??= Promise.all([import("node:tls"), import("node:stream")]).then(
    ([tls, stream]) => (engine = { tls, Duplex: stream.Duplex }),
    (err) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

/**
 * Runs TLS over a fresh connection: a socket transport reading `conn`, and
 * the TLS transport over it, whose handshake starts at once. Nothing reaches
 * the application before `start(protocol)`. The engine must be loaded.
 */
export function openTls(
  conn: Deno.Conn,
  side: TlsSide,
  owner?: TransportOwner,
): TlsTransport {
  const raw = new SocketTransport(conn, null);
  const transport = new TlsTransport(raw, null, side, owner);
  raw.start(raw.getProtocol()); // the engine's feed, set by TlsTransport
  return transport;
}

// ---- startTls ----------------------------------------------------------------

/**
 * Checks everything, then upgrades: what `startTls` and
 * `StreamWriter.startTls` share. `onTransport` receives the TLS transport
 * before the handshake starts.
 *
 * @param defaultServerSide The side when `options.serverSide` is not given.
 * @returns The TLS transport, once the handshake is done.
 */
export async function startTlsOn(
  transport: Transport,
  protocol: BaseProtocol,
  options: StartTlsOptions | undefined,
  defaultServerSide: boolean,
  onTransport?: (tls: Transport) => void,
): Promise<Transport> {
  const opts = checkStartTlsOptions(options, defaultServerSide);
  if (isTls(transport)) {
    throw new Error("Cannot startTls(): the connection already speaks TLS");
  }
  if (transport.isClosing()) {
    throw new Error("Cannot startTls(): the transport is closing");
  }
  let side: TlsSide;
  if (opts.serverSide) {
    side = { ...opts, serverSide: true, cert: opts.cert!, key: opts.key! };
  } else {
    const name = opts.serverHostname ?? defaultHostname(transport);
    if (name === undefined) {
      throw new TypeError(
        "options.serverHostname is required: the connection has no host name to check the certificate against",
      );
    }
    side = { ...opts, serverSide: false, serverHostname: name };
  }
  opts.signal?.throwIfAborted();
  // Hold the plaintext side still while the engine loads: nothing read from
  // now on may reach the application as plaintext.
  const wasReading = transport.isReading();
  transport.pauseReading();
  try {
    await loadTlsEngine();
  } catch (err) {
    if (wasReading) transport.resumeReading();
    throw err;
  }
  if (transport.isClosing()) {
    throw new Deno.errors.ConnectionReset(
      "Cannot startTls(): the connection was closed",
    );
  }
  const tls = new TlsTransport(transport, protocol, side);
  onTransport?.(tls);
  transport.resumeReading();
  await tls.handshake(opts.signal);
  return tls;
}

/** The host name dialled, else the peer's address. */
function defaultHostname(transport: Transport): string | undefined {
  if (transport instanceof SocketTransport && transport.host !== undefined) {
    return transport.host;
  }
  const peer = transport.getExtraInfo("peername") as Deno.Addr | undefined;
  return peer?.transport === "tcp" ? peer.hostname : undefined;
}

// ---- The TLS transport ---------------------------------------------------------

/** The application's view of a TLS connection over another transport. */
export class TlsTransport extends StreamTransport {
  #raw: Transport;
  #socket: TLSSocket;
  #duplex: DuplexType;
  #ready = Promise.withResolvers<void>();
  #secure = false;
  #handshakeTimeout: number;
  #shutdownTimeout: number;
  #shutdownTimer: ReturnType<typeof setTimeout> | undefined;

  #started: boolean;
  /** Plaintext that arrived before `start` gave this transport its protocol. */
  #early: Uint8Array[] = [];
  #appPaused = false;
  #feedPaused = false;
  #closing = false;
  #lost = false;
  #error: Error | null = null;

  /**
   * @param raw The transport that carries the ciphertext.
   * @param protocol The application's protocol; `null` when it is made
   * after the handshake and given to `start` (for a new connection).
   * @param side Which side, with its certificates and timeouts.
   * @param owner The server that accepted the connection, if any.
   */
  constructor(
    raw: Transport,
    protocol: BaseProtocol | null,
    side: TlsSide,
    owner?: TransportOwner,
  ) {
    super(protocol, unknownTls(), owner);
    const { tls, Duplex } = engine!;
    this.#raw = raw;
    this.#started = protocol !== null;
    this.#handshakeTimeout = side.tlsHandshakeTimeout ?? TLS_HANDSHAKE_TIMEOUT;
    this.#shutdownTimeout = side.tlsShutdownTimeout ?? TLS_SHUTDOWN_TIMEOUT;
    this.#ready.promise.catch(() => {});

    // Ciphertext out: straight into the socket transport, whose watermarks
    // are this transport's (see getWriteBufferSize).
    this.#duplex = new Duplex({
      read: () => this.#setFeedPaused(false),
      write: (chunk: Uint8Array, _encoding, callback) => {
        if (!raw.isClosing()) raw.write(chunk);
        callback();
      },
    });
    // Ciphertext in: the socket transport now feeds the engine.
    raw.setProtocol(new TlsFeed(this));

    const alpn = side.alpnProtocols
      ? { ALPNProtocols: side.alpnProtocols }
      : {};
    if (side.serverSide) {
      this.#socket = new tls.TLSSocket(this.#duplex, {
        isServer: true,
        cert: side.cert,
        key: side.key,
        ...alpn,
      });
      this.#socket.once("secure", () => this.#onSecure());
    } else {
      const name = side.serverHostname;
      this.#socket = tls.connect({
        socket: this.#duplex,
        host: name,
        // SNI carries names only; an address is still checked.
        ...(isIpAddress(name) ? {} : { servername: name }),
        ...(side.caCerts ? { ca: side.caCerts } : {}),
        ...alpn,
      });
      this.#socket.once("secureConnect", () => this.#onSecure());
    }
    const socket = this.#socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (err: unknown) => {
      // Once the connection is lost, the engine's own errors (a reset seen
      // while it was being torn down) say nothing new.
      if (!this.#lost) this.#fail(toError(err));
    });
    // The engine is done (close_notify exchanged, or destroyed): close the
    // socket transport after it has flushed.
    socket.on("close", () => this.#raw.close());
  }

  /**
   * Waits for the handshake; `signal` aborts it, and so does the handshake
   * timeout (and the connection with them). A failure is logged as a
   * warning and closes the connection.
   */
  handshake(signal?: AbortSignal): Promise<void> {
    const ready = abortable(this.#ready.promise, signal, {
      onAbort: () => {
        const reason = signal!.reason instanceof Error
          ? signal!.reason
          : new DOMException("The TLS handshake was aborted", "AbortError");
        this.#fail(reason, "TLS handshake aborted");
      },
    });
    return withTimeout(
      ready,
      this.#handshakeTimeout,
      "TLS handshake",
      (err) => this.#fail(err, "TLS handshake timed out"),
    );
  }

  #onSecure(): void {
    this.#secure = true;
    const socket = this.#socket;
    const alpn = socket.alpnProtocol;
    const cipher = socket.getCipher?.();
    const peer = socket.getPeerCertificate?.();
    const info: TlsInfo = {
      alpnProtocol: typeof alpn === "string" ? alpn : null,
      tlsVersion: socket.getProtocol?.() ?? null,
      cipher: cipher ? { name: cipher.name, version: cipher.version } : null,
      peerCertificate: peer && Object.keys(peer).length > 0
        ? peer as unknown as Record<string, unknown>
        : null,
    };
    this.setTls(info);
    this.#ready.resolve();
  }

  protected startReading(): void {
    this.#started = true;
    const early = this.#early;
    this.#early = [];
    for (const data of early) this.#deliver(data);
  }

  // ---- From the engine to the application ---------------------------------

  #onData(chunk: Uint8Array): void {
    // A plain view: Buffer's own slice() would not copy.
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    // A new connection's first bytes may come with the end of the
    // handshake, before its protocol is made.
    if (this.#started) this.#deliver(data);
    else this.#early.push(data);
  }

  #deliver(data: Uint8Array): void {
    if (this.#lost || this.#closing) return;
    try {
      deliverData(this.protocol, data, true);
    } catch (err) {
      this.#fail(toError(err), "Exception in a data callback on TLS");
    }
  }

  #onEnd(): void {
    if (this.#lost || this.#closing) return;
    const exc = this.handleEof();
    if (exc) this.#fail(exc, "Exception in eofReceived()");
  }

  // ---- From the socket transport -----------------------------------------

  /** Ciphertext from the socket transport. */
  feed(data: Uint8Array): void {
    if (!this.#duplex.push(data)) this.#setFeedPaused(true);
  }

  /** The peer closed its side of the socket. */
  feedEof(): void {
    this.#duplex.push(null);
  }

  /** The socket transport is gone. */
  rawLost(exc: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#closing = true;
    clearTimeout(this.#shutdownTimer);
    this.#socket.destroy();
    const err = this.#error ?? exc;
    if (!this.#secure) {
      this.#ready.reject(
        err ??
          new Deno.errors.ConnectionReset(
            "The connection was closed during the TLS handshake",
          ),
      );
    }
    this.callConnectionLost(err);
  }

  /** The socket transport's buffer crossed a watermark. */
  rawWritingPaused(paused: boolean): void {
    if (this.#lost || !this.#started) return;
    try {
      if (paused) this.protocol.pauseWriting();
      else this.protocol.resumeWriting();
    } catch (err) {
      this.#fail(
        toError(err),
        paused ? "Exception in pauseWriting()" : "Exception in resumeWriting()",
      );
    }
  }

  // ---- Failure -------------------------------------------------------------

  protected fatalError(exc: Error, message: string): void {
    this.#fail(exc, message);
  }

  /** Records the first error and closes at once; `connectionLost(err)` follows. */
  #fail(exc: Error, message = "Fatal error on TLS transport"): void {
    if (!this.#lost && this.#error) return; // already failing
    this.reportError(
      exc,
      message,
      this.#lost ? "lost" : this.#secure ? "open" : "handshake",
    );
    if (this.#lost) return;
    this.#error = exc;
    if (!this.#secure) this.#ready.reject(exc);
    this.#closing = true;
    this.#socket.destroy();
    this.#raw.abort();
  }

  #setFeedPaused(paused: boolean): void {
    if (this.#feedPaused === paused) return;
    this.#feedPaused = paused;
    this.#syncRawReading();
  }

  #syncRawReading(): void {
    if (this.#feedPaused || this.#appPaused) this.#raw.pauseReading();
    else this.#raw.resumeReading();
  }

  // ---- Transport -------------------------------------------------------------

  /** Encrypts and sends a copy of the concatenation of `parts`. */
  protected send(parts: readonly Uint8Array[], total: number): void {
    if (parts.length === 1) {
      this.#socket.write(parts[0]!.slice());
      return;
    }
    const joined = new Uint8Array(total);
    let off = 0;
    for (const part of parts) {
      joined.set(part, off);
      off += part.length;
    }
    this.#socket.write(joined);
  }

  /** Never called: `writeEof()` refuses on TLS. */
  protected shutdownWrite(): void {}

  /**
   * Sends close_notify after the buffer, then closes the socket once the
   * peer answers with its own, or once the shutdown timeout has passed.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (!this.#secure) {
      this.#socket.destroy();
      return;
    }
    // Read again, even if the application had paused reading: the peer's
    // close_notify must get through (nothing reaches the protocol now).
    this.#appPaused = false;
    this.#socket.resume();
    this.#syncRawReading();
    this.#socket.end();
    this.#shutdownTimer = setTimeout(() => {
      this.#fail(
        new Deno.errors.TimedOut(
          `TLS shutdown took longer than ${this.#shutdownTimeout} ms`,
        ),
        "TLS shutdown timed out",
      );
    }, this.#shutdownTimeout);
  }

  /** Closes at once, dropping the buffer. */
  abort(): void {
    if (this.#lost) return;
    this.#closing = true;
    this.#socket.destroy();
    this.#raw.abort();
  }

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** Stops delivering data. */
  pauseReading(): void {
    if (this.#closing || this.#appPaused) return;
    this.#appPaused = true;
    this.#socket.pause();
    this.#syncRawReading();
  }

  /** Resumes delivering data. */
  resumeReading(): void {
    if (this.#closing || !this.#appPaused) return;
    this.#appPaused = false;
    this.#socket.resume();
    this.#syncRawReading();
  }

  /** Whether data is being delivered. */
  isReading(): boolean {
    return !this.#appPaused && !this.#closing && !this.eofReceived;
  }

  /** Plaintext not yet encrypted plus ciphertext not yet sent. */
  getWriteBufferSize(): number {
    return this.#socket.writableLength + this.#raw.getWriteBufferSize();
  }

  /** The socket transport's watermarks, which govern this one. */
  override getWriteBufferLimits(): [low: number, high: number] {
    return this.#raw.getWriteBufferLimits();
  }

  /** Sets the socket transport's watermarks. */
  override setWriteBufferLimits(high?: number, low?: number): void {
    this.#raw.setWriteBufferLimits(high, low);
  }

  protected state(): string {
    if (this.#lost) return "closed";
    if (this.#closing) return "closing";
    return this.#secure ? "open" : "handshaking";
  }

  protected socketInfo(name: string, defaultValue: unknown): unknown {
    return this.#raw.getExtraInfo(name, defaultValue);
  }
}

/** The protocol the socket transport calls once TLS is on top of it. */
class TlsFeed {
  #tls: TlsTransport;

  constructor(tls: TlsTransport) {
    this.#tls = tls;
  }

  connectionMade(): void {}

  dataReceived(data: Uint8Array): void {
    this.#tls.feed(data);
  }

  eofReceived(): boolean {
    this.#tls.feedEof();
    return true; // the engine decides when to close
  }

  connectionLost(exc: Error | null): void {
    this.#tls.rawLost(exc);
  }

  pauseWriting(): void {
    this.#tls.rawWritingPaused(true);
  }

  resumeWriting(): void {
    this.#tls.rawWritingPaused(false);
  }
}

function isIpAddress(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(":");
}
