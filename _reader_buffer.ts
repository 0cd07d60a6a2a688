// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The memory of a `StreamReader` (internal): a queue of bytes that a
 * transport reads straight into (`lend`, then `commit`), that `feedData`
 * copies into (`append`), and that reads empty by views (`take`) or by
 * copies (`copyOut`). It knows nothing of waiters, limits or flow control:
 * those are the reader's (`_stream_reader.ts`).
 *
 * Copying out (`copyOut`) leaves the memory the reader's, so it is reused;
 * a view (`take`) makes the bytes before it the caller's, so the memory is
 * then only appended to, and replaced by a fresh one when full, without
 * copying what was taken.
 *
 * @module
 */
import {
  MAX_READ,
  MIN_READ,
  nextReadSize,
  QUIET_EXTRA,
  QUIET_READ,
  quietMemory,
  spareSlabs,
} from "./_read_memory.ts";

const EMPTY = new Uint8Array(0);

/** Where a lend's memory is, and so how its bytes come in at `commit`. */
enum Lend {
  /** After the unread bytes in `#buf`: they are in place. */
  Buf,
  /** A fresh buffer that replaces `#buf`, the unread bytes copied before them. */
  Fresh,
  /** The small `#quiet` buffer: copied in after the unread bytes. */
  Quiet,
  /** A caller's buffer (`lendTo`): the bytes are the caller's, none come in. */
  Caller,
}

/**
 * A reader's unread bytes, in memory it owns and lends to the transport's
 * reads (internal).
 *
 * A lend is pending from `lend` until `commit`; a read that ends without
 * committing (EOF, close, the transport switched protocols mid-read)
 * abandons it, and the next `lend` knows: nothing writes into the memory
 * lent before any more. While a lend is pending, `append` queues its bytes
 * behind the read's; if the read is abandoned, they come before the next
 * read's.
 */
export class ReaderBuffer {
  /** The most memory kept while empty (see `#reserve`). */
  readonly #retain: number;
  /**
   * The unread bytes are `#buf[#start..#end]`; a lent read writes into the
   * space after `#end` (or into `#next`, see `#lentTo`).
   */
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  /** How much the transport's next read is offered. */
  #readSize = MIN_READ;
  /** Whether views of `#buf` were handed out: then it is only appended to. */
  #shared = false;
  /**
   * Whether the bytes were last read out by `take` (views), not `copyOut`:
   * then a full buffer is replaced, not grown (see `lend`).
   */
  #takes = false;
  /** Where the pending lend writes (in `#next` if set, else in `#buf`), or -1. */
  #lent = -1;
  #lentSize = 0;
  #lentGrows = false;
  /**
   * The memory the pending lend writes to (from its start), if not `#buf`:
   * a fresh buffer (all of it: `commit` puts the unread bytes in front of
   * the read's, see `lend`), `#quiet`, or a caller's buffer (`lendTo`).
   */
  #next: Uint8Array | null = null;
  /** How the pending lend's bytes come in at `commit` (see `Lend`). */
  #lentTo: Lend = Lend.Buf;
  /** Small memory for reads that may wait, once `#buf` is large (see `lend`). */
  #quiet: Uint8Array | null = null;
  /** `append` calls made while a lend was pending, added after it. */
  #queued: Uint8Array[] = [];

  /**
   * Makes an empty buffer.
   *
   * @param retain The most memory kept once every byte is read: a buffer a
   * burst grew beyond it is given back then.
   */
  constructor(retain: number) {
    this.#retain = retain;
  }

  /**
   * How many unread bytes there are (bytes queued behind a pending lend
   * not counted).
   *
   * @returns The count.
   */
  get size(): number {
    return this.#end - this.#start;
  }

  /**
   * Whether a lend is pending (lent, not committed, not yet abandoned).
   *
   * @returns `true` between `lend` and `commit`.
   */
  get lending(): boolean {
    return this.#lent !== -1;
  }

  /**
   * Appends a copy of `data`; `data` may be reused at once. While a lend is
   * pending, the copy waits behind it.
   *
   * @param data The bytes.
   * @returns Whether they are unread bytes now (`false`: queued).
   */
  append(data: Uint8Array): boolean {
    if (data.length === 0) return true;
    if (this.#lent !== -1) {
      this.#queued.push(data.slice()); // after the read in flight
      return false;
    }
    this.#reserve(data.length);
    this.#buf.set(data, this.#end);
    this.#end += data.length;
    return true;
  }

  /**
   * Lends memory to the transport's next read: the space after the unread
   * bytes, or the start of a fresh buffer. A lend still pending was
   * abandoned by its read: the bytes queued behind it are appended first
   * (`size` grows).
   *
   * A shared buffer (one `take` handed views of) is filled to its end: the
   * read is offered what is left when that is at least half a read. Below
   * that, the read goes to the start of a fresh buffer, and `commit` puts
   * before it the unread bytes not taken by then (while the read was in
   * flight they were usually all taken), instead of copying them now.
   *
   * A small read asked for (`sizehint` of `QUIET_READ + QUIET_EXTRA` or less: the
   * transport's read after the peer went quiet, which may wait for long, or
   * the bytes a TLS engine has decrypted) never holds a large buffer:
   * once `#buf` is larger than that, or has no room for the read,
   * the read goes to small memory of the buffer's own, and `commit` copies
   * the bytes in. So an idle
   * connection's read holds little, and `trim` can give `#buf` back.
   *
   * @param sizehint The size of the read (the lend is that size, or at
   * least half of it when it fills a shared buffer to its end), or 0 or
   * less for a read of the size the reads so far earned (which doubles, up
   * to `MAX_READ`, each time a read fills what it was offered).
   * @returns The memory to write into.
   */
  lend(sizehint: number): Uint8Array {
    this.#abandon();
    let want = sizehint > 0 ? sizehint : this.#readSize;
    const quiet = QUIET_READ + QUIET_EXTRA;
    if (sizehint > quiet) {
      // The transport's reads are this large now: new memory is sized for
      // a few of them, even when it is taken for a small read's bytes.
      this.#readSize = Math.min(sizehint, MAX_READ);
    }
    this.#lentGrows = sizehint <= 0;
    this.#lentSize = want;
    const space = this.#buf.length - this.#end;
    if (sizehint > 0 && want <= quiet && this.#buf.length > 0) {
      const room = this.#shared
        ? space >= want / 2
        : this.#buf.length - this.size >= want;
      if (this.#buf.length > quiet || !room) {
        const small = this.#quiet = quietMemory(this.#quiet, want);
        return this.#lendOther(Lend.Quiet, small.subarray(0, want));
      }
    }
    if (this.#shared || this.#takes) {
      // Filled to its end like a shared buffer, when the bytes are taken
      // as views, then replaced (see `#slabFor`).
      if (space < want / 2) {
        const next = this.#slabFor(want);
        this.#lendOther(Lend.Fresh, next); // all of it: commit moves into it
        return next.subarray(0, want);
      }
      if (space < want) {
        want = space;
        this.#lentGrows = false;
      }
    }
    this.#reserve(want);
    this.#lentTo = Lend.Buf;
    this.#lent = this.#end;
    this.#lentSize = want;
    return this.#buf.subarray(this.#end, this.#end + want);
  }

  /**
   * Lends `dest`, a caller's buffer, to the transport's next read, if no
   * byte is unread: the read's bytes then go straight there, and `commit`
   * adds none here (a `readInto` waiting on an empty reader). A lend still
   * pending was abandoned, as in `lend`.
   *
   * @param dest The caller's buffer; not empty.
   * @returns `dest`, or `null` (nothing lent) when there are unread bytes.
   */
  lendTo(dest: Uint8Array): Uint8Array | null {
    this.#abandon();
    if (this.size > 0) return null;
    this.#lentGrows = false;
    this.#lentSize = dest.length;
    return this.#lendOther(Lend.Caller, dest);
  }

  /**
   * Whether the pending lend is a caller's buffer (`lendTo`): its bytes go
   * there, not here.
   *
   * @returns `true` between `lendTo` and `commit`.
   */
  get lentToCaller(): boolean {
    return this.#lent !== -1 && this.#lentTo === Lend.Caller;
  }

  /**
   * The read lent memory wrote `n` bytes into its start: they become unread
   * bytes (except for a caller's buffer, see `lendTo`), followed by those
   * queued behind the read.
   *
   * @param n How many bytes the read wrote.
   * @returns Whether any bytes were added.
   * @throws {Error} If no lend is pending.
   * @throws {RangeError} If `n` is more than was lent.
   */
  commit(n: number): boolean {
    if (this.#lent === -1) {
      throw new Error("Cannot bufferUpdated(): no buffer was lent");
    }
    const next = this.#next;
    const to = this.#lentTo;
    this.#lent = -1;
    this.#next = null;
    this.#lentTo = Lend.Buf;
    if (n > this.#lentSize) {
      throw new RangeError(
        `nbytes (${n}) is more than the buffer lent (${this.#lentSize})`,
      );
    }
    if (to === Lend.Caller) return this.#appendQueued();
    if (to === Lend.Quiet) {
      if (n > 0) {
        this.#reserve(n);
        this.#buf.set(next!.subarray(0, n), this.#end);
        this.#end += n;
      }
      return this.#appendQueued() || n > 0;
    }
    if (to === Lend.Fresh) {
      // Bytes still unread (no more than when the read was lent: append
      // queues while it is in flight, so there is room) go before the new.
      const fresh = next!;
      const size = this.size;
      if (size > 0) {
        fresh.copyWithin(size, 0, n);
        fresh.set(this.#buf.subarray(this.#start, this.#end));
      }
      // No view of the old buffer was handed out: it is free memory now.
      if (!this.#shared) spareSlabs.give(this.#buf);
      this.#buf = fresh;
      this.#start = 0;
      this.#end = size;
      this.#shared = false;
    }
    if (this.#lentGrows) {
      this.#readSize = nextReadSize(this.#readSize, this.#lentSize, n, false);
    }
    this.#end += n;
    return this.#appendQueued() || n > 0;
  }

  /**
   * Gives back the memory kept for more bytes, if none is unread and no
   * read is lent it (the connection went quiet): the next bytes go to
   * new memory, sized for them.
   *
   * @returns Whether anything was given back.
   */
  trim(): boolean {
    const pinned = this.#lent !== -1 && this.#lentTo === Lend.Buf;
    if (this.size > 0 || this.#queued.length > 0 || pinned) return false;
    const had = this.#buf.length > 0;
    this.#buf = EMPTY;
    this.#start = this.#end = 0;
    this.#shared = false;
    return had;
  }

  /**
   * Removes and returns the first `n` unread bytes: a view of the memory,
   * the caller's from now on (nothing writes over it again).
   *
   * @param n How many; at most `size`.
   * @returns The bytes.
   */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#shared = true;
    this.#takes = true;
    this.#consume(n);
    if (
      this.#start === this.#end && this.#lent !== -1 &&
      this.#lentTo === Lend.Quiet && this.#queued.length === 0
    ) {
      // All read, and the next read waits in small memory: the free rest
      // is for whichever connection reads next, not kept while this waits.
      spareSlabs.give(this.#buf.subarray(this.#end));
      // Still shared: the next bytes go to fresh memory (a spare).
      this.#buf = EMPTY;
      this.#start = this.#end = 0;
    }
    return out;
  }

  /**
   * Moves as many unread bytes as fit into `dest`: a copy, so the memory
   * stays the buffer's to reuse.
   *
   * @param dest Where to copy them.
   * @returns How many bytes were copied.
   */
  copyOut(dest: Uint8Array): number {
    const n = Math.min(dest.length, this.size);
    this.#takes = false;
    dest.set(this.#buf.subarray(this.#start, this.#start + n));
    this.#consume(n);
    return n;
  }

  /**
   * Drops every unread byte and every byte queued behind a pending lend
   * (which stays pending).
   */
  clear(): void {
    this.#consume(this.size);
    this.#queued = [];
  }

  /**
   * Finds `sep` among the unread bytes.
   *
   * @param sep The bytes to find; not empty.
   * @param from Where to start, counted from the first unread byte.
   * @returns Where the first `sep` at or after `from` starts, counted from
   * the first unread byte, or -1.
   */
  find(sep: Uint8Array, from: number): number {
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

  /**
   * Whether the unread bytes hold `sep` at `at`.
   *
   * @param sep The bytes to look for.
   * @param at Where, counted from the first unread byte.
   * @returns `true` if they do.
   */
  startsWith(sep: Uint8Array, at: number): boolean {
    if (at + sep.length > this.size) return false;
    return this.#matchesAt(this.#start + at, sep);
  }

  /** Shows the unread bytes, the queued ones and the pending lend. */
  [Symbol.for("Deno.customInspect")](): string {
    const parts = [`${this.size} bytes`, `capacity=${this.#buf.length}`];
    if (this.#shared) parts.push("shared");
    if (this.#lent !== -1) parts.push(`lent=${this.#lentSize}`);
    if (this.#queued.length > 0) parts.push(`queued=${this.#queued.length}`);
    return `ReaderBuffer { ${parts.join(", ")} }`;
  }

  /** A lend still pending was abandoned by its read: its queued bytes come in. */
  #abandon(): void {
    if (this.#lent === -1) return;
    this.#lent = -1;
    this.#next = null;
    this.#lentTo = Lend.Buf;
    this.#appendQueued();
  }

  /** Lends `mem`, memory other than `#buf`, as `to`. */
  #lendOther(to: Lend, mem: Uint8Array): Uint8Array {
    this.#lentTo = to;
    this.#next = mem;
    this.#lent = 0;
    return mem;
  }

  /** Appends what `append` queued behind a lend; returns whether any. */
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

  /**
   * Makes room for `want` more bytes after `#end`: moves the unread bytes
   * to the front, or into a new buffer. Never while a lend is pending.
   *
   * While no view of the buffer has been handed out (`copyOut`, or takes
   * that copied), the buffer is reused over and over. Once `take` handed
   * out a view (`#shared`), the bytes before `#end` are the caller's: the
   * buffer is then only appended to, and replaced by a fresh one, a few
   * reads large, when it is full.
   */
  #reserve(want: number): void {
    const size = this.size;
    if (size === 0 && !this.#shared) {
      this.#start = this.#end = 0;
      // Give back what a burst (readexactly beyond the limit, a large
      // feedData) grew; normal flow control never takes it this far.
      if (this.#buf.length > this.#retain) this.#buf = EMPTY;
    }
    const buf = this.#buf;
    if (buf.length - this.#end >= want) return;
    if (!this.#shared && buf.length - size >= want && this.#start > 0) {
      buf.copyWithin(0, this.#start, this.#end);
    } else {
      // When `take` hands the bytes out, a slab, as for a fresh lend; else
      // one buffer, reused over and over.
      const grown = this.#shared || this.#takes
        ? this.#slabFor(want)
        : new Uint8Array(Math.max(2 * buf.length, size + want, MIN_READ));
      grown.set(buf.subarray(this.#start, this.#end));
      // No view of the old buffer was handed out: it is free memory now.
      if (!this.#shared) spareSlabs.give(buf);
      this.#buf = grown;
      this.#shared = false;
    }
    this.#start = 0;
    this.#end = size;
  }

  /**
   * New memory for the unread bytes and `want` more, when the bytes are
   * taken as views: the largest spare if it holds them, else a slab a few
   * reads large. A buffer grown only to fit them was, on such a stream,
   * fresh memory for every message (a 100 KiB echo took 64 and 128 KiB
   * buffers a message, twice what it received).
   */
  #slabFor(want: number): Uint8Array {
    const need = this.size + want;
    return spareSlabs.take(
      need,
      Math.max(4 * Math.max(want, this.#readSize), need),
    );
  }

  /** Drops the first `n` unread bytes. */
  #consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end && this.#lent === -1 && !this.#shared) {
      this.#start = this.#end = 0;
    }
  }

  /** Whether `sep` is at index `k` of the memory. */
  #matchesAt(k: number, sep: Uint8Array): boolean {
    const buf = this.#buf;
    for (let s = 0; s < sep.length; s++) {
      if (buf[k + s] !== sep[s]) return false;
    }
    return true;
  }
}
