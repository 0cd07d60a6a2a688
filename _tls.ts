// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Everything TLS, in two engines.
 *
 * **Deno's native TLS**, for connections that speak TLS from the start:
 * {@linkcode listenTls} binds a `Deno.listenTls` listener, whose accepted
 * connections finish their handshake in {@linkcode handshake};
 * {@linkcode startClientTls} runs `Deno.startTls` on a fresh plain
 * connection before anything reads from it (so that `TCP_NODELAY`, which a
 * `Deno.TlsConn` cannot set, is set first, and `serverHostname` may differ
 * from the address dialled). The `Deno.TlsConn` then runs on the one
 * `SocketTransport`, like any connection.
 *
 * **The `node:tls` engine over a transport**, for {@linkcode startTlsOn}
 * (`startTls`, on both sides): asyncio's `loop.start_tls` puts an
 * `SSLProtocol` (the TLS engine over memory buffers) between the socket
 * transport and the application protocol, and hands the application a new
 * transport that encrypts; this does the same with `node:tls` over an
 * in-memory duplex stream. `Deno.startTls` cannot do it: it takes the
 * connection's resource, which fails ("Busy") while a read is in flight and
 * loses the connection, and the socket transport always keeps a read in
 * flight, so that a quiet peer (a STARTTLS peer waiting for our ClientHello)
 * would never let it settle. Here the socket transport goes on reading and
 * feeds ciphertext to the engine.
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
  Transport,
} from "./_contract.ts";
import { abortable } from "./_signal.ts";
import {
  BaseTransport,
  closeQuietly,
  deliverData,
  isTls,
  SocketTransport,
  type TlsInfo,
} from "./_transport.ts";

// ---- Deno's native TLS -------------------------------------------------------

/** Binds a TLS listener (`base` holds the address and socket options). */
export function listenTls(
  base: Deno.TcpListenOptions,
  tls: TlsListenOptions,
): Deno.TlsListener {
  return Deno.listenTls({
    ...base,
    cert: tls.cert,
    key: tls.key,
    ...(tls.alpnProtocols ? { alpnProtocols: tls.alpnProtocols } : {}),
  });
}

/** Completes the TLS handshake on `conn`, closing it on failure. */
export async function handshake(conn: Deno.TlsConn): Promise<TlsInfo> {
  try {
    const info = await conn.handshake();
    return { alpnProtocol: info.alpnProtocol };
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
}

/**
 * Starts TLS on a fresh plain connection that nothing reads yet, checking
 * the certificate against `tls.serverHostname` (default `host`). `conn` is
 * closed on failure.
 */
export async function startClientTls(
  conn: Deno.TcpConn,
  host: string,
  tls: TlsConnectOptions,
): Promise<[Deno.TlsConn, TlsInfo]> {
  let tlsConn: Deno.TlsConn;
  try {
    tlsConn = await Deno.startTls(conn, {
      hostname: tls.serverHostname ?? host,
      ...(tls.caCerts !== undefined ? { caCerts: tls.caCerts } : {}),
      ...(tls.alpnProtocols !== undefined
        ? { alpnProtocols: tls.alpnProtocols }
        : {}),
    });
  } catch (err) {
    closeQuietly(conn); // unless startTls took it already
    throw err;
  }
  return [tlsConn, await handshake(tlsConn)];
}

// ---- The node:tls engine over a transport -------------------------------------

/** What the engine needs, checked: the options, the side, the name to check. */
type UpgradeOptions = StartTlsOptions & { serverSide: boolean };

/** The parts of `node:tls` and `node:stream` used, loaded on first use. */
interface Engine {
  tls: typeof import("node:tls");
  Duplex: typeof DuplexType;
}

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
  const opts: UpgradeOptions = checkStartTlsOptions(options, defaultServerSide);
  if (isTls(transport)) {
    throw new Error("Cannot startTls(): the connection already speaks TLS");
  }
  if (transport.isClosing()) {
    throw new Error("Cannot startTls(): the transport is closing");
  }
  if (!opts.serverSide) {
    const name = opts.serverHostname ?? defaultHostname(transport);
    if (name === undefined) {
      throw new TypeError(
        "options.serverHostname is required: the connection has no host name to check the certificate against",
      );
    }
    opts.serverHostname = name;
  }
  opts.signal?.throwIfAborted();
  return await upgradeTransport(transport, protocol, opts, onTransport);
}

/** The host name dialled, else the peer's address. */
function defaultHostname(transport: Transport): string | undefined {
  if (transport instanceof SocketTransport && transport.host !== undefined) {
    return transport.host;
  }
  const peer = transport.getExtraInfo("peername") as Deno.Addr | undefined;
  return peer?.transport === "tcp" ? peer.hostname : undefined;
}

/**
 * Puts TLS between `raw` and `protocol`: `raw`'s protocol becomes the TLS
 * engine's feed, and `protocol` talks to the returned transport. It resolves
 * when the handshake does; on failure the connection is closed and
 * `protocol` gets `connectionLost(err)`.
 */
async function upgradeTransport(
  raw: Transport,
  protocol: BaseProtocol,
  options: UpgradeOptions,
  onTransport?: (tls: Transport) => void,
): Promise<Transport> {
  // Hold the plaintext side still while the engine loads: nothing read from
  // now on may reach the application as plaintext.
  const wasReading = raw.isReading();
  raw.pauseReading();
  let engine: Engine;
  try {
    const [tls, stream] = await Promise.all([
      import("node:tls"),
      import("node:stream"),
    ]);
    engine = { tls, Duplex: stream.Duplex };
  } catch (err) {
    if (wasReading) raw.resumeReading();
    throw err;
  }
  if (raw.isClosing()) {
    throw new Deno.errors.ConnectionReset(
      "Cannot startTls(): the connection was closed",
    );
  }
  const transport = new TlsTransport(raw, protocol, options, engine);
  onTransport?.(transport);
  raw.resumeReading();
  await transport.handshake(options.signal);
  return transport;
}

/** The application's view of a TLS connection over another transport. */
class TlsTransport extends BaseTransport {
  #raw: Transport;
  #socket: TLSSocket;
  #duplex: DuplexType;
  #ready = Promise.withResolvers<void>();
  #secure = false;

  #appPaused = false;
  #feedPaused = false;
  #closing = false;
  #lost = false;
  #error: Error | null = null;

  constructor(
    raw: Transport,
    protocol: BaseProtocol,
    options: UpgradeOptions,
    { tls, Duplex }: Engine,
  ) {
    super(protocol, { alpnProtocol: null });
    this.#raw = raw;
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

    if (options.serverSide) {
      this.#socket = new tls.TLSSocket(this.#duplex, {
        isServer: true,
        cert: options.cert!,
        key: options.key!,
        ...(options.alpnProtocols
          ? { ALPNProtocols: options.alpnProtocols }
          : {}),
      });
      this.#socket.once("secure", () => this.#onSecure());
    } else {
      const name = options.serverHostname!;
      this.#socket = tls.connect({
        socket: this.#duplex,
        host: name,
        // SNI carries names only; an address is still checked.
        ...(isIpAddress(name) ? {} : { servername: name }),
        ...(options.caCerts ? { ca: options.caCerts } : {}),
        ...(options.alpnProtocols
          ? { ALPNProtocols: options.alpnProtocols }
          : {}),
      });
      this.#socket.once("secureConnect", () => this.#onSecure());
    }
    const socket = this.#socket;
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (err: unknown) => this.#fail(toError(err)));
    // The engine is done (close_notify sent, or destroyed): close the socket
    // transport after it has flushed.
    socket.on("close", () => this.#raw.close());
  }

  /** Waits for the handshake; `signal` aborts it (and the connection). */
  handshake(signal: AbortSignal | undefined): Promise<void> {
    return abortable(this.#ready.promise, signal, {
      onAbort: () => {
        const reason = signal!.reason instanceof Error
          ? signal!.reason
          : new DOMException("The TLS handshake was aborted", "AbortError");
        this.#fail(reason, "TLS handshake aborted");
      },
    });
  }

  #onSecure(): void {
    this.#secure = true;
    const alpn = this.#socket.alpnProtocol;
    this.setTls({ alpnProtocol: typeof alpn === "string" ? alpn : null });
    this.#ready.resolve();
  }

  // ---- From the engine to the application ---------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#lost || this.#closing) return;
    // A plain view: Buffer's own slice() would not copy.
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
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
  writingPaused(paused: boolean): void {
    if (this.#lost) return;
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

  /** Sends close_notify after the buffer, then closes the socket. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#secure) this.#socket.end();
    else this.#socket.destroy();
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
  getWriteBufferLimits(): [low: number, high: number] {
    return this.#raw.getWriteBufferLimits();
  }

  /** Sets the socket transport's watermarks. */
  setWriteBufferLimits(high?: number, low?: number): void {
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
    this.#tls.writingPaused(true);
  }

  resumeWriting(): void {
    this.#tls.writingPaused(false);
  }
}

function isIpAddress(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(":");
}
