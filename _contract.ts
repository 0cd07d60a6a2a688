// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The contract: what a protocol is and what a transport offers (the
 * options types are in `_options.ts`). Protocols and transports refer to
 * each other (`connectionMade(transport)`, `getProtocol()`), so they stay
 * in one module: apart, they would import each other. It is the ground
 * floor and imports nothing; every other module builds on it, and the
 * public entry points re-export it.
 *
 * @module
 */
import type { DatagramAddress } from "./_options.ts";

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
   * Subclasses narrow the type: a `Protocol` gets a {@linkcode Transport},
   * a `DatagramProtocol` a `DatagramTransport`.
   *
   * @param transport The transport of the new connection; keep it to write.
   */
  connectionMade(transport: BaseTransport): void {
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
   * `data` is a view into a larger buffer the transport read into (not a
   * copy): nothing writes over it, but its `byteOffset` is usually not 0, so
   * make a `DataView` as
   * `new DataView(data.buffer, data.byteOffset, data.byteLength)`, and slice
   * it to keep a small part for long (a view keeps its whole buffer alive).
   * The rest of that buffer holds other bytes received, of this connection
   * or of others (Node's pooled `Buffer`s do the same): never pass on or
   * transfer `data.buffer` itself; `data.slice()` is a copy of your own.
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
   * @param sizehint For a read from the socket, the size the transport
   * means to read (CPython passes `-1`): 4 KiB at first, doubling while
   * reads fill it, up to 64 KiB, and at most 16 KiB after a read that
   * emptied the socket (4 KiB after a burst, until three messages of 16 KiB
   * or less have come), when the next read may wait for long (an idle
   * connection's read holds the buffer returned; a server with many idle
   * connections can return small memory then). Otherwise the number of
   * bytes waiting to be delivered, when they are already in memory (bytes
   * decrypted by TLS, or a read in flight when `setProtocol` switched to
   * this protocol). A larger buffer is read into whole; a smaller one is
   * fine: the rest comes in later calls.
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
 * What every transport offers, stream or datagram: asyncio's
 * `BaseTransport`, with `abort()` and the write-buffer watermarks (which
 * asyncio puts on its write and datagram transports), since every
 * transport here has both.
 */
export interface BaseTransport {
  /** Closes the transport (after sending what is buffered); `connectionLost` follows. Idempotent. */
  close(): void;
  /** Closes at once, dropping what is buffered; `connectionLost` follows. Idempotent. */
  abort(): void;
  /** Whether the transport is closing or closed. */
  isClosing(): boolean;
  /** Bytes buffered and not yet accepted by the operating system. */
  getWriteBufferSize(): number;
  /** The watermarks as `[low, high]`; default `[16384, 65536]`. */
  getWriteBufferLimits(): [low: number, high: number];
  /**
   * Sets the watermarks. `pauseWriting` is called when the buffer rises above
   * `high`, `resumeWriting` when it has fallen to `low`, once per crossing.
   * Defaults as asyncio: `high` is 64 KiB (or `4 * low`), `low` is
   * `high / 4`.
   *
   * @throws {TypeError} If a limit is not a number.
   * @throws {RangeError} Unless `high >= low >= 0`, integers.
   */
  setWriteBufferLimits(high?: number, low?: number): void;
  /**
   * Information about the connection or endpoint by name (`"peername"`,
   * `"sockname"`, `"socket"`, and on TLS more): the names each kind knows are
   * listed at `Transport.getExtraInfo` and `DatagramTransport.getExtraInfo`.
   * An unknown name gives `defaultValue`, as in asyncio.
   *
   * @returns The value, or `defaultValue` for an unknown name.
   */
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
  /** The protocol the transport calls. */
  getProtocol(): BaseProtocol;
  /** Replaces the protocol the transport calls from now on. */
  setProtocol(protocol: BaseProtocol): void;
}

/**
 * A bidirectional byte stream: what a protocol writes to and controls.
 *
 * Writes never block and never throw for a closed peer; flow control is by
 * watermarks on the write buffer, signalled to the protocol with
 * `pauseWriting`/`resumeWriting`.
 */
export interface Transport extends BaseTransport {
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
  /**
   * Stops delivering data until `resumeReading()`. Nothing is lost or
   * reordered, including a read already in flight.
   */
  pauseReading(): void;
  /** Resumes delivering data after `pauseReading()`. */
  resumeReading(): void;
  /** Whether the transport is delivering data (not paused, closing, or past EOF). */
  isReading(): boolean;
  /**
   * Information about the connection: `"peername"` (the remote `Deno.Addr`),
   * `"sockname"` (the local `Deno.Addr`), `"socket"` (the `Deno.Conn`; for TLS
   * this module runs, the plain `Deno.TcpConn` underneath), and on
   * TLS `"alpnProtocol"` (the negotiated protocol), `"tlsVersion"` (such as
   * `"TLSv1.3"`), `"cipher"` (`{ name, version }`), `"peerCertificate"`
   * (the peer's certificate as `node:tls` describes it: `subject`,
   * `subjectaltname`, `valid_to`, `fingerprint256`, `raw`, …; on a server
   * asking for client certificates, the client's, verified) and
   * `"serverHostname"` (the name asked for by SNI: the one a client checks,
   * or the one a server received), each `null` where it is not known (no
   * ALPN agreed, no certificate or name sent, or a `Deno.TlsConn` made
   * elsewhere, whose handshake tells only the ALPN).
   *
   * @returns The value, or `defaultValue` for an unknown name.
   */
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
}

// ---- UDP ---------------------------------------------------------------------

/**
 * What a datagram endpoint sends and controls: asyncio's
 * `DatagramTransport`.
 *
 * `sendto` never blocks and never waits: datagrams are queued and sent one
 * at a time, in order. The queue is the write buffer; its size in bytes
 * drives `pauseWriting`/`resumeWriting` by the watermarks, as on a stream
 * transport.
 *
 * @example Stop producing while the queue is above the high watermark
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol, type DatagramTransport } from "@aio/net/datagram";
 *
 * class Producer extends DatagramProtocol {
 *   paused = false;
 *   readonly resumed = Promise.withResolvers<void>();
 *   readonly lost = Promise.withResolvers<void>();
 *   override pauseWriting(): void {
 *     this.paused = true;
 *   }
 *   override resumeWriting(): void {
 *     this.paused = false;
 *     this.resumed.resolve();
 *   }
 *   override connectionLost(): void {
 *     this.lost.resolve();
 *   }
 * }
 * const here = { localAddr: { hostname: "127.0.0.1", port: 0 } };
 * const [sink, sinkProtocol] = await createDatagramEndpoint(() => new Producer(), here);
 * const [transport, producer]: [DatagramTransport, Producer] = await createDatagramEndpoint(
 *   () => new Producer(),
 *   { ...here, remoteAddr: sink.getExtraInfo("sockname") as Deno.NetAddr },
 * );
 * transport.setWriteBufferLimits(4096);
 * while (!producer.paused) transport.sendto(new Uint8Array(1024));
 * assertEquals(transport.getWriteBufferSize(), 5120); // just above 4096
 * await producer.resumed.promise; // the queue fell to the low watermark (1024)
 * transport.close();
 * sink.close();
 * await Promise.all([producer.lost.promise, sinkProtocol.lost.promise]);
 * ```
 */
export interface DatagramTransport extends BaseTransport {
  /**
   * Queues one datagram. The bytes are copied: the caller may reuse `data`
   * at once. It is sent whole, as one datagram, or not at all; an empty
   * `data` is an empty datagram. A send that the operating system refuses
   * is reported to the protocol's `errorReceived` (the endpoint stays
   * open). Once the endpoint is closing (after `close()`, `abort()` or a
   * fatal error), datagrams are dropped, with a warning logged for the
   * sixth dropped one and every one after it.
   *
   * @param data The datagram.
   * @param addr Where to send it; must be left out on an endpoint made with
   * `remoteAddr` (it sends there), and given on any other.
   * @throws {TypeError} If `data` is not a `Uint8Array`, `addr` is not an
   * address, or `addr` is missing on an endpoint without `remoteAddr`.
   * @throws {RangeError} If `data` is longer than a UDP datagram can be
   * (65,507 bytes over IPv4, 65,527 over IPv6), or `addr` is out of range
   * or an IPv6 address on an IPv4 endpoint.
   * @throws {Error} If `addr` is given on an endpoint made with `remoteAddr`.
   */
  sendto(data: Uint8Array, addr?: DatagramAddress): void;
  /**
   * Closes the endpoint after sending the queued datagrams. Delivery stops
   * at once; `connectionLost(null)` follows once the socket is closed.
   * Idempotent.
   */
  close(): void;
  /**
   * Closes at once, dropping the queued datagrams: delivery stops, the
   * write buffer is empty, `isClosing()` is true. `connectionLost(null)`
   * follows once the datagram already handed to the engine, if any, is
   * sent and the socket is closed. Idempotent.
   */
  abort(): void;
  /**
   * Information about the endpoint: `"sockname"` (the local
   * `Deno.NetAddr`), `"peername"` (the `remoteAddr`, resolved, as a
   * `Deno.NetAddr`; `defaultValue` without one) and `"socket"` (the
   * `node:dgram` `Socket` underneath, for options this API lacks, such as
   * `setTTL` or `setMulticastInterface`; do not send, receive or close
   * through it).
   *
   * @returns The value, or `defaultValue` for an unknown name.
   */
  getExtraInfo(name: string, defaultValue?: unknown): unknown;
  /** The protocol the endpoint calls. */
  getProtocol(): DatagramProtocol;
  /**
   * Replaces the protocol the endpoint calls from now on.
   *
   * @throws {TypeError} If `protocol` is not an object.
   */
  setProtocol(protocol: DatagramProtocol): void;
  /**
   * Joins a multicast group (`IP_ADD_MEMBERSHIP`), on the interface with
   * the address `iface`, or one the system picks.
   *
   * @param group A multicast address of the endpoint's family.
   * @param iface The interface's address (IPv4), or its address, name or
   * `address%zone` (IPv6).
   * @throws {TypeError} If an argument is not a string.
   * @throws {RangeError} If `group` is not a multicast address of the
   * endpoint's family, or `iface` is not an IPv4 address on an IPv4
   * endpoint.
   * @throws {Error} If the endpoint is closing, or the system refuses
   * (Deno reports every refusal as `EINVAL`).
   */
  addMembership(group: string, iface?: string): void;
  /**
   * Leaves a multicast group joined with `addMembership`.
   *
   * @throws {TypeError} If an argument is not a string.
   * @throws {RangeError} As for `addMembership`.
   * @throws {Error} If the endpoint is closing, or the group was not joined
   * (Deno reports it as `EINVAL`).
   */
  dropMembership(group: string, iface?: string): void;
}

/**
 * A protocol for a datagram endpoint: asyncio's `DatagramProtocol`.
 *
 * The endpoint calls it in this order:
 *
 * ```text
 * start -> connectionMade [-> datagramReceived | errorReceived]* -> connectionLost -> end
 * ```
 *
 * One datagram in is one `datagramReceived` out: datagrams are never
 * merged or split. `pauseWriting`/`resumeWriting` come in pairs, when the
 * queue of datagrams to send crosses the watermarks. A callback that
 * throws is logged; the endpoint is then aborted and `connectionLost`
 * receives the error. Nothing is called after `connectionLost`.
 *
 * @example Count the datagrams
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { DatagramProtocol } from "@aio/net/datagram";
 *
 * class Counter extends DatagramProtocol {
 *   count = 0;
 *   override datagramReceived(_data: Uint8Array, _addr: Deno.NetAddr): void {
 *     this.count++;
 *   }
 * }
 * const counter = new Counter();
 * counter.datagramReceived(new Uint8Array(3), { transport: "udp", hostname: "127.0.0.1", port: 9 });
 * assertEquals(counter.count, 1);
 * ```
 */
export class DatagramProtocol extends BaseProtocol {
  /**
   * Called once when the endpoint is ready, before any other callback.
   *
   * @param transport The endpoint's transport; keep it to send.
   */
  override connectionMade(transport: DatagramTransport): void {
    void transport;
  }

  /**
   * Called with each datagram received, whole.
   *
   * @param data The datagram's bytes; the protocol's to keep.
   * @param addr Where it came from (an IPv4 sender appears as
   * `::ffff:a.b.c.d` on a dual-stack IPv6 endpoint).
   */
  datagramReceived(data: Uint8Array, addr: Deno.NetAddr): void {
    void data;
    void addr;
  }

  /**
   * Called when a send or a receive failed; the endpoint stays open.
   * Errors are Deno's classes where the cause is known:
   * `Deno.errors.PermissionDenied` (a broadcast address without
   * `allowBroadcast`), `Deno.errors.NotCapable` (no `--allow-net` for the
   * address), `Deno.errors.NotFound` (a host name that does not resolve),
   * `Deno.errors.ConnectionRefused` (an ICMP "port unreachable" on a
   * connected endpoint; Deno 2.9's engine never reports those).
   *
   * @param exc The error; the engine's own error is its `cause`.
   */
  errorReceived(exc: Error): void {
    void exc;
  }
}

// ---- Reporting ----------------------------------------------------------------

/**
 * What an exception handler is told about an exception nobody else could
 * receive: asyncio's exception-handler context. `message` says what failed;
 * the other fields say where, when known.
 */
export interface ExceptionContext {
  /** What failed, e.g. `"Exception in dataReceived()"`. */
  readonly message: string;
  /** The exception itself. */
  readonly exception: Error;
  /** The remote address (`"127.0.0.1:51234"`, or a socket path), when known. */
  readonly peer?: string;
  /** The server's listening addresses, when a server's connection failed. */
  readonly server?: string;
  /** The transport whose callback, handshake or socket failed, when there is one. */
  readonly transport?: BaseTransport;
  /** The protocol whose callback threw, when there is one. */
  readonly protocol?: BaseProtocol;
}

/**
 * Receives the exceptions that have no caller to go to (asyncio's
 * `loop.set_exception_handler`): those of protocol callbacks, protocol
 * factories, streams client callbacks, server-side TLS handshakes and accept
 * loops. It runs synchronously; what it throws is reported by the default
 * handler, with the original exception.
 */
export type ExceptionHandler = (context: ExceptionContext) => void;
