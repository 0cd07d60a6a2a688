// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The streams machinery behind `streams.ts` and `unix.ts`: `StreamWriter`
 * and the factories that wire a reader, the adapter protocol and a writer
 * to a transport.
 *
 * @module
 */
import { abortable } from "./_connect.ts";
import { bufferedBytes, StreamReader } from "./_reader.ts";
import { StreamAdapter } from "./_stream_protocol.ts";
import { formatAddr } from "./_transport.ts";
import { checkFunction, checkOptions, checkSignal } from "./_validate.ts";
import { startTlsOn } from "./_tls_layer.ts";
import type { StartTlsOptions, Transport } from "./protocol.ts";

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

/** Options of a wait that can be cancelled. */
export interface WaitOptions {
  /**
   * Aborts the wait: the call rejects with `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

let makeWriter: (
  transport: Transport,
  protocol: StreamAdapter<StreamWriter>,
  reader: StreamReader,
) => StreamWriter;

/**
 * The write side of a stream connection: asyncio's `StreamWriter`, a thin
 * layer over the transport whose one piece of logic is `drain()`.
 *
 * Made by `openConnection`/`startServer` (and their Unix twins), never
 * directly.
 *
 * @example Write, drain, close
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * const got = Promise.withResolvers<Uint8Array>();
 * await using server = await startServer(async (reader, writer) => {
 *   got.resolve(await reader.read());
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 *
 * const [, writer] = await openConnection("127.0.0.1", port);
 * writer.writelines([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * await writer.drain();
 * writer.writeEof();
 * assertEquals(await got.promise, new Uint8Array([1, 2, 3]));
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export class StreamWriter implements AsyncDisposable {
  #transport: Transport;
  #protocol: StreamAdapter<StreamWriter>;
  #reader: StreamReader;

  static {
    makeWriter = (transport, protocol, reader) =>
      new StreamWriter(transport, protocol, reader);
  }

  private constructor(
    transport: Transport,
    protocol: StreamAdapter<StreamWriter>,
    reader: StreamReader,
  ) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
  }

  /** The transport underneath (a new one after {@linkcode startTls}). */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Queues `data` (copied) for sending; follow with `await drain()`.
   *
   * @param data The bytes to send.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {Error} If `writeEof()` was already called.
   */
  write(data: Uint8Array): void {
    this.transport.write(data);
  }

  /**
   * Queues every buffer of `list` as one write.
   *
   * @param list The buffers to send, in order.
   * @throws {TypeError} If `list` holds anything but `Uint8Array`s.
   * @throws {Error} If `writeEof()` was already called.
   */
  writelines(list: Iterable<Uint8Array>): void {
    this.transport.writelines(list);
  }

  /** Half-closes after the buffer is flushed; the peer reads EOF. */
  writeEof(): void {
    this.transport.writeEof();
  }

  /**
   * Whether `writeEof()` is supported.
   *
   * @returns `false` on TLS, `true` otherwise.
   */
  canWriteEof(): boolean {
    return this.transport.canWriteEof();
  }

  /** Closes the stream after flushing; follow with `await waitClosed()`. */
  close(): void {
    this.transport.close();
  }

  /**
   * Whether the stream is closing or closed.
   *
   * @returns `true` once `close()` was called or the connection was lost.
   */
  isClosing(): boolean {
    return this.transport.isClosing();
  }

  /**
   * Waits until the connection is closed.
   *
   * @param options `signal` stops waiting (a TLS peer may never answer).
   * @returns Resolves once the connection is lost.
   * @throws {Error} The error the connection was lost with, if any, or
   * `signal.reason`.
   */
  waitClosed(options?: WaitOptions): Promise<void> {
    try {
      const opts = checkOptions(options);
      checkSignal(opts.signal);
      return withSignal(this.#protocol.closed, opts.signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Waits until the write buffer is at or below the low watermark. Safe to
   * call from many places at once.
   *
   * @returns Resolves at once while the buffer is small.
   * @throws {Deno.errors.ConnectionReset} If the connection is lost.
   * @throws {Error} The reader's exception, if it has one.
   */
  async drain(): Promise<void> {
    const exc = this.#reader.exception();
    if (exc) throw exc;
    if (this.transport.isClosing()) {
      // Give a pending connectionLost the chance to run first (asyncio's sleep(0)).
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    await this.#protocol.drainHelper();
  }

  /**
   * Information about the connection; see `Transport.getExtraInfo`.
   *
   * @param name `"peername"`, `"sockname"`, `"socket"` or `"alpnProtocol"`.
   * @param defaultValue What to return for an unknown name.
   * @returns The value, or `defaultValue`.
   */
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    return this.transport.getExtraInfo(name, defaultValue);
  }

  /**
   * Upgrades the connection to TLS in place: asyncio's
   * `StreamWriter.start_tls`, for the STARTTLS pattern of SMTP, IMAP or
   * PostgreSQL. Resolves once the handshake is done; from then on the
   * reader reads decrypted bytes and the writer writes encrypted ones.
   *
   * Call it right after the last plaintext exchange: on the client's side
   * after reading the server's go-ahead, on the server's side right after
   * writing it (before awaiting anything else), so that no TLS bytes are
   * read as plaintext. The side is the one the connection was made on: a
   * `startServer` connection needs `cert` and `key`, a client checks the
   * certificate against `serverHostname`, by default the host it dialled.
   *
   * @param options TLS options, and `signal` to abort the handshake.
   * @returns Resolves after the handshake.
   * @throws {TypeError} If an option has the wrong type, a server's side has
   * no `cert`/`key`, or no host name is known to check against.
   * @throws {Error} If the reader still holds unread bytes received before
   * the upgrade (they would pass as protected when they were not), if the
   * connection already speaks TLS or is closing, or if the handshake fails
   * (the TLS engine's error; the connection is then closed and the reader
   * fails with the same error).
   *
   * @example Upgrade after a STARTTLS exchange
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { openConnection, startServer } from "@aio/net/streams";
   *
   * const dir = "tests/fixtures/tls/";
   * const cert = await Deno.readTextFile(dir + "server.pem");
   * const key = await Deno.readTextFile(dir + "server.key");
   * const ca = await Deno.readTextFile(dir + "ca.pem");
   * const enc = (text: string) => new TextEncoder().encode(text);
   *
   * await using server = await startServer(async (reader, writer) => {
   *   if ((await reader.readline()).length === 0) return;
   *   writer.write(enc("220 go ahead\r\n"));
   *   await writer.startTls({ cert, key });
   *   writer.write(await reader.readline());
   *   await writer.drain();
   *   writer.close();
   * }, "127.0.0.1", 0);
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   *
   * const [reader, writer] = await openConnection("127.0.0.1", port);
   * writer.write(enc("STARTTLS\r\n"));
   * assertEquals(await reader.readline(), enc("220 go ahead\r\n"));
   * await writer.startTls({ caCerts: [ca] });
   * writer.write(enc("secret\r\n"));
   * assertEquals(await reader.readline(), enc("secret\r\n"));
   * writer.close();
   * await writer.waitClosed();
   * ```
   */
  async startTls(options?: StartTlsOptions): Promise<void> {
    const unread = bufferedBytes(this.#reader);
    if (unread > 0) {
      throw new Error(
        `Cannot startTls(): the reader holds ${unread} unread bytes received before the upgrade`,
      );
    }
    const protocol = this.#protocol;
    await startTlsOn(
      this.#transport,
      protocol,
      options,
      protocol.serverSide,
      (tls) => {
        this.#transport = tls;
        protocol.replaceTransport(tls);
      },
    );
  }

  /** Closes the stream and waits for it to be closed (errors are ignored). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#protocol.closed.catch(() => {});
  }

  /** Shows the state that matters, as asyncio's `__repr__` does. */
  [Symbol.for("Deno.customInspect")](): string {
    const peer = this.transport.getExtraInfo("peername") as
      | Deno.Addr
      | undefined;
    const state = this.#protocol.lost
      ? "closed"
      : this.transport.isClosing()
      ? "closing"
      : "open";
    return `StreamWriter { ${state}, peer=${
      peer ? formatAddr(peer) : "?"
    }, buffered=${this.transport.getWriteBufferSize()} }`;
  }
}

/** Waits for `promise`, or rejects with `signal.reason` first. */
function withSignal(
  promise: Promise<void>,
  signal: AbortSignal | undefined,
): Promise<void> {
  return abortable(promise, signal);
}

/** Checks `options.limit` by making the reader it configures. */
function readerFactory(options: StreamOptions): () => StreamReader {
  const limit = options.limit;
  new StreamReader(limit === undefined ? {} : { limit }); // throws for a bad limit, before any I/O
  return () => new StreamReader(limit === undefined ? {} : { limit });
}

/** Makes the protocol factory of a stream server. */
export function streamServerFactory(
  clientConnected: (
    reader: StreamReader,
    writer: StreamWriter,
  ) => void | Promise<void>,
  options: StreamOptions,
): () => StreamAdapter<StreamWriter> {
  checkFunction(clientConnected, "clientConnected");
  const newReader = readerFactory(checkOptions(options));
  return () =>
    new StreamAdapter(newReader(), {
      callback: clientConnected,
      makeWriter: (t, p) => makeWriter(t, p, p.reader),
    });
}

/** Makes the protocol factory of a stream client. */
export function streamClientFactory(
  options: StreamOptions,
): () => StreamAdapter<StreamWriter> {
  const newReader = readerFactory(checkOptions(options));
  return () => new StreamAdapter<StreamWriter>(newReader());
}

/** Wraps a connected adapter in a reader and writer. */
export function streamPair(
  [transport, protocol]: [Transport, StreamAdapter<StreamWriter>],
): [StreamReader, StreamWriter] {
  return [protocol.reader, makeWriter(transport, protocol, protocol.reader)];
}
