// Copyright 2026 the @aio/net authors. MIT license.
/**
 * TLS over an existing transport: what `startTls` runs. asyncio's
 * `loop.start_tls` puts an `SSLProtocol` (the TLS engine over memory
 * buffers) between the socket transport and the application protocol, and
 * hands the application a new transport that encrypts; this does the same
 * with `node:tls` over an in-memory duplex stream.
 *
 * Why not `Deno.startTls`: it takes the connection's resource, which fails
 * ("Busy") while a read is in flight and loses the connection, and the
 * transport always keeps a read in flight, so that a quiet peer (a STARTTLS
 * peer waiting for our ClientHello) would never let it settle. Here the
 * socket transport goes on reading and simply feeds ciphertext to the engine.
 *
 * @module
 */
import type { Duplex as DuplexType } from "node:stream";
import type { TLSSocket } from "node:tls";
import { isConnectionError, logCallbackError, logger } from "./_log.ts";
import {
  type AnyProtocol,
  deliverData,
  LOST_WRITES_WARN,
  SocketTransport,
} from "./_transport.ts";
import {
  checkBoolean,
  checkByteList,
  checkBytes,
  checkOptions,
  checkProtocolObject,
  checkSignal,
  checkString,
  describe,
  toError,
} from "./_validate.ts";
import type { BaseProtocol, Transport } from "./protocol.ts";

/** What the TLS layer needs to know, validated. */
export interface UpgradeOptions {
  serverSide: boolean;
  /** Client side: the name the certificate must hold. */
  serverHostname?: string;
  caCerts?: string[];
  alpnProtocols?: string[];
  /** Server side. */
  cert?: string;
  key?: string;
}

/** The parts of `node:tls` and `node:stream` used, loaded on first use. */
interface Engine {
  tls: typeof import("node:tls");
  Duplex: typeof DuplexType;
}

/** Whether `transport` already speaks TLS. */
export function isTlsTransport(transport: Transport): boolean {
  return transport.getExtraInfo("alpnProtocol") !== undefined;
}

/**
 * Puts TLS between `raw` and `protocol`: `raw`'s protocol becomes the TLS
 * engine's feed, and `protocol` talks to the returned transport. `ready`
 * settles when the handshake does; on failure the connection is closed and
 * `protocol` gets `connectionLost(err)`.
 */
export async function upgradeTransport(
  raw: Transport,
  protocol: BaseProtocol,
  options: UpgradeOptions,
  signal: AbortSignal | undefined,
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
  await transport.handshake(signal);
  return transport;
}

/** The application's view of a TLS connection over another transport. */
class TlsTransport implements Transport {
  #raw: Transport;
  #protocol: AnyProtocol;
  #socket: TLSSocket;
  #duplex: DuplexType;
  #ready = Promise.withResolvers<void>();
  #secure = false;
  #alpn: string | null = null;

  #appPaused = false;
  #feedPaused = false;
  #eof = false;
  #closing = false;
  #lost = false;
  #error: Error | null = null;
  #lostWrites = 0;

  constructor(
    raw: Transport,
    protocol: BaseProtocol,
    options: UpgradeOptions,
    { tls, Duplex }: Engine,
  ) {
    this.#raw = raw;
    this.#protocol = protocol as AnyProtocol;
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
  async handshake(signal: AbortSignal | undefined): Promise<void> {
    if (!signal) return await this.#ready.promise;
    const onAbort = () => {
      const reason = signal.reason instanceof Error
        ? signal.reason
        : new DOMException("The TLS handshake was aborted", "AbortError");
      this.#fail(reason, "TLS handshake aborted");
    };
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      await this.#ready.promise;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #onSecure(): void {
    this.#secure = true;
    const alpn = this.#socket.alpnProtocol;
    this.#alpn = typeof alpn === "string" ? alpn : null;
    this.#ready.resolve();
  }

  // ---- From the engine to the application ---------------------------------

  #onData(chunk: Uint8Array): void {
    if (this.#lost || this.#closing) return;
    // A plain view: Buffer's own slice() would not copy.
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    try {
      deliverData(this.#protocol, data, true);
    } catch (err) {
      this.#fail(toError(err), "Exception in a data callback on TLS");
    }
  }

  #onEnd(): void {
    if (this.#lost || this.#closing) return;
    this.#eof = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      this.#fail(toError(err), "Exception in eofReceived()");
      return;
    }
    if (keepOpen) {
      logger.warning(
        "eofReceived() returned true, but TLS cannot half-close: closing",
      );
    }
    this.close();
  }

  // ---- From the socket transport -----------------------------------------

  /** @internal Ciphertext from the socket transport. */
  feed(data: Uint8Array): void {
    if (!this.#duplex.push(data)) this.#setFeedPaused(true);
  }

  /** @internal The peer closed its side of the socket. */
  feedEof(): void {
    this.#duplex.push(null);
  }

  /** @internal The socket transport is gone. */
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
    try {
      this.#protocol.connectionLost(err);
    } catch (e) {
      logger.error("Exception in connectionLost(): {error}", { error: e });
    }
  }

  /** @internal The socket transport's buffer crossed a watermark. */
  writingPaused(paused: boolean): void {
    if (this.#lost) return;
    try {
      if (paused) this.#protocol.pauseWriting();
      else this.#protocol.resumeWriting();
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
    if (this.#lost) {
      logCallbackError(exc, message);
      return;
    }
    if (this.#error) return;
    this.#error = exc;
    const peer = this.#raw.getExtraInfo("peername");
    if (!this.#secure) {
      logger.warning("TLS handshake failed (peer {peer}): {error}", {
        peer,
        error: exc,
      });
    } else if (isConnectionError(exc)) {
      logger.debug("{message} (peer {peer}): {error}", {
        message,
        peer,
        error: exc,
      });
    } else {
      logger.error("{message} (peer {peer}): {error}", {
        message,
        peer,
        error: exc,
      });
    }
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

  /** Encrypts and sends a copy of `data`. */
  write(data: Uint8Array): void {
    checkBytes(data, "data");
    if (this.#canWrite("write") && data.length > 0) {
      this.#socket.write(data.slice());
    }
  }

  /** Encrypts and sends the concatenation of `list`. */
  writelines(list: Iterable<Uint8Array>): void {
    const [parts, total] = checkByteList(list);
    if (!this.#canWrite("writelines") || total === 0) return;
    const joined = new Uint8Array(total);
    let off = 0;
    for (const part of parts) {
      joined.set(part, off);
      off += part.length;
    }
    this.#socket.write(joined);
  }

  #canWrite(what: string): boolean {
    if (!this.#closing) return true;
    if (++this.#lostWrites > LOST_WRITES_WARN) {
      logger.warning(
        "Dropped {count} {what} calls to a closed TLS transport (peer {peer})",
        {
          count: this.#lostWrites,
          what,
          peer: this.#raw.getExtraInfo("peername"),
        },
      );
    }
    return false;
  }

  /** Always throws: TLS cannot half-close. */
  writeEof(): void {
    throw new Error(
      "Cannot writeEof(): a TLS transport cannot half-close (canWriteEof() is false)",
    );
  }

  /** `false`: TLS cannot half-close. */
  canWriteEof(): boolean {
    return false;
  }

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
    return !this.#appPaused && !this.#closing && !this.#eof;
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

  /** Connection details: the socket transport's, and `"alpnProtocol"`. */
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    if (name === "alpnProtocol") return this.#alpn;
    return this.#raw.getExtraInfo(name, defaultValue);
  }

  /** The protocol the transport calls. */
  getProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /** Replaces the protocol. */
  setProtocol(protocol: BaseProtocol): void {
    checkProtocolObject(protocol, "protocol");
    this.#protocol = protocol as AnyProtocol;
  }

  /** Shows the state that matters. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#lost ? "closed" : this.#closing ? "closing" : "open";
    const parts = [state, this.#secure ? "tls" : "tls handshake"];
    const peer = this.#raw.getExtraInfo("peername");
    if (peer) parts.push(`peer=${JSON.stringify(peer)}`);
    if (this.#appPaused) parts.push("reading paused");
    if (this.#eof) parts.push("eof received");
    return `Transport { ${parts.join(", ")} }`;
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

/** Options of `startTls` (the public type lives in protocol.ts). */
export interface StartTlsInput {
  serverSide?: boolean;
  serverHostname?: string;
  caCerts?: string[];
  alpnProtocols?: string[];
  cert?: string;
  key?: string;
  signal?: AbortSignal;
}

/**
 * Checks everything, then upgrades: what `startTls` and
 * `StreamWriter.startTls` share. `onTransport` receives the TLS transport
 * before the handshake starts.
 */
export async function startTlsOn(
  transport: Transport,
  protocol: BaseProtocol,
  options: StartTlsInput | undefined,
  defaultServerSide: boolean,
  onTransport?: (tls: Transport) => void,
): Promise<Transport> {
  const opts = checkOptions(options);
  checkSignal(opts.signal);
  checkBoolean(opts.serverSide, "options.serverSide");
  const serverSide = opts.serverSide ?? defaultServerSide;
  if (isTlsTransport(transport)) {
    throw new Error("Cannot startTls(): the connection already speaks TLS");
  }
  if (transport.isClosing()) {
    throw new Error("Cannot startTls(): the transport is closing");
  }
  const upgrade: UpgradeOptions = { serverSide };
  if (opts.alpnProtocols !== undefined) {
    upgrade.alpnProtocols = checkStrings(
      opts.alpnProtocols,
      "options.alpnProtocols",
    );
  }
  if (serverSide) {
    checkString(opts.cert, "options.cert");
    checkString(opts.key, "options.key");
    upgrade.cert = opts.cert;
    upgrade.key = opts.key;
  } else {
    if (opts.caCerts !== undefined) {
      upgrade.caCerts = checkStrings(opts.caCerts, "options.caCerts");
    }
    if (opts.serverHostname !== undefined) {
      checkString(opts.serverHostname, "options.serverHostname");
    }
    const name = opts.serverHostname ?? defaultHostname(transport);
    if (name === undefined) {
      throw new TypeError(
        "options.serverHostname is required: the connection has no host name to check the certificate against",
      );
    }
    upgrade.serverHostname = name;
  }
  opts.signal?.throwIfAborted();
  return await upgradeTransport(
    transport,
    protocol,
    upgrade,
    opts.signal,
    onTransport,
  );
}

/** The host name dialled, else the peer's address. */
function defaultHostname(transport: Transport): string | undefined {
  if (transport instanceof SocketTransport && transport.host !== undefined) {
    return transport.host;
  }
  const peer = transport.getExtraInfo("peername") as Deno.Addr | undefined;
  return peer?.transport === "tcp" ? peer.hostname : undefined;
}

function checkStrings(value: unknown, name: string): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an array of strings, got ${describe(value)}`,
    );
  }
  value.forEach((item, i) => checkString(item, `${name}[${i}]`));
  return value as string[];
}
