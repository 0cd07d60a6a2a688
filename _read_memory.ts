// Copyright 2026 the @aio/net authors. MIT license.
/**
 * How much memory a connection's reads hold (internal): the rules the
 * socket transport (`_transport.ts`) and a stream reader's memory
 * (`_reader_buffer.ts`) follow, and the timer that gives back what quiet
 * connections keep.
 *
 * Deno reads by completion: `conn.read(buf)` holds `buf` until bytes
 * arrive, and cannot be cancelled. What an idle connection holds is
 * therefore the memory its last read was offered, plus what is kept for
 * the next reads. So:
 *
 * - **The read size follows the traffic.** A read is offered `MIN_READ`
 *   at first, twice as much each time it fills what it was offered (up
 *   to `MAX_READ`), and half as much each time one comes back with a
 *   quarter of it or less.
 * - **A read that may wait is small.** A read that did not fill its
 *   buffer emptied the socket: the peer may have gone quiet. The next read
 *   is offered at most `QUIET_READ`, in memory no larger (the transport's
 *   own small buffer, a reader's, or what a `BufferedProtocol` returns for
 *   that `sizehint`); only `MIN_READ` after a run of reads (from one
 *   quiet read to the next) of more than `QUIET_READ`, until `SHORT_RUNS`
 *   shorter runs have followed it, since a longer message fills any quiet
 *   read anyway. It is offered a byte more than that (`QUIET_EXTRA`), so
 *   that a message of exactly 4 or 16 KiB ends on a short read and leaves
 *   the connection quiet. If it fills, the bytes keep coming, and the next
 *   read is issued at once, before the bytes are handed on, offered the
 *   rest of the read size (the two count as one read) and a byte more (so
 *   that a message of a multiple of the read size ends on a short read).
 *   A stream reader wakes its waiting `read()` once for both
 *   (`MORE_COMING`), so that `read(65536)` gets 64 KiB: a small waiting
 *   read costs it one more socket read per message, not one more wake-up.
 *   A `Protocol`'s transport offers that next read a whole read size more
 *   (it has no reader asking for a size), and gives both in one
 *   `dataReceived()` when it completes within a few microtasks (it does
 *   when the bytes are already in the socket): a message of up to twice
 *   the read size then takes the two socket reads and the writes of an
 *   echo that one large waiting read would.
 * - **Quiet connections give back what they keep.** A `Protocol`'s
 *   transport gives the free rest of its slab, as soon as a read empties
 *   the socket, to a few spares that all transports share: whichever
 *   connection reads next takes it. A reader's buffer, kept for traffic
 *   that may resume, is dropped once its quiet read has waited a whole
 *   sweep of `IdleTrim` (1 to 2 s), and the spares at a sweep that finds
 *   none taken since the one before. Dropping a reader's buffer at once
 *   would cost a fresh allocation per message in request/response
 *   traffic.
 *
 * @module
 */

/** The smallest read offered, and the first one of every connection. */
export const MIN_READ = 4 * 1024;
/** The largest read offered. */
export const MAX_READ = 64 * 1024;
/**
 * The most a read is offered after one that emptied the socket: what an
 * idle connection's pending read holds. 16 KiB keeps a 10 KiB
 * request/response exchange at one read per message. After a run of reads
 * longer than this (a burst), the read that waits is offered `MIN_READ`
 * (see `SHORT_RUNS`).
 */
export const QUIET_READ = 16 * 1024;
/**
 * What a quiet read is offered beyond its size (`MIN_READ` or at most
 * `QUIET_READ`): a byte, so that a message of exactly that size (4 or 16
 * KiB) does not fill it. A quiet read that fills is taken for the start of
 * a longer message: the next read is issued at once and waits, in larger
 * memory, for bytes that may not come. Messages of exactly 16 KiB, each
 * filling its quiet read, echoed at 0.8 of the rate of a transport that
 * read them in one read (the read issued at once took the next message,
 * and that run of 32 KiB made the next quiet reads 4 KiB).
 */
export const QUIET_EXTRA = 1;
/**
 * How many runs of reads of `QUIET_READ` bytes or less (from one quiet read
 * to the next: a message, when they are small) must follow a longer one
 * before quiet reads are offered `QUIET_READ` again rather than `MIN_READ`.
 */
export const SHORT_RUNS = 3;

/**
 * The read size after a read of `n` bytes that was offered `offered` of a
 * read size `readSize`: doubled when it filled a read of the full size;
 * halved when it was a quiet read (the first of a message: `quiet`) that
 * came back with a quarter of its offer or less. The rest of a message
 * (a read after one that filled) says nothing of the messages' size, and
 * shrinking on it would make a 10 KiB message take two reads.
 *
 * @param readSize The read size so far.
 * @param offered What the read was offered (at most `readSize`).
 * @param n What it read.
 * @param quiet Whether it was a quiet read.
 * @returns The next read size, between `MIN_READ` and `MAX_READ`.
 */
export function nextReadSize(
  readSize: number,
  offered: number,
  n: number,
  quiet: boolean,
): number {
  if (n >= offered) {
    return offered >= readSize && readSize < MAX_READ ? readSize * 2 : readSize;
  }
  return quiet && n <= offered / 4 && readSize > MIN_READ
    ? readSize / 2
    : readSize;
}

/**
 * The memory for a read that may wait (a quiet read, of `size` bytes):
 * `held`, what the connection kept for such reads, if it is large enough
 * and, once quiet reads are back at `MIN_READ` (after a burst: `size` is
 * `MIN_READ + QUIET_EXTRA`), no larger;
 * else new memory of `size` bytes, to keep instead.
 *
 * @param held The memory kept for quiet reads, or `null`.
 * @param size The size of the read.
 * @returns `held`, or new memory of `size` bytes.
 */
export function quietMemory(
  held: Uint8Array | null,
  size: number,
): Uint8Array {
  return held === null || held.length < size ||
      (size === MIN_READ + QUIET_EXTRA && held.length > size)
    ? new Uint8Array(size)
    : held;
}

/** How many free slab rests `spareSlabs` keeps at most. */
const MAX_SPARES = 8;

/**
 * Free memory that a connection going quiet gave up, for whichever reads
 * next: the free rest of a transport's slab, or of a stream reader's
 * buffer, whose start was handed out as views. So a connection that waits
 * keeps none, and the next to read does not allocate. At most
 * `MAX_SPARES` (a full list keeps the largest), each at least `MIN_READ`.
 * `IdleTrim`'s sweep drops them all when none was taken since the sweep
 * before, and when it stops (the last transport ended).
 */
export const spareSlabs = new class SpareSlabs {
  #spares: Uint8Array[] = [];
  /** `IdleTrim.now` when a spare was last taken. */
  #takenAt = 0;

  /** Keeps `free`, memory nothing refers to any more, if it is worth keeping. */
  give(free: Uint8Array): void {
    if (free.length < MIN_READ) return;
    const spares = this.#spares;
    if (spares.length < MAX_SPARES) {
      spares.push(free);
      return;
    }
    // Full: this one replaces the smallest, if it is larger (rests too
    // small for the reads to come must not keep out the ones that fit).
    let least = 0;
    for (let i = 1; i < spares.length; i++) {
      if (spares[i]!.length < spares[least]!.length) least = i;
    }
    if (spares[least]!.length < free.length) spares[least] = free;
  }

  /**
   * Memory for the caller: the largest spare, if it has at least `least`
   * bytes, else new memory of `size` bytes. The largest, because the bytes
   * that follow go on into it: a message then fits where it starts more
   * often, and takes fresh memory less often.
   *
   * @param least The bytes needed.
   * @param size The size of new memory.
   * @returns The memory.
   */
  take(least: number, size: number): Uint8Array {
    const spares = this.#spares;
    let best = -1;
    for (let i = 0; i < spares.length; i++) {
      if (best === -1 || spares[i]!.length > spares[best]!.length) best = i;
    }
    if (best === -1 || spares[best]!.length < least) {
      return new Uint8Array(size);
    }
    const spare = spares[best]!;
    spares[best] = spares[spares.length - 1]!;
    spares.pop();
    this.#takenAt = IdleTrim.now;
    return spare;
  }

  /** A sweep: drops the spares if none was taken since the sweep before. */
  trim(): void {
    if (this.#takenAt < IdleTrim.now - 1) this.#spares.length = 0;
  }

  /** Drops every spare. */
  clear(): void {
    this.#spares.length = 0;
  }
}();

/**
 * A protocol hook (internal, the stream reader's): called by the socket
 * transport before it asks for memory for the next read. A promise means
 * "wait for it first": a `readInto()` is about to come, and the read can
 * land straight in its buffer.
 */
export const READ_WAIT: unique symbol = Symbol("aio.readWait");
/**
 * A protocol hook (internal, the stream reader's): the connection has been
 * quiet for a sweep; give back the memory kept for more traffic.
 */
export const TRIM_IDLE: unique symbol = Symbol("aio.trimIdle");

/**
 * A protocol hook (internal, the stream reader's): called by the socket
 * transport just before `bufferUpdated(n)` when those `n` bytes filled a
 * quiet read. The rest of the peer's message is most likely in the socket,
 * and the transport reads it at once: a waiting `read()` woken a few
 * microtasks later gets both.
 */
export const MORE_COMING: unique symbol = Symbol("aio.moreComing");

/** What the idle sweep watches: a transport with read memory to give back. */
export interface Trimmable {
  /**
   * The sweep count (`IdleTrim.now`) when its current quiet read began,
   * or -1 while bytes flow (or once trimmed).
   */
  quietSince: number;
  /** Gives back the memory kept for more traffic. */
  trimIdle(): void;
}

/** How often the sweep runs: a quiet connection is trimmed 1 to 2 sweeps after its read began. */
const SWEEP_MS = 1000;

/**
 * The one timer that trims quiet connections (and drops the spares no
 * read took, see `spareSlabs`). It runs while some
 * transport is watched (from its first read to its close), so that reads
 * only store a number: a timer per quiet read would cost more than the
 * allocation it saves.
 */
export class IdleTrim {
  static #watched = new Set<Trimmable>();
  static #sweeps = 0;
  static #timer: ReturnType<typeof setInterval> | undefined;

  /** The sweep count: what a transport stores in `quietSince`. */
  static get now(): number {
    return IdleTrim.#sweeps;
  }

  /** Watches `t` until {@linkcode IdleTrim.unwatch}. */
  static watch(t: Trimmable): void {
    IdleTrim.#watched.add(t);
    if (IdleTrim.#timer === undefined) {
      const timer = setInterval(IdleTrim.#sweep, SWEEP_MS);
      Deno.unrefTimer(timer); // never what keeps a program alive
      IdleTrim.#timer = timer;
    }
  }

  /** Stops watching `t`; the timer stops with the last one, and the spares go. */
  static unwatch(t: Trimmable): void {
    const watched = IdleTrim.#watched;
    if (!watched.delete(t) || watched.size > 0) return;
    clearInterval(IdleTrim.#timer);
    IdleTrim.#timer = undefined;
    spareSlabs.clear();
  }

  static #sweep = (): void => {
    const before = IdleTrim.#sweeps++;
    for (const t of IdleTrim.#watched) {
      if (t.quietSince !== -1 && t.quietSince < before) {
        t.quietSince = -1;
        t.trimIdle();
      }
    }
    spareSlabs.trim();
  };
}
