// Copyright 2026 the @aio/net authors. MIT license.
/**
 * `StreamReader` and its errors (asyncio's `streams.StreamReader`).
 *
 * The reader owns its memory, and the transport reads straight into it (see
 * `readerBuffer`). `readInto` copies out, so that memory is reused; `read()`
 * and the others return views, so it is then only appended to and replaced
 * when full, without copying what was read. A separator search resumes where
 * the last one stopped, so the cost is linear in the bytes handled.
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
import type { ReadOptions, StreamReaderOptions } from "./_contract.ts";
import { abortable } from "./_signal.ts";

/** The default buffer limit: 64 KiB, as asyncio's. */
const DEFAULT_LIMIT = 64 * 1024;
/** A transport's read is offered this much at first... */
const MIN_READ = 4 * 1024;
/** ...and twice as much each time it fills it, up to this. */
const MAX_READ = 64 * 1024;
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
   * The bytes received and not yet read are `#buf[#start..#end]`, in memory
   * the reader owns: the transport reads straight into the space after
   * `#end`. `readInto` copies out, so the buffer is reused; `read()` and the
   * others return views, and the buffer is then replaced when full (see
   * `#reserve`).
   */
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** How much the transport's next read is offered. */
  #readSize = MIN_READ;
  /** Whether views of `#buf` were handed out: then it is only appended to. */
  #shared = false;
  /** Where a read in flight writes (lent by `readerBuffer`), or -1. */
  #lent = -1;
  #lentSize = 0;
  #lentGrows = false;
  /** The fresh buffer a read in flight writes to, if not `#buf` (see `#lend`). */
  #next: Uint8Array | null = null;
  /** `feedData` calls made while a read was in flight, added after it. */
  #queued: Uint8Array[] = [];
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

  static {
    setReaderTransport = (reader, transport) => {
      reader.#transport = transport;
      if (transport === null) reader.#paused = false;
    };
    bufferedBytes = (reader) => reader.#size;
    readerBuffer = (reader, sizehint) => reader.#lend(sizehint);
    readerUpdated = (reader, n) => reader.#commit(n);
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
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = null;
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
    if (this.#lent !== -1) {
      this.#queued.push(data.slice()); // after the read in flight
      return;
    }
    this.#reserve(data.length);
    this.#buf.set(data, this.#end);
    this.#end += data.length;
    this.#received();
  }

  /** Marks the end of the data: waits end, and reads return what is left. */
  feedEof(): void {
    this.#eof = true;
    this.#wake();
  }

  /**
   * Whether the buffer is empty and `feedEof()` was called.
   *
   * @returns `true` at the end of the stream.
   */
  atEof(): boolean {
    return this.#eof && this.#size === 0;
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
      if (this.#size === 0 && !this.#eof) {
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
    return this.#takeUpTo(this.#size);
  }

  /** Takes up to `n` bytes (all there are, at most), then resumes if drained. */
  #takeUpTo(n: number): Uint8Array {
    const data = this.#take(Math.min(n, this.#size));
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
    if (this.#size === 0 && !this.#eof) {
      return this.#waitForData("readInto", signal).then(() =>
        this.#copyOut(buffer)
      );
    }
    return Promise.resolve(this.#copyOut(buffer));
  }

  /** Copies as many buffered bytes as fit into `buffer`; returns how many. */
  #copyOut(buffer: Uint8Array): number {
    const n = Math.min(buffer.length, this.#size);
    buffer.set(this.#buf.subarray(this.#start, this.#start + n));
    this.#consume(n);
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
        if (this.#startsWithAt(NEWLINE, err.consumed)) {
          this.#take(err.consumed + NEWLINE.length);
        } else this.#take(this.#size);
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
    while (this.#size < n) {
      if (this.#eof) throw new IncompleteReadError(this.#take(this.#size), n);
      await this.#waitForData("readexactly", signal);
    }
    const data = this.#take(n);
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
      const size = this.#size;
      if (size - offset >= minLen) {
        for (const sep of seps) {
          const at = this.#find(sep, offset);
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
        throw new IncompleteReadError(this.#take(this.#size), null);
      }
      await this.#waitForData("readuntil", signal);
    }
    if (matchStart > this.#limit) {
      throw new LimitOverrunError(
        `Separator is found, but the chunk is longer than the limit of ${this.#limit} bytes (raise it with the limit option)`,
        matchStart,
      );
    }
    const data = this.#take(matchEnd);
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
    const parts = [`${this.#size} bytes`, `limit=${this.#limit}`];
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
    this.#consume(this.#size);
    this.#queued = [];
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
      waiter.resolve();
    }
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
    // An aborted wait clears the waiter at once: an immediate retry works.
    return abortable(waiter.promise, signal, {
      onAbort: () => {
        if (this.#waiter === waiter) this.#waiter = null;
      },
    });
  }

  #maybeResume(): void {
    if (this.#paused && this.#size <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  /** How many unread bytes the reader holds. */
  get #size(): number {
    return this.#end - this.#start;
  }

  /** New bytes are in: wake the waiting call, pause the transport if too many. */
  #received(): void {
    this.#wake();
    if (
      this.#transport && !this.#paused && !this.#toEof &&
      this.#size > 2 * this.#limit
    ) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
  }

  /**
   * Makes room for `want` more bytes after `#end`: moves the unread bytes
   * to the front, or into a new buffer. Never while a read is in flight.
   *
   * While no view of the buffer has been handed out (`readInto`, or reads
   * that copied), the buffer is reused over and over. Once a read handed out
   * a view (`#shared`), the bytes before `#end` are the caller's: the buffer
   * is then only appended to, and replaced by a fresh one, a few reads
   * large, when it is full.
   */
  #reserve(want: number): void {
    const size = this.#size;
    if (size === 0 && !this.#shared) {
      this.#start = this.#end = 0;
      // Give back what a burst (readexactly beyond the limit, a large
      // feedData) grew; normal flow control never takes it this far.
      if (this.#buf.length > 2 * this.#limit + MAX_READ) this.#buf = EMPTY;
    }
    const buf = this.#buf;
    if (buf.length - this.#end >= want) return;
    if (!this.#shared && buf.length - size >= want && this.#start > 0) {
      buf.copyWithin(0, this.#start, this.#end);
    } else {
      const grown = new Uint8Array(
        this.#shared
          ? Math.max(4 * this.#readSize, size + want)
          : Math.max(2 * buf.length, size + want, MIN_READ),
      );
      grown.set(buf.subarray(this.#start, this.#end));
      this.#buf = grown;
      this.#shared = false;
    }
    this.#start = 0;
    this.#end = size;
  }

  /**
   * Lends memory to the transport's next read (see `readerBuffer`): the
   * space after `#end`, or the start of a fresh buffer (`#next`). A buffer lent before and never updated was
   * abandoned by its read (EOF, close, or the transport switched protocols
   * mid-read), which has ended: nothing writes into it any more.
   *
   * A shared buffer (`#shared`) is filled to its end: the read is offered
   * what is left when that is at least half a read. Below that, the read
   * goes to the start of a fresh buffer, and `#commit` puts before it the
   * unread bytes the application has not taken by then (while the read was
   * in flight it usually takes them all), instead of copying them now.
   */
  #lend(sizehint: number): Uint8Array {
    if (this.#lent !== -1) {
      // The read lent before was abandoned: what feedData queued behind it
      // comes before this read's bytes.
      this.#lent = -1;
      this.#next = null;
      if (this.#appendQueued()) this.#received();
    }
    let want = sizehint > 0 ? sizehint : this.#readSize;
    // A read that fills what it was offered doubles the next (up to MAX_READ).
    this.#lentGrows = sizehint <= 0;
    this.#lentSize = want;
    if (this.#shared && sizehint <= 0) {
      const space = this.#buf.length - this.#end;
      if (space < want / 2) {
        this.#next = new Uint8Array(
          Math.max(4 * this.#readSize, this.#size + want),
        );
        this.#lent = 0;
        return this.#next.subarray(0, want);
      }
      if (space < want) {
        want = space;
        this.#lentGrows = false;
      }
    }
    this.#reserve(want);
    this.#lent = this.#end;
    this.#lentSize = want;
    return this.#buf.subarray(this.#end, this.#end + want);
  }

  /** The read lent the buffer wrote `n` bytes (see `readerUpdated`). */
  #commit(n: number): void {
    if (this.#lent === -1) {
      throw new Error("Cannot bufferUpdated(): no buffer was lent");
    }
    const next = this.#next;
    this.#lent = -1;
    this.#next = null;
    if (this.#cancelled) return; // dropped: nobody reads any more
    if (n > this.#lentSize) {
      throw new RangeError(
        `nbytes (${n}) is more than the buffer lent (${this.#lentSize})`,
      );
    }
    if (next) {
      // Bytes still unread (no more than when the read was lent: feedData
      // queues while it is in flight, so there is room) go before the new.
      const size = this.#size;
      if (size > 0) {
        next.copyWithin(size, 0, n);
        next.set(this.#buf.subarray(this.#start, this.#end));
      }
      this.#buf = next;
      this.#start = 0;
      this.#end = size;
      this.#shared = false;
    }
    if (n === this.#lentSize && this.#lentGrows && this.#readSize < MAX_READ) {
      this.#readSize *= 2;
    }
    this.#end += n;
    if (this.#appendQueued() || n > 0) this.#received();
  }

  /** Appends what `feedData` queued behind a read; returns whether any. */
  #appendQueued(): boolean {
    const queued = this.#queued;
    if (queued.length === 0) return false;
    this.#queued = [];
    for (const data of queued) {
      this.#reserve(data.length);
      this.#buf.set(data, this.#end);
      this.#end += data.length;
    }
    return true;
  }

  /** Drops the first `n` unread bytes. */
  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end && this.#lent === -1 && !this.#shared) {
      this.#start = this.#end = 0;
    }
  }

  /**
   * Removes and returns the first `n` bytes: a view of the buffer, which is
   * the caller's from now on (see `#reserve`).
   */
  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#shared = true;
    this.#consume(n);
    return out;
  }

  /** The position of the first `sep` starting at or after `from`, or -1. */
  #find(sep: Uint8Array, from: number): number {
    const base = this.#start;
    const end = this.#end;
    const data = this.#buf.subarray(0, end);
    const first = sep[0]!;
    let i = base + from;
    while (true) {
      const k = data.indexOf(first, i);
      if (k === -1 || k + sep.length > end) return -1;
      if (sep.length === 1 || this.#matchesAt(k, sep)) return k - base;
      i = k + 1;
    }
  }

  /** Whether `sep` is at index `k` of the buffer. */
  #matchesAt(k: number, sep: Uint8Array): boolean {
    const buf = this.#buf;
    for (let s = 0; s < sep.length; s++) {
      if (buf[k + s] !== sep[s]) return false;
    }
    return true;
  }

  /** Whether the unread bytes hold `sep` at position `at`. */
  #startsWithAt(sep: Uint8Array, at: number): boolean {
    if (at + sep.length > this.#size) return false;
    return this.#matchesAt(this.#start + at, sep);
  }
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
