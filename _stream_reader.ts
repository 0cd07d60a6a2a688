// Copyright 2026 the @aio/net authors. MIT license.
/**
 * `StreamReader` and its errors (asyncio's `streams.StreamReader`).
 *
 * The buffer is a list of the chunks received, never copied as a whole:
 * reads take bytes off the front (a view when they come from one chunk), and
 * a separator search resumes where the last one stopped, so the cost is
 * linear in the bytes handled.
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
      `${partial.length} bytes read on a total of ${
        expected ?? "undefined"
      } expected bytes`,
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
  #chunks: (Uint8Array | undefined)[] = [];
  #head = 0;
  #headOff = 0;
  #size = 0;
  #eof = false;
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
   * Adds received bytes to the buffer. The reader keeps `data` without
   * copying: do not change it afterwards.
   *
   * @param data The bytes received.
   * @throws {TypeError} If `data` is not a `Uint8Array`.
   * @throws {Error} If `feedEof()` was already called.
   */
  feedData(data: Uint8Array): void {
    checkBytes(data, "data");
    if (this.#eof) {
      throw new Error("Cannot feedData(): feedEof() was already called");
    }
    if (data.length === 0) return;
    this.#chunks.push(data);
    this.#size += data.length;
    this.#wake();
    if (
      this.#transport && !this.#paused && !this.#toEof &&
      this.#size > 2 * this.#limit
    ) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
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
  async read(n = -1, options?: ReadOptions): Promise<Uint8Array> {
    checkInteger(n, "n", -1);
    const signal = checkWaitOptions(options);
    this.#throwIfFailed();
    if (n === 0) return EMPTY;
    if (n < 0) {
      // Gather in the buffer, so an aborted wait loses nothing.
      this.#toEof = true;
      try {
        while (!this.#eof) await this.#waitForData("read", signal);
      } finally {
        this.#toEof = false;
      }
      const data = this.#take(this.#size);
      this.#maybeResume();
      return data;
    }
    if (this.#size === 0 && !this.#eof) await this.#waitForData("read", signal);
    const data = this.#take(Math.min(n, this.#size));
    this.#maybeResume();
    return data;
  }

  /**
   * Reads one line, through `\n`: asyncio's `readline`. At EOF it returns the
   * partial last line (empty when nothing is left).
   *
   * A line longer than the limit is discarded (through its `\n` if it was
   * seen, else the whole buffer), then `LimitOverrunError` is thrown, where
   * asyncio raises `ValueError`.
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
    const seps = toSeparators(separator);
    const signal = checkWaitOptions(options);
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

  /** Removes and returns the first `n` bytes (a view when one chunk holds them). */
  #take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#head]!;
    let out: Uint8Array;
    if (first.length - this.#headOff >= n) {
      out = first.subarray(this.#headOff, this.#headOff + n);
      this.#headOff += n;
      if (this.#headOff === first.length) this.#dropHead();
    } else {
      out = new Uint8Array(n);
      let off = 0;
      while (off < n) {
        // #dropHead() may compact the list: always index the current one.
        const chunk = this.#chunks[this.#head]!;
        const m = Math.min(chunk.length - this.#headOff, n - off);
        out.set(chunk.subarray(this.#headOff, this.#headOff + m), off);
        off += m;
        this.#headOff += m;
        if (this.#headOff === chunk.length) this.#dropHead();
      }
    }
    this.#size -= n;
    return out;
  }

  #dropHead(): void {
    this.#chunks[this.#head++] = undefined;
    this.#headOff = 0;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
  }

  /** The position of the first `sep` starting at or after `from`, or -1. */
  #find(sep: Uint8Array, from: number): number {
    const chunks = this.#chunks;
    const first = sep[0]!;
    // Find the chunk holding position `from`, walking back from the end:
    // a waiting readuntil searches only the newest bytes, so this is O(1).
    let i = chunks.length - 1;
    let base = this.#size - chunks[i]!.length; // buffer position of chunk i's first byte
    while (i > this.#head && base > from) base -= chunks[--i]!.length;
    for (; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const start = i === this.#head ? this.#headOff : 0;
      // For the head chunk, `base` counts from its first live byte.
      if (i === this.#head) base = 0;
      const len = chunk.length - start;
      if (base + len <= from) {
        base += len;
        continue;
      }
      let j = start + Math.max(0, from - base);
      while (true) {
        const k = chunk.indexOf(first, j);
        if (k === -1) break;
        const at = base + k - start;
        if (at + sep.length > this.#size) return -1;
        if (sep.length === 1 || this.#matchesAt(i, k, sep)) return at;
        j = k + 1;
      }
      base += len;
    }
    return -1;
  }

  /** Whether `sep` starts at index `k` of chunk `i` (continuing into later chunks). */
  #matchesAt(i: number, k: number, sep: Uint8Array): boolean {
    let chunk = this.#chunks[i]!;
    let pos = k;
    for (let s = 0; s < sep.length; s++, pos++) {
      while (pos >= chunk.length) {
        chunk = this.#chunks[++i]!;
        pos = 0;
      }
      if (chunk[pos] !== sep[s]) return false;
    }
    return true;
  }

  /** Whether the buffer holds `sep` at position `at`. */
  #startsWithAt(sep: Uint8Array, at: number): boolean {
    if (at + sep.length > this.#size) return false;
    let base = 0;
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      const start = i === this.#head ? this.#headOff : 0;
      const len = chunk.length - start;
      if (base + len > at) return this.#matchesAt(i, start + at - base, sep);
      base += len;
    }
    return false;
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
