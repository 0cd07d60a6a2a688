// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The streams adapter, kept together as CPython's `streams.py` keeps it:
 * the adapter protocol that feeds a `StreamReader` from a transport
 * (asyncio's `StreamReaderProtocol`), the `StreamWriter` over the same
 * transport, and `openStreams`/`startStreams`, which wire the three for
 * `openConnection`, `startServer` and their Unix twins.
 *
 * @module
 */
import {
  checkFunction,
  checkWaitOptions,
  splitStreamOptions,
  toError,
} from "./_checks.ts";
import { BufferedProtocol, type Transport } from "./_contract.ts";
import type {
  StartTlsOptions,
  StreamOptions,
  WaitOptions,
} from "./_options.ts";
import { reportException } from "./_log.ts";
import { abortable } from "./_signal.ts";
import {
  bufferedBytes,
  holdWake,
  readerBuffer,
  readerUpdated,
  readerWait,
  setReaderTransport,
  StreamReader,
  trimReader,
} from "./_stream_reader.ts";
import { MORE_COMING, READ_WAIT, TRIM_IDLE } from "./_read_memory.ts";
import { startTlsOn } from "./_tls.ts";
import { formatAddr } from "./_address.ts";
import { closeQuietly } from "./_conn.ts";

/**
 * The adapter protocol between a transport and the streams API (asyncio's
 * `StreamReaderProtocol`): it feeds a `StreamReader`, keeps the drain
 * waiters, and on a server's side runs the client callback. It is a
 * buffered protocol: the transport reads straight into the reader's own
 * reused memory, so a read allocates nothing until the application takes
 * bytes out (and `readInto` not even then).
 */
class StreamReaderProtocol extends BufferedProtocol {
  readonly reader: StreamReader;
  /** Whether this is the server's side (`startTls` defaults to it). */
  readonly serverSide: boolean;
  #transport: Transport | null = null;
  #clientConnected: ClientConnected | undefined;
  #writingPaused = false;
  #drainWaiters: PromiseWithResolvers<void>[] = [];
  #lost = false;
  #closed = Promise.withResolvers<void>();
  /** The read side is done: the peer's EOF came, or `readable` was cancelled. */
  #readDone = false;
  /** The write side is done: `writable` was closed with a half-close. */
  #writeDone = false;

  constructor(
    reader: StreamReader,
    serverSide: boolean,
    clientConnected?: ClientConnected,
  ) {
    super();
    this.reader = reader;
    this.serverSide = serverSide;
    this.#clientConnected = clientConnected;
    // Nobody may await waitClosed(); its rejection must not go unhandled.
    this.#closed.promise.catch(() => {});
  }

  /** Resolves when the connection is lost (rejects with its error). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Talks to `transport` from now on (after `startTls`). */
  replaceTransport(transport: Transport): void {
    if (this.#lost) return;
    this.#transport = transport;
  }

  /** Whether `connectionLost` has run. */
  get lost(): boolean {
    return this.#lost;
  }

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    // The reader pauses and resumes the transport through this adapter.
    setReaderTransport(this.reader, {
      pauseReading: () => this.#transport?.pauseReading(),
      resumeReading: () => this.#transport?.resumeReading(),
      readCancelled: () => this.#sideDone("read"),
    });
    if (!this.#clientConnected) return;
    const writer = makeWriter(transport, this);
    let result: void | Promise<void>;
    try {
      result = this.#clientConnected(this.reader, writer);
    } catch (err) {
      this.#clientFailed(err);
      return;
    }
    if (result instanceof Promise) {
      result.then(undefined, (err: unknown) => this.#clientFailed(err));
    }
  }

  #clientFailed(err: unknown): void {
    const transport = this.#transport;
    const peer = transport?.getExtraInfo("peername") as Deno.Addr | undefined;
    reportException({
      message: "Unhandled exception in the client callback of startServer()",
      exception: toError(err),
      ...(peer ? { peer: formatAddr(peer) } : {}),
      ...(transport ? { transport } : {}),
      protocol: this,
    });
    transport?.close();
  }

  override getBuffer(sizehint: number): Uint8Array {
    return readerBuffer(this.reader, sizehint);
  }

  override bufferUpdated(nbytes: number): void {
    readerUpdated(this.reader, nbytes);
  }

  /** Waits for a `readInto()` about to come before the next read (internal). */
  [READ_WAIT](): Promise<void> | null {
    return readerWait(this.reader);
  }

  /** The bytes about to come filled a quiet read: more follow at once (internal). */
  [MORE_COMING](): void {
    holdWake(this.reader);
  }

  /** The connection went quiet: the reader gives back its idle memory (internal). */
  [TRIM_IDLE](): void {
    trimReader(this.reader);
  }

  override eofReceived(): boolean {
    this.reader.feedEof();
    this.#sideDone("read");
    // Keep the write side open (half-close), except on TLS, which cannot.
    return this.#transport?.canWriteEof() ?? false;
  }

  /**
   * One direction is done; once both are (the peer's EOF or a cancelled
   * `readable`, and a `writable` closed with a half-close), the connection
   * closes itself, as asyncio's does.
   */
  #sideDone(side: "read" | "write"): void {
    if (side === "read") this.#readDone = true;
    else this.#writeDone = true;
    if (this.#readDone && this.#writeDone) this.#transport?.close();
  }

  /** `writable` was closed with a half-close. */
  writeSideDone(): void {
    this.#sideDone("write");
  }

  override connectionLost(exc: Error | null): void {
    this.#lost = true;
    if (exc === null) this.reader.feedEof();
    else this.reader.setException(exc);
    setReaderTransport(this.reader, null);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) {
      if (exc === null) waiter.resolve();
      else waiter.reject(exc);
    }
    if (exc === null) this.#closed.resolve();
    else this.#closed.reject(exc);
    this.#transport = null;
  }

  override pauseWriting(): void {
    this.#writingPaused = true;
  }

  override resumeWriting(): void {
    this.#writingPaused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Waits while writing is paused; throws once the connection is lost.
   * `signal` stops the wait (the write buffer is left as it is).
   */
  drainHelper(signal?: AbortSignal): Promise<void> {
    if (this.#lost) {
      return Promise.reject(
        new Deno.errors.ConnectionReset(
          "Cannot drain: the connection was lost",
        ),
      );
    }
    if (!this.#writingPaused) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#drainWaiters.push(waiter);
    return abortable(waiter.promise, signal, {
      onAbort: () => {
        this.#drainWaiters = this.#drainWaiters.filter((w) => w !== waiter);
      },
    });
  }
}

/**
 * Makes a `StreamWriter`, whose constructor is private (the idiom is
 * explained at `makeServer` in `_server.ts`).
 */
let makeWriter: (
  transport: Transport,
  protocol: StreamReaderProtocol,
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
  #protocol: StreamReaderProtocol;
  #reader: StreamReader;
  /** `writable`, once asked for. */
  #writable: WritableStream<Uint8Array> | undefined;

  static {
    makeWriter = (transport, protocol) => new StreamWriter(transport, protocol);
  }

  private constructor(transport: Transport, protocol: StreamReaderProtocol) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = protocol.reader;
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
   * @throws {Error} If `writeEof()` was already called, or `writable` is
   * locked.
   */
  write(data: Uint8Array): void {
    this.#checkUnlocked("write");
    this.transport.write(data);
  }

  /**
   * Queues every buffer of `list` as one write.
   *
   * @param list The buffers to send, in order.
   * @throws {TypeError} If `list` holds anything but `Uint8Array`s.
   * @throws {Error} If `writeEof()` was already called, or `writable` is
   * locked.
   */
  writelines(list: Iterable<Uint8Array>): void {
    this.#checkUnlocked("writelines");
    this.transport.writelines(list);
  }

  /**
   * Half-closes after the buffer is flushed; the peer reads EOF.
   *
   * @throws {Error} On TLS, which cannot half-close, or if `writable` is
   * locked.
   */
  writeEof(): void {
    this.#checkUnlocked("writeEof");
    this.transport.writeEof();
  }

  /**
   * The writer as a web `WritableStream` of bytes: the same stream on every
   * access. `write(chunk)` writes and resolves once `drain()` has, so a
   * `pipeTo` moves at the pace of the connection (the transport's write
   * buffer stays within its watermarks); `close()` half-closes
   * (`writeEof()`), so the reply can still be read, where `canWriteEof()`,
   * and closes the connection where it cannot (TLS); `abort()` aborts the
   * connection. A connection whose read side is done (the peer's EOF, or
   * `reader.readable` cancelled) and whose write side was closed this way
   * closes itself.
   *
   * While the stream is locked (a `pipeTo`, a writer), `write()`,
   * `writelines()` and `writeEof()` throw an `Error`: both would write into
   * the same byte stream.
   *
   * @example Send a file, then read the reply
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { openConnection, startServer } from "@aio/net/streams";
   *
   * await using server = await startServer(async (reader, writer) => {
   *   const body = await reader.read(); // to EOF
   *   writer.write(new TextEncoder().encode(`got ${body.length} bytes`));
   *   writer.close();
   * }, "127.0.0.1", 0);
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   * const path = await Deno.makeTempFile();
   * await Deno.writeFile(path, new Uint8Array(100_000).fill(7));
   *
   * const [reader, writer] = await openConnection("127.0.0.1", port);
   * await (await Deno.open(path)).readable.pipeTo(writer.writable);
   * assertEquals(new TextDecoder().decode(await reader.read()), "got 100000 bytes");
   * await writer.waitClosed();
   * await Deno.remove(path);
   * ```
   */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      // abort() must not wait for a write stuck in drain() (the stream calls
      // the sink's abort only once the write in flight settles): the
      // controller's signal fires at once, and aborts the transport.
      start: (controller) => {
        controller.signal.addEventListener(
          "abort",
          () => this.transport.abort(),
          { once: true },
        );
      },
      write: async (chunk) => {
        this.transport.write(chunk);
        await this.drain();
      },
      close: async () => {
        await this.drain();
        if (this.transport.canWriteEof()) {
          this.transport.writeEof();
          this.#protocol.writeSideDone();
        } else this.transport.close();
      },
      abort: () => this.transport.abort(),
    });
  }

  /** Refuses a direct write while `writable` is locked. */
  #checkUnlocked(what: string): void {
    if (this.#writable?.locked) {
      throw new Error(
        `Cannot ${what}(): writer.writable is locked (a pipe or a stream writer is writing to it)`,
      );
    }
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
      return abortable(this.#protocol.closed, checkWaitOptions(options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Waits until the write buffer is at or below the low watermark. Safe to
   * call from many places at once.
   *
   * @param options `signal` stops the wait (a peer that reads nothing may
   * never let the buffer drain); the buffered data stays queued.
   * @returns Resolves at once while the buffer is small.
   * @throws {Deno.errors.ConnectionReset} If the connection is lost.
   * @throws {Error} The reader's exception, if it has one, or
   * `signal.reason`.
   */
  drain(options?: WaitOptions): Promise<void> {
    let signal: AbortSignal | undefined;
    try {
      if (options !== undefined) signal = checkWaitOptions(options);
      signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    const exc = this.#reader.exception();
    if (exc) return Promise.reject(exc);
    // No async function here: in an echo loop, drain() is called once a
    // message and has nothing to wait for.
    if (!this.transport.isClosing()) {
      return this.#protocol.drainHelper(signal);
    }
    // Give a pending connectionLost the chance to run first (asyncio's sleep(0)).
    return abortable(
      new Promise<void>((resolve) => setTimeout(resolve, 0)),
      signal,
    ).then(() => this.#protocol.drainHelper(signal));
  }

  /**
   * Information about the connection: the transport's `getExtraInfo`.
   *
   * @param name `"peername"` (the remote `Deno.Addr`), `"sockname"` (the
   * local `Deno.Addr`), `"socket"` (the `Deno.Conn`; for TLS this module
   * runs, the plain `Deno.TcpConn` underneath), and on TLS `"alpnProtocol"`, `"tlsVersion"`,
   * `"cipher"` (`{ name, version }`) and `"peerCertificate"` (each `null`
   * where not known; on a plain connection these give `defaultValue`).
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

/** What `startServer` calls for each client. */
type ClientConnected = (
  reader: StreamReader,
  writer: StreamWriter,
) => void | Promise<void>;

/** Makes a reader with the `limit` of checked stream options. */
function newReader(options: StreamOptions): StreamReader {
  return new StreamReader(
    options.limit === undefined ? {} : { limit: options.limit },
  );
}

/**
 * Opens a stream connection: checks the stream options, connects with
 * `connect` (which checks the rest) and returns the reader and writer. The
 * body of `openConnection`, `openUnixConnection` and (on the server's side)
 * `openAcceptedConnection`; `conn` is the connection handed over, if any,
 * closed when the options are bad.
 */
export async function openStreams<O extends StreamOptions>(
  connect: (
    factory: () => StreamReaderProtocol,
    options: Omit<O, "limit"> | undefined,
  ) => Promise<[Transport, StreamReaderProtocol]>,
  options: O | undefined,
  serverSide = false,
  conn?: unknown,
): Promise<[StreamReader, StreamWriter]> {
  let opts: StreamOptions, rest: Omit<O, "limit"> | undefined;
  try {
    [opts, rest] = splitStreamOptions(options);
  } catch (err) {
    // A connection handed over is ours: bad options must not leak it.
    if (conn instanceof Object && "close" in conn) {
      closeQuietly(conn as Deno.Conn);
    }
    throw err;
  }
  const [transport, protocol] = await connect(
    () => new StreamReaderProtocol(newReader(opts), serverSide),
    rest,
  );
  return [protocol.reader, makeWriter(transport, protocol)];
}

/**
 * Starts a stream server: checks `clientConnected` and the stream options,
 * then listens with `listen` (which checks the rest). The body of
 * `startServer` and `startUnixServer`.
 */
export async function startStreams<S, O extends StreamOptions>(
  clientConnected: ClientConnected,
  listen: (
    factory: () => StreamReaderProtocol,
    options: Omit<O, "limit"> | undefined,
  ) => Promise<S>,
  options: O | undefined,
): Promise<S> {
  checkFunction(clientConnected, "clientConnected");
  const [opts, rest] = splitStreamOptions(options);
  return await listen(
    () => new StreamReaderProtocol(newReader(opts), true, clientConnected),
    rest,
  );
}
