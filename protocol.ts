// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Transports and protocols: asyncio's callback API (`loop.create_server`,
 * `loop.create_connection`, `asyncio.Protocol`) over Deno's TCP sockets.
 *
 * A protocol is an object whose methods the transport calls as things happen
 * on the connection; the transport is what the protocol calls to write, close
 * and control flow.
 *
 * @example Echo server and client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol, type Transport } from "@aio/net/protocol";
 *
 * class Echo extends Protocol {
 *   #transport?: Transport;
 *   override connectionMade(transport: Transport): void {
 *     this.#transport = transport;
 *   }
 *   override dataReceived(data: Uint8Array): void {
 *     this.#transport!.write(data);
 *   }
 * }
 *
 * class Client extends Protocol {
 *   readonly reply = Promise.withResolvers<string>();
 *   override dataReceived(data: Uint8Array): void {
 *     this.reply.resolve(new TextDecoder().decode(data));
 *   }
 * }
 *
 * await using server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * transport.write(new TextEncoder().encode("hello"));
 * assertEquals(await client.reply.promise, "hello");
 * transport.close();
 * ```
 *
 * @module
 */
import {
  type Dialled,
  handshake,
  openTransport,
  tlsClientOptions,
} from "./_connect.ts";
import { listenTcp, Server } from "./_server.ts";
import { startTlsOn } from "./_tls_layer.ts";
import {
  checkConnectOptions,
  checkFunction,
  checkPort,
  checkProtocolObject,
  checkServerOptions,
  checkString,
  describe,
} from "./_validate.ts";

export { Server };

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
   * @param sizehint The size the transport would like, or `-1` for any size
   * (what CPython's event loop passes, and what this transport passes).
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
   * `data` at once. After the connection is lost, writes are dropped (with a
   * warning logged from the fifth on).
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
   * TLS `"alpnProtocol"` (the negotiated protocol or `null`).
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
 * Options of {@linkcode startTls} and `StreamWriter.startTls`: the client's
 * {@linkcode TlsConnectOptions}, or on the server's side `cert` and `key`.
 */
export interface StartTlsOptions extends TlsConnectOptions {
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

/** Options of {@linkcode createConnection}. */
export interface ConnectOptions {
  /**
   * Aborts a pending connect: the returned promise rejects with
   * `signal.reason`. It has no effect once the connection is made.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Sets `TCP_NODELAY` (Nagle's algorithm off). On TLS too: the socket is
   * set up before the handshake.
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Speak TLS from the start (`Deno.startTls` on the new connection, before
   * anything is read).
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions;
}

/** Options of {@linkcode createServer}. */
export interface ServerOptions {
  /**
   * The listen queue length (`tcpBacklog` in Deno).
   *
   * @default {511}
   */
  backlog?: number;
  /**
   * Sets `SO_REUSEPORT` on the listeners (Linux).
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
   * Sets `TCP_NODELAY` on accepted connections. Ignored on TLS, where Deno
   * cannot set it on an accepted connection.
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Accept TLS, over `Deno.listenTls`.
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/**
 * Opens a TCP connection to `host:port` and runs a protocol on it: asyncio's
 * `loop.create_connection`.
 *
 * @param protocolFactory Called once to make the connection's protocol.
 * @param host A host name or IP address.
 * @param port The port, 0 to 65535.
 * @param options Cancellation, `TCP_NODELAY`, TLS.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` is out of range.
 * @throws {Deno.errors.ConnectionRefused} If nobody listens there.
 *
 * @example Connect to a server and send a line
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol } from "@aio/net/protocol";
 *
 * const got = Promise.withResolvers<string>();
 * class Sink extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     got.resolve(new TextDecoder().decode(data));
 *   }
 * }
 * await using server = await createServer(() => new Sink(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport] = await createConnection(() => new Protocol(), "127.0.0.1", port);
 * transport.write(new TextEncoder().encode("hi\n"));
 * assertEquals(await got.promise, "hi\n");
 * transport.close();
 * ```
 */
export function createConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  host: string,
  port: number,
  options?: ConnectOptions,
): Promise<[Transport, P]> {
  try {
    checkFunction(protocolFactory, "protocolFactory");
    checkString(host, "host");
    checkPort(port);
    const opts = checkConnectOptions(options);
    return openTransport(
      protocolFactory,
      (signal) => connectTcp(host, port, opts, signal),
      opts.signal,
    );
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Dials TCP, or TLS when asked; resolves the connection once it is usable.
 * TLS is started over a plain connection (`Deno.startTls` while nothing is
 * reading yet), so that `TCP_NODELAY`, which `Deno.TlsConn` cannot set, is
 * set on the socket first, and `serverHostname` may differ from the address.
 */
async function connectTcp(
  host: string,
  port: number,
  opts: ConnectOptions,
  signal: AbortSignal | undefined,
): Promise<Dialled> {
  const conn = await Deno.connect({
    hostname: host,
    port,
    ...(signal ? { signal } : {}),
  });
  const tls = opts.tls;
  try {
    if (opts.noDelay !== false) conn.setNoDelay(true);
    if (tls === undefined) return { conn, host };
  } catch (err) {
    conn.close();
    throw err;
  }
  let tlsConn: Deno.TlsConn;
  try {
    tlsConn = await Deno.startTls(conn, {
      hostname: tls.serverHostname ?? host,
      ...tlsClientOptions(tls),
    });
  } catch (err) {
    try {
      conn.close();
    } catch { /* startTls took it */ }
    throw err;
  }
  return { ...(await handshake(tlsConn)), host };
}

/**
 * Starts a TCP server running a protocol on each connection: asyncio's
 * `loop.create_server`.
 *
 * @param protocolFactory Called once per accepted connection.
 * @param host Where to listen: a host name, an IP address, or a list of them.
 * `"localhost"` binds 127.0.0.1 and ::1 (where the machine has IPv6);
 * omitted, every interface (one dual-stack `::` listener).
 * @param port The port; 0 picks a free one (read it back from `server.sockets`).
 * With several addresses, every listener gets the same port.
 * @param options Backlog, `SO_REUSEPORT`, `startServing`, TLS, a closing signal.
 * @returns The server, listening (and accepting unless `startServing: false`).
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` or `options.backlog` is out of range.
 * @throws {Deno.errors.AddrInUse} If the address is taken.
 *
 * @example Serve, then shut down with `await using`
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createServer, Protocol } from "@aio/net/protocol";
 *
 * await using server = await createServer(() => new Protocol(), "127.0.0.1", 0);
 * assertEquals(server.isServing(), true);
 * assertEquals((server.sockets[0]!.addr as Deno.NetAddr).hostname, "127.0.0.1");
 * ```
 */
export function createServer(
  protocolFactory: () => BaseProtocol,
  host?: string | string[],
  port?: number,
  options?: ServerOptions,
): Promise<Server> {
  try {
    checkFunction(protocolFactory, "protocolFactory");
    if (host !== undefined && host !== null) {
      if (Array.isArray(host)) {
        host.forEach((h, i) => checkString(h, `host[${i}]`));
      } else checkString(host, "host");
    }
    if (port !== undefined) checkPort(port);
    const opts = checkServerOptions(options);
    return listenTcp(protocolFactory, host ?? undefined, port ?? 0, opts);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Upgrades a plain connection to TLS in place (the STARTTLS pattern of SMTP,
 * IMAP or PostgreSQL): asyncio's `loop.start_tls`. From the call on, bytes
 * from the peer go to the TLS engine; the protocol is not told
 * `connectionMade` again, and its later callbacks come from the returned
 * transport, which encrypts what it is given. The old transport must not be
 * used any more.
 *
 * Call it right after the last plaintext exchange (on the server's side,
 * before awaiting anything after writing the go-ahead), so that no TLS bytes
 * reach the protocol as plaintext. The client's side checks the certificate
 * against `serverHostname`, by default the host name the connection was
 * opened with (or the peer's address).
 *
 * @param transport The plain transport.
 * @param protocol The protocol running on it.
 * @param options TLS options; `serverSide` with `cert` and `key` for the
 * server's side.
 * @returns The TLS transport, once the handshake is done.
 * @throws {TypeError} If an argument has the wrong type, or no host name is
 * known to check the certificate against.
 * @throws {Error} If the connection already speaks TLS or is closing, or the
 * handshake fails (with the TLS engine's error; the connection is then
 * closed and the protocol gets `connectionLost(err)`).
 *
 * @example Upgrade a client connection after a STARTTLS exchange
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, Protocol, startTls } from "@aio/net/protocol";
 * import { startServer } from "@aio/net/streams";
 *
 * const dir = "tests/fixtures/tls/";
 * const cert = await Deno.readTextFile(dir + "server.pem");
 * const key = await Deno.readTextFile(dir + "server.key");
 * const ca = await Deno.readTextFile(dir + "ca.pem");
 * const enc = (text: string) => new TextEncoder().encode(text);
 *
 * // The server answers STARTTLS with OK, then speaks TLS and echoes a line.
 * await using server = await startServer(async (reader, writer) => {
 *   await reader.readline();
 *   writer.write(enc("OK\r\n"));
 *   await writer.startTls({ cert, key });
 *   writer.write(await reader.readline());
 *   await writer.drain();
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 *
 * const ok = Promise.withResolvers<void>();
 * const echo = Promise.withResolvers<string>();
 * class Client extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     const text = new TextDecoder().decode(data);
 *     if (text === "OK\r\n") ok.resolve();
 *     else echo.resolve(text);
 *   }
 * }
 * const [plain, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * plain.write(enc("STARTTLS\r\n"));
 * await ok.promise;
 * const transport = await startTls(plain, client, { caCerts: [ca] });
 * transport.write(enc("hello\r\n"));
 * assertEquals(await echo.promise, "hello\r\n");
 * transport.close();
 * ```
 */
export function startTls(
  transport: Transport,
  protocol: BaseProtocol,
  options?: StartTlsOptions,
): Promise<Transport> {
  try {
    checkTransport(transport);
    checkProtocolObject(protocol, "protocol");
    return startTlsOn(transport, protocol, options, false);
  } catch (err) {
    return Promise.reject(err);
  }
}

function checkTransport(value: unknown): asserts value is Transport {
  const t = value as Partial<Transport> | null;
  if (
    t === null || typeof t !== "object" ||
    typeof t.getExtraInfo !== "function" || typeof t.setProtocol !== "function"
  ) {
    throw new TypeError(
      `transport must be a Transport, got ${describe(value)}`,
    );
  }
}
