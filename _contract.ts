// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The contract: what a protocol is, what a transport offers, and every
 * public options type. It is the ground floor and imports nothing; every
 * other module builds on it, and the public entry points re-export it.
 * Each options type has one checker in `_checks.ts`, used by every entry
 * point that takes it.
 *
 * @module
 */

/**
 * The base of every protocol: the callbacks a transport makes about the
 * connection as a whole.
 *
 * The transport calls them in this order, each exactly as often as shown:
 *
 * ```text
 * start -> connectionMade [-> dataReceived*] [-> eofReceived?] -> connectionLost -> end
 * ```
 *
 * `pauseWriting`/`resumeWriting` may come between `connectionMade` and
 * `connectionLost`, always in pairs: `pauseWriting` when the transport's write
 * buffer rises above the high watermark, `resumeWriting` when it has fallen to
 * the low watermark. Each is called once per crossing.
 *
 * A callback that throws is logged; the transport is then aborted and
 * `connectionLost` receives the error. Nothing is called after
 * `connectionLost`.
 *
 * @example A protocol that counts the bytes it received
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BaseProtocol, Protocol } from "@aio/net/protocol";
 *
 * class Counter extends Protocol {
 *   received = 0;
 *   override dataReceived(data: Uint8Array): void {
 *     this.received += data.length;
 *   }
 * }
 * const counter = new Counter();
 * counter.dataReceived(new Uint8Array(3));
 * assertEquals(counter.received, 3);
 * assertEquals(counter instanceof BaseProtocol, true);
 * ```
 */
export class BaseProtocol {
  /**
   * Called once when the connection is made, before any other callback.
   *
   * @param transport The transport of the new connection; keep it to write.
   */
  connectionMade(transport: Transport): void {
    void transport;
  }

  /**
   * Called once when the connection is lost or closed, after every other
   * callback.
   *
   * @param exc `null` for a clean close (`close()`, `abort()`, the peer's
   * EOF), otherwise the error that ended the connection, such as
   * `Deno.errors.ConnectionReset` or an error thrown by another callback.
   */
  connectionLost(exc: Error | null): void {
    void exc;
  }

  /** Called when the transport's write buffer rises above the high watermark. */
  pauseWriting(): void {}

  /** Called when the transport's write buffer has fallen to the low watermark. */
  resumeWriting(): void {}
}

/**
 * A protocol that receives data as new `Uint8Array`s.
 *
 * The `data` passed to `dataReceived` belongs to the protocol: the transport
 * never reuses or changes it, so it may be kept without copying.
 *
 * @example Upper-casing echo
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Protocol, type Transport } from "@aio/net/protocol";
 *
 * class Upper extends Protocol {
 *   #transport?: Transport;
 *   override connectionMade(transport: Transport): void {
 *     this.#transport = transport;
 *   }
 *   override dataReceived(data: Uint8Array): void {
 *     const text = new TextDecoder().decode(data).toUpperCase();
 *     this.#transport!.write(new TextEncoder().encode(text));
 *   }
 *   override eofReceived(): boolean {
 *     return false; // close when the peer is done
 *   }
 * }
 * assertEquals(new Upper().eofReceived(), false);
 * ```
 */
export class Protocol extends BaseProtocol {
  /**
   * Called with each piece of data received, in order. How the byte stream
   * is split into pieces is up to the network: one `write` by the peer may
   * arrive as several pieces, and several as one.
   *
   * @param data The bytes received; the protocol's to keep.
   */
  dataReceived(data: Uint8Array): void {
    void data;
  }

  /**
   * Called once when the peer has finished sending (it half-closed or closed
   * the connection).
   *
   * @returns A truthy value keeps the connection open for writing (a
   * half-close: the protocol closes it later); anything else closes the
   * transport, which flushes what is buffered first.
   */
  eofReceived(): boolean | void {}
}

/**
 * A protocol that receives data straight into a buffer it provides: the
 * transport reads from the socket into the buffer `getBuffer` returns, then
 * calls `bufferUpdated` with the number of bytes written there. No copy is
 * made.
 *
 * @example Echo without copying on receive
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BufferedProtocol, createConnection, createServer, Protocol, type Transport } from "@aio/net/protocol";
 *
 * class BufferedEcho extends BufferedProtocol {
 *   #transport?: Transport;
 *   #buffer = new Uint8Array(65536);
 *   override connectionMade(transport: Transport): void {
 *     this.#transport = transport;
 *   }
 *   override getBuffer(_sizehint: number): Uint8Array {
 *     return this.#buffer;
 *   }
 *   override bufferUpdated(nbytes: number): void {
 *     this.#transport!.write(this.#buffer.subarray(0, nbytes)); // write() copies
 *   }
 * }
 *
 * class Client extends Protocol {
 *   readonly reply = Promise.withResolvers<Uint8Array>();
 *   override dataReceived(data: Uint8Array): void {
 *     this.reply.resolve(data);
 *   }
 * }
 *
 * await using server = await createServer(() => new BufferedEcho(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * transport.write(new Uint8Array([1, 2, 3]));
 * assertEquals(await client.reply.promise, new Uint8Array([1, 2, 3]));
 * transport.close();
 * ```
 */
export abstract class BufferedProtocol extends BaseProtocol {
  /**
   * Called before each read to get the buffer to read into.
   *
   * @param sizehint `-1` for a read from the socket, whose size is not known
   * yet (what CPython's selector event loop passes); otherwise the number of
   * bytes waiting to be delivered, when they are already in memory (bytes
   * decrypted by TLS, or a read in flight when `setProtocol` switched to
   * this protocol). A smaller buffer is fine: the rest comes in later
   * calls.
   * @returns A non-empty buffer; it is written to by the read that follows.
   */
  abstract getBuffer(sizehint: number): Uint8Array;

  /**
   * Called after a read with the number of bytes written at the start of the
   * buffer `getBuffer` returned.
   *
   * @param nbytes How many bytes were read (at least 1).
   */
  abstract bufferUpdated(nbytes: number): void;

  /**
   * Called once when the peer has finished sending.
   *
   * @returns A truthy value keeps the connection open for writing; anything
   * else closes the transport.
   */
  eofReceived(): boolean | void {}
}

/**
 * A bidirectional byte stream: what a protocol writes to and controls.
 *
 * Writes never block and never throw for a closed peer; flow control is by
 * watermarks on the write buffer, signalled to the protocol with
 * `pauseWriting`/`resumeWriting`.
 */
export interface Transport {
  /**
   * Queues `data` to be sent. The bytes are copied: the caller may reuse
   * `data` at once. Once the transport is closing (after `close()`, `abort()`
   * or the loss of the connection), writes are dropped, with a warning
   * logged for the sixth dropped write and every one after it.
   *
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {Error} If `writeEof()` was already called.
   */
  write(data: Uint8Array): void;
  /**
   * Queues every buffer of `list`, as one `write` of their concatenation.
   *
   * @throws {TypeError} If `list` is not iterable or holds anything but `Uint8Array`s.
   * @throws {Error} If `writeEof()` was already called.
   */
  writelines(list: Iterable<Uint8Array>): void;
  /**
   * Half-closes: sends EOF once the write buffer is flushed. Reading goes on.
   *
   * @throws {Error} On TLS, which cannot half-close (see `canWriteEof()`).
   */
  writeEof(): void;
  /** Whether `writeEof()` is supported: `true` for TCP and Unix sockets, `false` for TLS. */
  canWriteEof(): boolean;
  /**
   * Closes the transport after flushing the write buffer. Reading stops at
   * once; `connectionLost(null)` follows. Idempotent.
   */
  close(): void;
  /** Closes at once, dropping the write buffer; `connectionLost(null)` follows. Idempotent. */
  abort(): void;
  /** Whether the transport is closing or closed. */
  isClosing(): boolean;
  /**
   * Stops delivering data until `resumeReading()`. Nothing is lost or
   * reordered, including a read already in flight.
   */
  pauseReading(): void;
  /** Resumes delivering data after `pauseReading()`. */
  resumeReading(): void;
  /** Whether the transport is delivering data (not paused, closing, or past EOF). */
  isReading(): boolean;
  /** Bytes queued and not yet accepted by the operating system. */
  getWriteBufferSize(): number;
  /** The watermarks as `[low, high]`; default `[16384, 65536]`. */
  getWriteBufferLimits(): [low: number, high: number];
  /**
   * Sets the watermarks. `pauseWriting` is called when the buffer rises above
   * `high`, `resumeWriting` when it has fallen to `low`. Defaults as asyncio:
   * `high` is 64 KiB (or `4 * low`), `low` is `high / 4`.
   *
   * @throws {RangeError} Unless `high >= low >= 0`.
   */
  setWriteBufferLimits(high?: number, low?: number): void;
  /**
   * Information about the connection: `"peername"` (the remote `Deno.Addr`),
   * `"sockname"` (the local `Deno.Addr`), `"socket"` (the `Deno.Conn`), and on
   * TLS `"alpnProtocol"` (the negotiated protocol), `"tlsVersion"` (such as
   * `"TLSv1.3"`), `"cipher"` (`{ name, version }`) and `"peerCertificate"`
   * (the peer's certificate as `node:tls` describes it: `subject`,
   * `subjectaltname`, `valid_to`, `fingerprint256`, `raw`, …), each `null`
   * where it is not known (no ALPN agreed, no certificate sent, or a
   * `Deno.TlsConn` made elsewhere, whose handshake tells only the ALPN).
   *
   * @returns The value, or `defaultValue` for an unknown name.
   */
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
  /** The protocol the transport calls. */
  getProtocol(): BaseProtocol;
  /** Replaces the protocol the transport calls from now on. */
  setProtocol(protocol: BaseProtocol): void;
}

/** Options of a TLS client connection. */
export interface TlsConnectOptions {
  /**
   * The name the server's certificate is checked against (and sent as SNI).
   *
   * @default {host}
   */
  serverHostname?: string;
  /**
   * PEM certificates of CAs to trust besides the system's.
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * ALPN protocols to offer, most preferred first.
   *
   * @default {undefined}
   */
  alpnProtocols?: string[];
}

/** Options of a TLS server. */
export interface TlsListenOptions {
  /** The server's certificate chain, PEM. */
  cert: string;
  /** The server's private key, PEM. */
  key: string;
  /**
   * ALPN protocols to accept, most preferred first.
   *
   * @default {undefined}
   */
  alpnProtocols?: string[];
}

/**
 * How long TLS may take to start and to end: asyncio's
 * `ssl_handshake_timeout` and `ssl_shutdown_timeout`, in milliseconds. A
 * silent peer can never hold a connection, or its file descriptor, forever.
 */
export interface TlsTimeoutOptions {
  /**
   * How long the TLS handshake may take, in milliseconds. A handshake that
   * takes longer fails like any other failed handshake, with
   * `Deno.errors.TimedOut`: a connect or `startTls` rejects; a server logs it
   * and drops only that connection. Only meaningful with TLS.
   *
   * @default {60000}
   */
  tlsHandshakeTimeout?: number;
  /**
   * How long closing a TLS connection may wait for the peer's close_notify,
   * in milliseconds; then the connection is aborted and `connectionLost`
   * gets `Deno.errors.TimedOut`. Only meaningful with TLS.
   *
   * @default {30000}
   */
  tlsShutdownTimeout?: number;
}

/**
 * Options of `startTls` and `StreamWriter.startTls`: the client's
 * {@linkcode TlsConnectOptions}, or on the server's side `cert` and `key`.
 */
export interface StartTlsOptions extends TlsConnectOptions, TlsTimeoutOptions {
  /**
   * Take the server's side of the handshake; `cert` and `key` are then
   * required. `StreamWriter.startTls` defaults to the side the connection
   * was made on (a `startServer` connection is the server's side).
   *
   * @default {false}
   */
  serverSide?: boolean;
  /**
   * The server's certificate chain, PEM (server side only).
   *
   * @default {undefined}
   */
  cert?: string;
  /**
   * The server's private key, PEM (server side only).
   *
   * @default {undefined}
   */
  key?: string;
  /**
   * Aborts the handshake: the connection is closed and the call rejects
   * with `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * How a TCP connection's socket is set up (ignored on Unix sockets and on a
 * `Deno.TlsConn` made elsewhere, which cannot set them).
 */
export interface SocketOptions {
  /**
   * Sets `TCP_NODELAY` (Nagle's algorithm off), as asyncio does on every
   * TCP socket, TLS ones included.
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Sets `SO_KEEPALIVE`, so that a peer that vanished without a word is
   * found out in the end (asyncio's `keep_alive`, 3.13).
   *
   * @default {false}
   */
  keepAlive?: boolean;
}

/** Options of `createConnection` and `openConnection` to a host and port. */
export interface ConnectOptions extends SocketOptions, TlsTimeoutOptions {
  /**
   * Aborts a pending connect (and TLS handshake): the returned promise
   * rejects with `signal.reason`. It has no effect once the connection is
   * made.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Speak TLS from the start: the TLS engine (`node:tls`) runs its handshake
   * over the new TCP connection, and `connectionMade` comes after it.
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions;
}

/**
 * Options of `createConnection` and `openConnection` over a connection made
 * elsewhere (asyncio's `create_connection(sock=…)`): the client's side.
 */
export interface SocketConnectOptions extends SocketOptions, TlsTimeoutOptions {
  /** The connection to run on: a `Deno.TcpConn`, `Deno.UnixConn` or `Deno.TlsConn`. */
  conn: Deno.Conn;
  /**
   * Aborts the TLS handshake, if there is one.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Start TLS, the client's side, over a plain `conn` (not a `Deno.TlsConn`).
   * `serverHostname` defaults to the peer's address.
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions;
}

/**
 * Options of `connectAcceptedSocket` and `openAcceptedConnection`: a
 * connection accepted elsewhere, the server's side.
 */
export interface AcceptedSocketOptions
  extends SocketOptions, TlsTimeoutOptions {
  /**
   * Aborts the TLS handshake, if there is one.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Start TLS, the server's side, over a plain `conn` (not a `Deno.TlsConn`).
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/** Options of `createServer` and `startServer`. */
export interface ServerOptions extends SocketOptions, TlsTimeoutOptions {
  /**
   * The listen queue length (`tcpBacklog` in Deno).
   *
   * @default {511}
   */
  backlog?: number;
  /**
   * Sets `SO_REUSEPORT` on the listeners (Linux). Deno 2.9 allows it only
   * with its `--unstable-net` flag (and ends the process otherwise), so
   * without the flag this fails with `Deno.errors.NotSupported` instead.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Start accepting at once. With `false`, call `startServing()` or
   * `serveForever()` later.
   *
   * @default {true}
   */
  startServing?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Accept TLS: connections are accepted as plain TCP and the TLS engine
   * (`node:tls`) runs the server's side of the handshake over each; the
   * protocol is made after it.
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/** Options of the streams API. */
export interface StreamOptions {
  /**
   * The reader's buffer limit in bytes: `readline`/`readuntil` fail beyond
   * it, and the transport stops reading while the reader holds more than
   * twice this much.
   *
   * @default {65536}
   */
  limit?: number;
}

/** Options of a `StreamReader` made directly: the same `limit` as {@linkcode StreamOptions}. */
export type StreamReaderOptions = StreamOptions;

/** Options of a wait that can be cancelled. */
export interface WaitOptions {
  /**
   * Aborts the wait: the call rejects with `signal.reason`. A reader's
   * buffered bytes stay readable.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of a read: the same `signal` as {@linkcode WaitOptions}. */
export type ReadOptions = WaitOptions;

/** Options of `createUnixServer` and `startUnixServer`. */
export interface UnixServerOptions {
  /**
   * The listen queue length. Deno does not expose it for Unix sockets, so it
   * is checked but not applied (the system default is used).
   *
   * @default {undefined}
   */
  backlog?: number;
  /**
   * Start accepting at once. With `false`, call `startServing()` or
   * `serveForever()` later.
   *
   * @default {true}
   */
  startServing?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of `createUnixConnection` and `openUnixConnection`. */
export interface UnixConnectOptions {
  /**
   * Aborts a pending connect: the promise rejects with `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}
