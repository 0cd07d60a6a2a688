// Copyright 2026 the @aio/net authors. MIT license.
/**
 * `StreamReader` and its errors (asyncio's `streams.StreamReader`).
 *
 * The reader owns its memory (a `ReaderBuffer`, `_reader_buffer.ts`), and
 * the transport reads straight into it (see `readerBuffer`). `readInto`
 * copies out, so that memory is reused; `read()` and the others return
 * views, so it is then only appended to and replaced when full, without
 * copying what was read. A separator search resumes where the last one
 * stopped, so the cost is linear in the bytes handled.
 *
 * @module
 */
import {
  checkBytes,
  checkInteger,
  checkStreamOptions,
  checkWaitOptions,
  describe,
} from "./_checks.ts";
import type { ReadOptions, StreamReaderOptions } from "./_options.ts";
import { ReaderBuffer } from "./_reader_buffer.ts";
import { MAX_READ } from "./_read_memory.ts";
import { abortable } from "./_signal.ts";

/** The default buffer limit: 64 KiB, as asyncio's. */
const DEFAULT_LIMIT = 64 * 1024;
const EMPTY = new Uint8Array(0);
const NEWLINE = new Uint8Array([0x0a]);

/**
 * Thrown by `readexactly` (and `readuntil`) when EOF comes first: asyncio's
 * `IncompleteReadError`.
 *
 * @example Catch an early EOF
 * ```ts
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 * import { IncompleteReadError, StreamReader } from "@aio/net/streams";
 *
 * const reader = new StreamReader();
 * reader.feedData(new Uint8Array([1, 2]));
 * reader.feedEof();
 * const err = await reader.readexactly(4).catch((e) => e);
 * assertInstanceOf(err, IncompleteReadError);
 * assertEquals(err.partial, new Uint8Array([1, 2]));
 * assertEquals(err.expected, 4);
 * ```
 */
export class IncompleteReadError extends Error {
  /** The bytes read before EOF. */
  readonly partial: Uint8Array;
  /** How many bytes were expected, or `null` when a separator was. */
  readonly expected: number | null;

  /**
   * Makes the error.
   *
   * @param partial The bytes read before EOF.
   * @param expected How many were expected (`null`: a separator was).
   */
  constructor(partial: Uint8Array, expected: number | null) {
    super(
      expected === null
        ? `${partial.length} bytes read before EOF, and no separator among them`
        : `${partial.length} bytes read on a total of ${expected} expected bytes`,
    );
    this.name = "IncompleteReadError";
    this.partial = partial;
    this.expected = expected;
  }
}

/**
 * Thrown when a line or a separator-terminated chunk would exceed the
 * reader's limit: asyncio's `LimitOverrunError`.
 *
 * @example Raise the limit or read in pieces
 * ```ts
 * import { assertEquals, assertInstanceOf } from "@std/assert";
 * import { LimitOverrunError, StreamReader } from "@aio/net/streams";
 *
 * const reader = new StreamReader({ limit: 4 });
 * reader.feedData(new TextEncoder().encode("too long\n"));
 * const err = await reader.readuntil("\n").catch((e) => e);
 * assertInstanceOf(err, LimitOverrunError);
 * assertEquals(err.consumed, 8);
 * assertEquals((await reader.read(100)).length, 9); // the data is still there
 * ```
 */
export class LimitOverrunError extends Error {
  /** How many bytes are to be consumed (asyncio's meaning). */
  readonly consumed: number;

  /**
   * Makes the error.
   *
   * @param message What went wrong.
   * @param consumed How many bytes are to be consumed.
   */
  constructor(message: string, consumed: number) {
    super(message);
    this.name = "LimitOverrunError";
    this.consumed = consumed;
  }
}

/** What the reader asks of the transport that feeds it. */
export interface ReaderTransport {
  pauseReading(): void;
  resumeReading(): void;
  /** The application cancelled `reader.readable`: it reads no more. */
  readCancelled?(): void;
}

/**
 * Sets (or clears) the transport a reader pauses and resumes (internal; the
 * idiom is explained at `makeServer` in `_server.ts`).
 */
export let setReaderTransport: (
  reader: StreamReader,
  transport: ReaderTransport | null,
) => void;

/** How many unread bytes a reader holds (internal). */
export let bufferedBytes: (reader: StreamReader) => number;

/**
 * The reader's own memory for the next read from the transport: a
 * `BufferedProtocol`'s `getBuffer` (internal). At least `sizehint` bytes
 * when it is positive.
 */
export let readerBuffer: (reader: StreamReader, sizehint: number) => Uint8Array;

/** Adds the `n` bytes just read into `readerBuffer`'s buffer: `bufferUpdated` (internal). */
export let readerUpdated: (reader: StreamReader, n: number) => void;

/**
 * Whether the transport should wait before its next read (internal, the
 * `READ_WAIT` hook): a promise when a `readInto()` is likely to come within
 * a few microtasks, so that the read can land in its buffer.
 */
export let readerWait: (reader: StreamReader) => Promise<void> | null;

/**
 * The next bytes fed filled a quiet read (internal, the `MORE_COMING`
 * hook): the waiting call is woken `READ_WAIT_HOPS` microtasks later, or
 * as soon as more bytes come, so that it gets the rest of the message too.
 */
export let holdWake: (reader: StreamReader) => void;

/** The connection went quiet: the reader gives back idle memory (internal). */
export let trimReader: (reader: StreamReader) => void;

/**
 * How many microtasks the transport waits for the next `readInto()` after
 * one was served before it reads into the reader's own memory instead. A
 * `readInto`, `write`, `drain` loop is back within 3 (2 sufficed when
 * measured).
 */
const READ_WAIT_HOPS = 8;

/** A separator: bytes, or a string encoded as UTF-8. */
export type Separator = Uint8Array | string;

/**
 * The read side of a stream connection: asyncio's `StreamReader`.
 *
 * Made by `openConnection`/`startServer`, or directly (with
 * `feedData`/`feedEof`) to parse bytes from elsewhere. At most one call may
 * wait for data at a time. Iterating it yields lines, like
 * `async for line in reader`.
 *
 * @example Parse lines fed by hand
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { StreamReader } from "@aio/net/streams";
 *
 * const reader = new StreamReader();
 * reader.feedData(new TextEncoder().encode("one\ntwo\nthree"));
 * reader.feedEof();
 * const lines: string[] = [];
 * for await (const line of reader) lines.push(new TextDecoder().decode(line));
 * assertEquals(lines, ["one\n", "two\n", "three"]);
 * assertEquals(reader.atEof(), true);
 * ```
 */
export class StreamReader implements AsyncIterable<Uint8Array> {
  #limit: number;
  /**
   * The bytes received and not yet read, in memory the reader owns and
   * lends to the transport's reads.
   */
  #mem: ReaderBuffer;
  #eof = false;
  /** `readable`, once asked for. */
  #readable: ReadableStream<Uint8Array> | undefined;
  /** `readable` was cancelled: bytes received from then on are dropped. */
  #cancelled = false;
  #exception: Error | null = null;
  #waiter: PromiseWithResolvers<void> | null = null;
  #transport: ReaderTransport | null = null;
  #paused = false;
  #toEof = false;
  /** The buffer of the `readInto()` waiting, which a read may fill directly. */
  #target: Uint8Array | null = null;
  /** `#target` while a read is lent it. */
  #lentTarget: Uint8Array | null = null;
  /** Bytes a read put straight into `#target`, for its `readInto()`. */
  #direct = 0;
  /** The last wait woken was such a `readInto()`: another is likely. */
  #readIntoLoop = false;
  /** The transport waits on this for the next wait (see `readerWait`). */
  #park: PromiseWithResolvers<void> | null = null;
  /** The next bytes filled a quiet read: wake a little later (see `holdWake`). */
  #holding = false;

  static {
    setReaderTransport = (reader, transport) => {
      reader.#transport = transport;
      if (transport === null) reader.#paused = false;
    };
    bufferedBytes = (reader) => reader.#mem.size;
    readerBuffer = (reader, sizehint) => reader.#lend(sizehint);
    readerUpdated = (reader, n) => reader.#commit(n);
    readerWait = (reader) => reader.#readWait();
    trimReader = (reader) => void reader.#mem.trim();
    holdWake = (reader) => reader.#holding = true;
  }

  /**
   * Makes an empty reader.
   *
   * @param options `limit`: the buffer limit in bytes (default 64 KiB).
   * @throws {TypeError} If `options` or `limit` has the wrong type.
   * @throws {RangeError} If `limit` is not a positive integer.
   */
  constructor(options?: StreamReaderOptions) {
    this.#limit = checkStreamOptions(options).limit ?? DEFAULT_LIMIT;
    // Keep what normal flow control needs; give back what a burst grew.
    this.#mem = new ReaderBuffer(2 * this.#limit + MAX_READ);
  }

  /**
   * The exception set on the reader, if any.
   *
   * @returns The exception, or `null`.
   */
  exception(): Error | null {
    return this.#exception;
  }

  /**
   * Sets the reader's exception: a pending read and every later wait reject
   * with it.
   *
   * @param exc The error.
   */
  setException(exc: Error): void {
    this.#exception = exc;
    this.#unpark();
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      this.#target = null;
      waiter.reject(exc);
    }
  }

  /**
   * Adds received bytes to the buffer. The reader copies them: `data` may
   * be reused at once.
   *
   * @param data The bytes received.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {Error} If `feedEof()` was already called.
   */
  feedData(data: Uint8Array): void {
    checkBytes(data, "data");
    if (this.#cancelled) return; // nobody reads any more
    if (this.#eof) {
      throw new Error("Cannot feedData(): feedEof() was already called");
    }
    if (data.length === 0) return;
    // While a read is in flight, the bytes wait behind it.
    if (this.#mem.append(data)) this.#received();
  }

  /** Marks the end of the data: waits end, and reads return what is left. */
  feedEof(): void {
    this.#eof = true;
    this.#unpark();
    this.#wake();
  }

  /**
   * Whether the buffer is empty and `feedEof()` was called.
   *
   * @returns `true` at the end of the stream.
   */
  atEof(): boolean {
    return this.#eof && this.#mem.size === 0;
  }

  /**
   * Reads up to `n` bytes: asyncio's `read`. `n = -1` (the default) reads to
   * EOF; `n = 0` returns an empty array at once; `n > 0` waits for at least
   * one byte, unless at EOF, where it returns an empty array.
   *
   * The result is a view into the reader's buffer, not a copy: it is the
   * caller's to keep (the reader never writes over it), but its `byteOffset`
   * is usually not 0 and its `buffer` holds other bytes, so make a
   * `DataView` as `new DataView(b.buffer, b.byteOffset, b.byteLength)`.
   *
   * @param n How many bytes at most, or -1 for everything to EOF.
   * @param options `signal` aborts the wait; the bytes stay buffered.
   * @returns The bytes read; empty at EOF.
   * @throws {TypeError} If `n` is not a number.
   * @throws {RangeError} If `n` is not an integer of at least -1.
   * @throws {Error} The reader's exception, `signal.reason`, or a second
   * concurrent wait.
   *
   * @example Read what is there, then to EOF
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { StreamReader } from "@aio/net/streams";
   *
   * const reader = new StreamReader();
   * reader.feedData(new Uint8Array([1, 2, 3]));
   * assertEquals(await reader.read(2), new Uint8Array([1, 2]));
   * reader.feedData(new Uint8Array([4]));
   * reader.feedEof();
   * assertEquals(await reader.read(), new Uint8Array([3, 4]));
   * assertEquals(await reader.read(), new Uint8Array(0));
   * ```
   */
  read(n = -1, options?: ReadOptions): Promise<Uint8Array> {
    // Not an async function: read(n) is the hot path of a streams loop, and
    // a promise chain costs less than an async frame (as in readInto).
    try {
      checkInteger(n, "n", -1);
      const signal = checkWaitOptions(options);
      this.#checkUnlocked("read");
      this.#throwIfFailed();
      if (n === 0) return Promise.resolve(EMPTY);
      if (n < 0) return this.#readToEof(signal);
      if (this.#mem.size === 0 && !this.#eof) {
        return this.#waitForData("read", signal).then(() => this.#takeUpTo(n));
      }
      return Promise.resolve(this.#takeUpTo(n));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `read(-1)`: gathers in the buffer, so an aborted wait loses nothing. */
  async #readToEof(signal: AbortSignal | undefined): Promise<Uint8Array> {
    this.#toEof = true;
    try {
      while (!this.#eof) await this.#waitForData("read", signal);
    } finally {
      this.#toEof = false;
    }
    return this.#takeUpTo(this.#mem.size);
  }

  /** Takes up to `n` bytes (all there are, at most), then resumes if drained. */
  #takeUpTo(n: number): Uint8Array {
    const data = this.#mem.take(Math.min(n, this.#mem.size));
    this.#maybeResume();
    return data;
  }

  /**
   * Reads into `buffer`, without allocating: like `Deno.Conn.read` or a web
   * stream's BYOB reader, beyond asyncio. Waits for at least one byte, then
   * copies as many as fit and are buffered.
   *
   * @param buffer Where to put the bytes.
   * @param options `signal` aborts the wait; the bytes stay buffered.
   * @returns How many bytes were read: 0 at EOF (or for an empty `buffer`).
   * @throws {TypeError} If `buffer` is not a `Uint8Array`.
   * @throws {Error} The reader's exception, `signal.reason`, or a second
   * concurrent wait.
   *
   * @example Read a stream into one reused buffer
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { StreamReader } from "@aio/net/streams";
   *
   * const reader = new StreamReader();
   * reader.feedData(new Uint8Array([1, 2, 3, 4, 5]));
   * reader.feedEof();
   * const buffer = new Uint8Array(4);
   * assertEquals(await reader.readInto(buffer), 4);
   * assertEquals(buffer, new Uint8Array([1, 2, 3, 4]));
   * assertEquals(await reader.readInto(buffer), 1);
   * assertEquals(buffer[0], 5);
   * assertEquals(await reader.readInto(buffer), 0); // EOF
   * ```
   */
  readInto(buffer: Uint8Array, options?: ReadOptions): Promise<number> {
    try {
      checkBytes(buffer, "buffer");
      const signal = checkWaitOptions(options);
      this.#checkUnlocked("readInto");
      return this.#readInto(buffer, signal);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #readInto(
    buffer: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    this.#throwIfFailed();
    if (buffer.length === 0) return Promise.resolve(0);
    if (this.#mem.size === 0 && !this.#eof) {
      const wait = this.#waitForData("readInto", signal);
      // Without a signal, the transport's next read may land in `buffer`
      // itself (see `#lend`). With one it may not: an aborted wait could
      // not stop a read already lent `buffer` from writing into it later.
      if (signal === undefined) this.#target = buffer;
      return wait.then(() => this.#readIntoDone(buffer));
    }
    return Promise.resolve(this.#copyOut(buffer));
  }

  /** A `readInto()` wait is over: its bytes are in `buffer` already, or copied there now. */
  #readIntoDone(buffer: Uint8Array): number {
    const n = this.#direct;
    if (n > 0) {
      this.#direct = 0;
      return n;
    }
    return this.#copyOut(buffer);
  }

  /** Copies as many buffered bytes as fit into `buffer`; returns how many. */
  #copyOut(buffer: Uint8Array): number {
    const n = this.#mem.copyOut(buffer);
    this.#maybeResume();
    return n;
  }

  /**
   * The reader as a web `ReadableStream` of bytes (`type: "bytes"`, so BYOB
   * readers read straight into their own buffers): the same stream on every
   * access. It pulls from the reader on demand, so the reader's flow control
   * holds (a consumer that does not pull pauses the transport, as one that
   * does not call `read()` does); it closes at EOF and errors with the
   * connection's error. `cancel()` ends the read side: unread bytes are
   * dropped, so are bytes that arrive later, and the connection closes once
   * its write side is done too (`writer.writable` closed).
   *
   * While the stream is locked (`pipeTo`, `pipeThrough`, a reader),
   * `read()`, `readline()`, `readexactly()`, `readuntil()` and `readInto()`
   * throw an `Error`: both would take bytes from the same buffer.
   *
   * @example Decode the text a server sends
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { openConnection, startServer } from "@aio/net/streams";
   *
   * await using server = await startServer((_reader, writer) => {
   *   writer.write(new TextEncoder().encode("héllo wörld"));
   *   writer.close();
   * }, "127.0.0.1", 0);
   * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
   * const [reader, writer] = await openConnection("127.0.0.1", port);
   * let text = "";
   * for await (const part of reader.readable.pipeThrough(new TextDecoderStream())) {
   *   text += part;
   * }
   * assertEquals(text, "héllo wörld");
   * writer.close();
   * ```
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: MAX_READ,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        const n = await this.#readInto(
          new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
          undefined,
        );
        if (this.#cancelled) return; // the stream is gone
        if (n === 0) {
          controller.close();
          request.respond(0);
        } else request.respond(n);
      },
      cancel: () => this.#cancel(),
    });
  }

  /**
   * Reads one line, through `\n`: asyncio's `readline`. At EOF it returns the
   * partial last line (empty when nothing is left).
   *
   * A line longer than the limit is discarded (through its `\n` if it was
   * seen, else the whole buffer), then `LimitOverrunError` is thrown, where
   * asyncio raises `ValueError`.
   *
   * The result is a view into the reader's buffer, not a copy, as `read()`'s
   * is: mind its `byteOffset`.
   *
   * @param options `signal` aborts the wait.
   * @returns The line, with its `\n` unless it is the last one.
   * @throws {LimitOverrunError} If the line exceeds the limit.
   * @throws {Error} The reader's exception, `signal.reason`, or a second
   * concurrent wait.
   *
   * @example Read a line
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { StreamReader } from "@aio/net/streams";
   *
   * const reader = new StreamReader();
   * reader.feedData(new TextEncoder().encode("GET / HTTP/1.1\r\nHost"));
   * assertEquals(new TextDecoder().decode(await reader.readline()), "GET / HTTP/1.1\r\n");
   * ```
   */
  async readline(options?: ReadOptions): Promise<Uint8Array> {
    this.#checkUnlocked("readline");
    try {
      return await this.readuntil(NEWLINE, options);
    } catch (err) {
      if (err instanceof IncompleteReadError) return err.partial;
      if (err instanceof LimitOverrunError) {
        if (this.#mem.startsWith(NEWLINE, err.consumed)) {
          this.#mem.take(err.consumed + NEWLINE.length);
        } else this.#mem.take(this.#mem.size);
        this.#maybeResume();
        throw new LimitOverrunError(err.message, err.consumed);
      }
      throw err;
    }
  }

  /**
   * Reads exactly `n` bytes: asyncio's `readexactly`.
   *
   * The result is a view into the reader's buffer, not a copy, as `read()`'s
   * is: mind its `byteOffset`.
   *
   * @param n How many bytes.
   * @param options `signal` aborts the wait.
   * @returns The `n` bytes.
   * @throws {IncompleteReadError} If EOF comes first (the buffer is emptied
   * into `partial`).
   * @throws {RangeError} If `n` is negative or not an integer.
   * @throws {Error} The reader's exception, `signal.reason`, or a second
   * concurrent wait.
   *
   * @example Read a length-prefixed frame
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { StreamReader } from "@aio/net/streams";
   *
   * const reader = new StreamReader();
   * reader.feedData(new Uint8Array([3, 7, 8, 9]));
   * const [length] = await reader.readexactly(1);
   * assertEquals(await reader.readexactly(length!), new Uint8Array([7, 8, 9]));
   * ```
   */
  async readexactly(n: number, options?: ReadOptions): Promise<Uint8Array> {
    checkInteger(n, "n", 0);
    const signal = checkWaitOptions(options);
    this.#checkUnlocked("readexactly");
    this.#throwIfFailed();
    if (n === 0) return EMPTY;
    while (this.#mem.size < n) {
      if (this.#eof) {
        throw new IncompleteReadError(this.#mem.take(this.#mem.size), n);
      }
      await this.#waitForData("readexactly", signal);
    }
    const data = this.#mem.take(n);
    this.#maybeResume();
    return data;
  }

  /**
   * Reads through the first separator: asyncio's `readuntil`. With several
   * separators, it stops at the match that ends earliest in the stream
   * (CPython 3.13). A `Uint8Array` is always one separator; strings are
   * encoded as UTF-8.
   *
   * The result is a view into the reader's buffer, not a copy, as `read()`'s
   * is: mind its `byteOffset`.
   *
   * @param separator One separator or a list of them (default `"\n"`).
   * @param options `signal` aborts the wait.
   * @returns The bytes through the separator.
   * @throws {IncompleteReadError} If EOF comes first (`expected` is `null`;
   * the buffer is emptied into `partial`).
   * @throws {LimitOverrunError} If the limit is reached first (the data
   * stays in the buffer).
   * @throws {RangeError} If a separator is empty or the list is.
   * @throws {TypeError} If a separator is neither bytes nor a string.
   *
   * @example Split a stream on either of two separators
   * ```ts
   * import { assertEquals } from "@std/assert";
   * import { StreamReader } from "@aio/net/streams";
   *
   * const reader = new StreamReader();
   * reader.feedData(new TextEncoder().encode("a;b\r\nc"));
   * const dec = (b: Uint8Array) => new TextDecoder().decode(b);
   * assertEquals(dec(await reader.readuntil([";", "\r\n"])), "a;");
   * assertEquals(dec(await reader.readuntil([";", "\r\n"])), "b\r\n");
   * ```
   */
  async readuntil(
    separator: Separator | Separator[] = NEWLINE,
    options?: ReadOptions,
  ): Promise<Uint8Array> {
    // Shortest first, so that of two matches ending at the same byte the
    // shorter wins whatever the list's order (CPython 3.13 sorts them too):
    // where the match starts decides the limit check.
    const seps = toSeparators(separator).sort((a, b) => a.length - b.length);
    const signal = checkWaitOptions(options);
    this.#checkUnlocked("readuntil");
    this.#throwIfFailed();
    let minLen = Infinity;
    let maxLen = 0;
    for (const sep of seps) {
      minLen = Math.min(minLen, sep.length);
      maxLen = Math.max(maxLen, sep.length);
    }
    let offset = 0;
    let matchStart = -1;
    let matchEnd = -1;
    while (true) {
      const size = this.#mem.size;
      if (size - offset >= minLen) {
        for (const sep of seps) {
          const at = this.#mem.find(sep, offset);
          if (at !== -1 && (matchEnd === -1 || at + sep.length < matchEnd)) {
            matchStart = at;
            matchEnd = at + sep.length;
          }
        }
        if (matchEnd !== -1) break;
        offset = Math.max(0, size + 1 - maxLen);
        if (offset > this.#limit) {
          throw new LimitOverrunError(
            `Separator is not found, and the chunk exceeds the limit of ${this.#limit} bytes (raise it with the limit option)`,
            offset,
          );
        }
      }
      if (this.#eof) {
        throw new IncompleteReadError(this.#mem.take(this.#mem.size), null);
      }
      await this.#waitForData("readuntil", signal);
    }
    if (matchStart > this.#limit) {
      throw new LimitOverrunError(
        `Separator is found, but the chunk is longer than the limit of ${this.#limit} bytes (raise it with the limit option)`,
        matchStart,
      );
    }
    const data = this.#mem.take(matchEnd);
    this.#maybeResume();
    return data;
  }

  /**
   * Iterates over lines until EOF, as `async for line in reader` does.
   *
   * @returns An async iterator of lines.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** Shows the state that matters, as asyncio's `__repr__` does. */
  [Symbol.for("Deno.customInspect")](): string {
    const parts = [`${this.#mem.size} bytes`, `limit=${this.#limit}`];
    if (this.#eof) parts.push("eof");
    if (this.#exception) parts.push(`exception=${this.#exception.name}`);
    if (this.#waiter) parts.push("waiting");
    if (this.#paused) parts.push("paused");
    return `StreamReader { ${parts.join(", ")} }`;
  }

  // ---- Internals --------------------------------------------------------

  #throwIfFailed(): void {
    if (this.#exception) throw this.#exception;
  }

  /** Refuses a direct read while `readable` is locked. */
  #checkUnlocked(what: string): void {
    if (this.#readable?.locked) {
      throw new Error(
        `Cannot ${what}(): reader.readable is locked (a pipe or a stream reader is reading it)`,
      );
    }
  }

  /** `readable` was cancelled: drop what is buffered and what comes. */
  #cancel(): void {
    this.#cancelled = true;
    this.#eof = true;
    this.#mem.clear();
    this.#unpark();
    this.#wake(); // a pull in flight ends
    // Keep reading (and dropping) so that the peer's EOF is seen.
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    this.#transport?.readCancelled?.();
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
      // A readInto() that a read could fill directly: the next will likely
      // come as soon as this one returns (see `#readWait`).
      this.#readIntoLoop = this.#target !== null;
      this.#target = null;
      waiter.resolve();
    }
  }

  /**
   * Wakes the waiting call `READ_WAIT_HOPS` microtasks from now, unless
   * something (the next bytes, EOF, an error) wakes it before.
   */
  #wakeSoon(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    afterHops(() => this.#waiter === waiter, () => this.#wake());
  }

  /** Lets the transport read (see `#readWait`). */
  #unpark(): void {
    const park = this.#park;
    if (park) {
      this.#park = null;
      park.resolve();
    }
  }

  /**
   * The transport is about to lend memory for its next read. Right after a
   * `readInto()` without a signal was served, the application usually calls
   * the next one within a few microtasks (`readInto`, `write`, `drain`,
   * `readInto`): the transport waits for it, up to `READ_WAIT_HOPS`
   * microtasks, so that the read lands in its buffer, not in the reader's
   * memory to be copied. Any wait, EOF or error ends the wait at once.
   */
  #readWait(): Promise<void> | null {
    if (!this.#readIntoLoop) return null;
    this.#readIntoLoop = false;
    if (this.#waiter || this.#eof || this.#paused) return null;
    const park = Promise.withResolvers<void>();
    this.#park = park;
    afterHops(() => this.#park === park, () => this.#unpark());
    return park.promise;
  }

  /** Waits for `feedData`, `feedEof` or `setException`. */
  #waitForData(
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (this.#waiter) {
      throw new Error(
        `Cannot ${what}(): another call is already waiting for data on this reader`,
      );
    }
    signal?.throwIfAborted();
    // Waiting while paused would deadlock (readexactly(n) with n > limit).
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    const waiter = Promise.withResolvers<void>();
    this.#waiter = waiter;
    this.#unpark();
    // An aborted wait clears the waiter at once: an immediate retry works.
    return abortable(waiter.promise, signal, {
      onAbort: () => {
        if (this.#waiter === waiter) this.#waiter = null;
      },
    });
  }

  #maybeResume(): void {
    if (this.#paused && this.#mem.size <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  /** New bytes are in: wake the waiting call, pause the transport if too many. */
  #received(): void {
    if (this.#holding) {
      this.#holding = false;
      this.#wakeSoon();
    } else this.#wake();
    if (
      this.#transport && !this.#paused && !this.#toEof &&
      this.#mem.size > 2 * this.#limit
    ) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
  }

  /**
   * Lends the reader's memory to the transport's next read (see
   * `readerBuffer`). A buffer lent before and never updated was abandoned
   * by its read (EOF, close, or the transport switched protocols mid-read):
   * the bytes `feedData` queued behind it are in now, before this read's.
   */
  #lend(sizehint: number): Uint8Array {
    const size = this.#mem.size;
    const target = this.#target;
    if (target !== null && this.#mem.lendTo(target) !== null) {
      this.#lentTarget = target; // the read lands in the readInto's buffer
      return target;
    }
    const lent = this.#mem.lend(sizehint);
    if (this.#mem.size !== size) this.#received();
    return lent;
  }

  /** The read lent the buffer wrote `n` bytes (see `readerUpdated`). */
  #commit(n: number): void {
    const lentTarget = this.#lentTarget;
    this.#lentTarget = null;
    let added = this.#mem.commit(n);
    if (lentTarget !== null && n > 0) {
      if (this.#target === lentTarget) {
        this.#direct = n; // the waiting readInto() has its bytes
        this.#wake();
      } else {
        // Its wait ended otherwise (EOF fed by hand, say): keep the bytes.
        added = this.#mem.append(lentTarget.subarray(0, n)) || added;
      }
    }
    if (this.#cancelled) this.#mem.clear(); // nobody reads any more
    else if (added) this.#received();
  }
}

/**
 * Calls `then` `READ_WAIT_HOPS` microtasks from now, unless `still` says
 * otherwise at one of them (what was waited for came sooner).
 */
function afterHops(still: () => boolean, then: () => void): void {
  let hops = READ_WAIT_HOPS;
  const hop = (): void => {
    if (!still()) return;
    if (--hops > 0) queueMicrotask(hop);
    else then();
  };
  queueMicrotask(hop);
}

/** Normalises `readuntil`'s separator argument to a list of byte strings. */
function toSeparators(separator: Separator | Separator[]): Uint8Array[] {
  const list = Array.isArray(separator) ? separator : [separator];
  if (list.length === 0) {
    throw new RangeError(
      "separator must hold at least one separator, got an empty list",
    );
  }
  return list.map((sep, i) => {
    const name = Array.isArray(separator) ? `separator[${i}]` : "separator";
    const bytes = typeof sep === "string" ? new TextEncoder().encode(sep) : sep;
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError(
        `${name} must be a Uint8Array or a string, got ${describe(sep)}`,
      );
    }
    if (bytes.length === 0) throw new RangeError(`${name} must not be empty`);
    return bytes;
  });
}
