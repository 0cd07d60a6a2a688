// Copyright 2026 the @aio/net authors. MIT license.
// The reader's memory (_reader_buffer.ts): lend, commit, append, take, copy
// out, find; and, through StreamReader, what an abandoned lend does.
import {
  assert,
  assertEquals,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import fc from "fast-check";
import { StreamReader } from "../mod.ts";
import { ReaderBuffer } from "../_reader_buffer.ts";
import { MAX_READ, MIN_READ, spareSlabs } from "../_read_memory.ts";
import { readerBuffer, readerUpdated } from "../_stream_reader.ts";
import { test } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Lends, writes `s` into the start of the lent memory, commits it. */
function receive(mem: ReaderBuffer, s: string): boolean {
  const lent = mem.lend(-1);
  lent.set(enc(s));
  return mem.commit(s.length);
}

test("ReaderBuffer: appended and committed bytes come out in order, by views and by copies", () => {
  const mem = new ReaderBuffer(1 << 20);
  assertEquals(mem.size, 0);
  assertEquals(mem.append(enc("abc")), true);
  assertEquals(receive(mem, "defg"), true);
  assertEquals(mem.append(enc("hi")), true);
  assertEquals(mem.size, 9);
  assertEquals(dec(mem.take(2)), "ab");
  const dest = new Uint8Array(4);
  assertEquals(mem.copyOut(dest), 4);
  assertEquals(dec(dest), "cdef");
  assertEquals(dec(mem.take(3)), "ghi");
  assertEquals(mem.size, 0);
  assertEquals(mem.copyOut(dest), 0);
  assertStrictEquals(mem.take(0).length, 0);
});

test("ReaderBuffer: append copies, and an empty append changes nothing", () => {
  const mem = new ReaderBuffer(1 << 20);
  const data = enc("xyz");
  mem.append(data);
  data.fill(0x21);
  assertEquals(mem.append(new Uint8Array(0)), true);
  assertEquals(mem.size, 3);
  assertEquals(dec(mem.take(3)), "xyz");
});

test("ReaderBuffer: commit without a lend throws, and more than was lent throws RangeError", () => {
  const mem = new ReaderBuffer(1 << 20);
  assertThrows(() => mem.commit(0), Error, "no buffer was lent");
  const lent = mem.lend(10);
  assert(lent.length >= 10);
  assertEquals(mem.lending, true);
  assertThrows(() => mem.commit(lent.length + 1), RangeError, "more than");
  assertEquals(mem.lending, false);
  assertEquals(mem.size, 0);
  mem.lend(-1);
  assertEquals(mem.commit(0), false); // a read of nothing adds nothing
});

test("ReaderBuffer: bytes appended while a lend is pending are queued behind the read", () => {
  const mem = new ReaderBuffer(1 << 20);
  const lent = mem.lend(-1);
  assertEquals(mem.append(enc("late")), false);
  assertEquals(mem.size, 0);
  lent.set(enc("first"));
  assertEquals(mem.commit(5), true);
  assertEquals(dec(mem.take(mem.size)), "firstlate");
  // A read of nothing still lets the queued bytes in.
  mem.lend(-1);
  mem.append(enc("q"));
  assertEquals(mem.commit(0), true);
  assertEquals(dec(mem.take(1)), "q");
});

test("ReaderBuffer: a lend abandoned uncommitted lets the bytes queued behind it in before the next read's", () => {
  const mem = new ReaderBuffer(1 << 20);
  mem.lend(-1).fill(0x3f); // the read wrote, then was abandoned
  mem.append(enc("A"));
  const lent = mem.lend(-1);
  assertEquals(mem.size, 1); // in at the lend, not at the commit
  lent.set(enc("B"));
  mem.commit(1);
  assertEquals(dec(mem.take(2)), "AB");
});

test("ReaderBuffer: reads are offered 4 KiB, doubling up to MAX_READ while they fill it; a sizehint gets at least that", () => {
  const mem = new ReaderBuffer(1 << 20);
  const sizes: number[] = [];
  for (let i = 0; i < 7; i++) {
    const lent = mem.lend(-1);
    sizes.push(lent.length);
    mem.commit(lent.length);
    mem.copyOut(new Uint8Array(lent.length));
  }
  assertEquals(sizes, [4096, 8192, 16384, 32768, 65536, 65536, 65536]);
  assertEquals(MAX_READ, 65536);
  const half = new ReaderBuffer(1 << 20);
  half.commit(half.lend(-1).length - 1); // a read short of full: no growth
  half.take(half.size);
  assertEquals(half.lend(-1).length, 4096);
  assert(half.lend(100_000).length >= 100_000);
});

test("ReaderBuffer: copying out reuses the memory: the next lend is in the same buffer", () => {
  const mem = new ReaderBuffer(1 << 20);
  const first = mem.lend(-1);
  first.set(enc("hello"));
  mem.commit(5);
  mem.copyOut(new Uint8Array(5));
  mem.append(enc("abc"));
  mem.copyOut(new Uint8Array(3));
  assert(mem.lend(-1).buffer === first.buffer);
});

test("ReaderBuffer: a view taken is never written over, and a shared buffer nearly full lends a fresh one", () => {
  const mem = new ReaderBuffer(1 << 20);
  let lent = mem.lend(-1); // 4 KiB in a 4 KiB buffer
  lent.fill(1);
  mem.commit(lent.length - 100);
  const kept = mem.take(mem.size - 10); // shared; 10 unread, 100 bytes left
  lent = mem.lend(-1);
  assert(lent.buffer !== kept.buffer); // 100 < half a read
  const fresh = Uint8Array.from({ length: 50 }, (_, i) => i + 2);
  lent.set(fresh);
  mem.commit(50);
  assertEquals(mem.size, 60); // the 10 unread bytes moved before the 50 new
  const rest = mem.take(60);
  assertEquals(rest.subarray(0, 10), new Uint8Array(10).fill(1));
  assertEquals(rest.subarray(10), fresh);
  assertEquals(kept, new Uint8Array(kept.length).fill(1));
});

test("ReaderBuffer: a buffer views were taken of never goes to the spares, whether an append or a read replaces it", () => {
  /** Takes every spare there is and writes over it. */
  const scribble = () => {
    for (let i = 0; i < 16; i++) spareSlabs.take(MIN_READ, 0).fill(9);
  };
  spareSlabs.clear();
  try {
    // Replaced by an append that does not fit.
    const mem = new ReaderBuffer(1 << 20);
    mem.append(new Uint8Array(4000).fill(1)); // a 4 KiB buffer
    const kept = mem.take(3990); // shared: 10 unread, 96 bytes left
    mem.append(new Uint8Array(1000).fill(2)); // to a new buffer
    assert(mem.lend(-1).buffer !== kept.buffer);
    mem.commit(0);
    scribble();
    assertEquals(kept, new Uint8Array(3990).fill(1));
    assertEquals(mem.take(1010).subarray(0, 10), new Uint8Array(10).fill(1));

    // Replaced by a read that went to a fresh buffer.
    const other = new ReaderBuffer(1 << 20);
    let lent = other.lend(-1);
    lent.fill(3);
    other.commit(lent.length - 100);
    const held = other.take(other.size); // shared, 100 bytes left
    lent = other.lend(-1);
    assert(lent.buffer !== held.buffer);
    other.commit(50);
    scribble();
    assertEquals(held, new Uint8Array(held.length).fill(3));
  } finally {
    spareSlabs.clear();
  }
});

test("ReaderBuffer: a shared buffer with at least half a read left is filled to its end", () => {
  const mem = new ReaderBuffer(1 << 20);
  let lent = mem.lend(-1);
  mem.commit(1000);
  const kept = mem.take(1000); // shared, 4096 - 1000 left
  lent = mem.lend(-1);
  assert(lent.buffer === kept.buffer);
  assertEquals(lent.length, 4096 - 1000);
  assertEquals(lent.byteOffset, kept.byteOffset + 1000);
});

test("ReaderBuffer: clear drops the unread and the queued bytes, and the pending lend stays pending", () => {
  const mem = new ReaderBuffer(1 << 20);
  mem.append(enc("gone"));
  const lent = mem.lend(-1);
  mem.append(enc("also gone"));
  mem.clear();
  assertEquals(mem.size, 0);
  assertEquals(mem.lending, true);
  lent.set(enc("kept"));
  mem.commit(4);
  assertEquals(dec(mem.take(4)), "kept");
});

test("ReaderBuffer: memory a burst grew beyond retain is given back once read, what is within it is kept", () => {
  const mem = new ReaderBuffer(8192);
  mem.append(new Uint8Array(100_000));
  mem.copyOut(new Uint8Array(100_000));
  const lent = mem.lend(-1);
  assertEquals(lent.buffer.byteLength, 4096);
  mem.commit(10);
  mem.copyOut(new Uint8Array(10));
  assert(mem.lend(-1).buffer === lent.buffer); // 4 KiB: kept
});

test("ReaderBuffer: find and startsWith look only at the unread bytes, from where they are told", () => {
  const mem = new ReaderBuffer(1 << 20);
  mem.append(enc("xx--a--b-"));
  mem.take(2); // "--a--b-": the taken bytes are not searched
  const sep = enc("--");
  assertEquals(mem.find(sep, 0), 0);
  assertEquals(mem.find(sep, 1), 3);
  assertEquals(mem.find(sep, 4), -1); // "-b-" holds no "--"
  assertEquals(mem.find(enc("b"), 0), 5);
  assertEquals(mem.find(enc("x"), 0), -1);
  assertEquals(mem.find(enc("-c"), 0), -1);
  mem.append(enc("-"));
  assertEquals(mem.find(sep, 4), 6); // a match ending at the last byte
  assertEquals(mem.startsWith(enc("a-"), 2), true);
  assertEquals(mem.startsWith(enc("a-"), 3), false);
  assertEquals(mem.startsWith(enc("--"), 7), false); // past the end
  // Bytes read before, still in the memory past the end, never complete a
  // match.
  const reused = new ReaderBuffer(1 << 20);
  reused.append(enc("xyab"));
  reused.copyOut(new Uint8Array(4)); // the memory is reused from its start
  reused.append(enc("zya")); // "zya" unread, then a stale "b"
  assertEquals(reused.find(enc("ab"), 0), -1);
  assertEquals(reused.startsWith(enc("ab"), 2), false);
});

test("ReaderBuffer shows its state when inspected", () => {
  const mem = new ReaderBuffer(1 << 20);
  mem.append(enc("abc"));
  mem.take(1);
  mem.lend(-1);
  mem.append(enc("q"));
  const shown = Deno.inspect(mem);
  assert(shown.startsWith("ReaderBuffer { 2 bytes"), shown);
  assert(shown.includes("shared"), shown);
  assert(shown.includes("lent="), shown);
  assert(shown.includes("queued=1"), shown);
});

type Op =
  | { kind: "append"; data: Uint8Array }
  | { kind: "lend"; hint: number; fill: number; commit: boolean }
  | { kind: "commit"; fill: number }
  | { kind: "take"; n: number }
  | { kind: "copyOut"; n: number }
  | { kind: "find"; sep: Uint8Array; from: number }
  | { kind: "startsWith"; sep: Uint8Array; at: number }
  | { kind: "clear" };

/** Bytes of a four-letter alphabet, so that separators match often. */
const bytes = (max: number, min = 0) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) =>
    a.map((x) => x & 3)
  );
/** How much of a lend a read fills: some, or all of it (the reads grow). */
const fillArb = fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.constant(-1));
/** How many bytes a read asks for: a few, or up to more than are there. */
const countArb = fc.oneof(
  fc.integer({ min: 0, max: 50 }),
  fc.integer({ min: 0, max: 70_000 }),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 2,
    arbitrary: bytes(3000).map((data) => ({ kind: "append", data }) as Op),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      hint: fc.oneof(fc.constant(-1), fc.integer({ min: 1, max: 5000 })),
      fill: fillArb,
      commit: fc.boolean(),
    }).map((r) => ({ kind: "lend", ...r }) as Op),
  },
  {
    weight: 2,
    arbitrary: fillArb.map((fill) => ({ kind: "commit", fill }) as Op),
  },
  {
    weight: 3,
    arbitrary: countArb.map((n) => ({ kind: "take", n }) as Op),
  },
  {
    weight: 2,
    arbitrary: countArb.map((n) => ({ kind: "copyOut", n }) as Op),
  },
  {
    weight: 2,
    arbitrary: fc.record({ sep: bytes(3, 1), from: fc.nat(400) }).map((r) =>
      ({ kind: "find", ...r }) as Op
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({ sep: bytes(3, 1), at: fc.nat(400) }).map((r) =>
      ({ kind: "startsWith", ...r }) as Op
    ),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" } as Op) },
);

/** The reference: where `sep` first occurs in `a` at or after `from`. */
function indexOfSeq(a: number[], sep: Uint8Array, from: number): number {
  outer: for (let i = from; i + sep.length <= a.length; i++) {
    for (let s = 0; s < sep.length; s++) {
      if (a[i + s] !== sep[s]) continue outer;
    }
    return i;
  }
  return -1;
}

test("property: ReaderBuffer holds the same bytes as an array model, whatever the lends, commits, abandoned lends, appends and reads", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 5000, 1 << 20),
      fc.array(opArb, { maxLength: 60 }),
      (retain, ops) => {
        const mem = new ReaderBuffer(retain);
        // The model: unread bytes, bytes queued behind the pending lend.
        let unread: number[] = [];
        let queued: number[] = [];
        let lent: Uint8Array | null = null;
        let counter = 0; // every byte a read writes is distinct
        const kept: [Uint8Array, number[]][] = [];
        const write = (into: Uint8Array, fill: number): number[] => {
          const n = fill < 0 ? into.length : Math.min(fill, into.length);
          const written: number[] = [];
          // Of the same four letters, in an order that does not repeat.
          for (let i = 0; i < n; i++) {
            written.push(Math.imul(counter++, 2654435761) >>> 30);
          }
          into.set(written);
          return written;
        };
        const commit = (fill: number) => {
          const written = write(lent!, fill);
          const added = mem.commit(written.length);
          assertEquals(added, written.length > 0 || queued.length > 0);
          unread.push(...written, ...queued);
          queued = [];
          lent = null;
        };
        for (const op of ops) {
          switch (op.kind) {
            case "append": {
              const readable = mem.append(op.data);
              assertEquals(readable, lent === null || op.data.length === 0);
              if (lent === null) unread.push(...op.data);
              else queued.push(...op.data);
              break;
            }
            case "lend": {
              if (lent !== null) {
                // The read before was abandoned, after writing some bytes
                // that nobody may see.
                write(lent, 100);
                unread.push(...queued);
                queued = [];
              }
              lent = mem.lend(op.hint);
              assert(lent.length > 0);
              if (op.hint > 0) assert(lent.length >= op.hint / 2);
              assertEquals(mem.lending, true);
              if (op.commit) commit(op.fill);
              break;
            }
            case "commit":
              if (lent === null) {
                assertThrows(() => mem.commit(0), Error, "no buffer was lent");
              } else commit(op.fill);
              break;
            case "take": {
              const n = Math.min(op.n, unread.length);
              const out = mem.take(n);
              const want = unread.splice(0, n);
              assertEquals([...out], want);
              kept.push([out, want]);
              break;
            }
            case "copyOut": {
              const dest = new Uint8Array(Math.min(op.n, unread.length + 5));
              const n = mem.copyOut(dest);
              assertEquals(n, Math.min(dest.length, unread.length));
              assertEquals([...dest.subarray(0, n)], unread.splice(0, n));
              break;
            }
            case "find":
              if (op.from <= unread.length) {
                assertEquals(
                  mem.find(op.sep, op.from),
                  indexOfSeq(unread, op.sep, op.from),
                );
              }
              break;
            case "startsWith":
              assertEquals(
                mem.startsWith(op.sep, op.at),
                indexOfSeq(unread.slice(op.at), op.sep, 0) === 0,
              );
              break;
            case "clear":
              mem.clear();
              unread = [];
              queued = [];
              break;
          }
          assertEquals(mem.size, unread.length);
          assertEquals(mem.lending, lent !== null);
        }
        // Drain through a last lend (which lets in what an abandoned one
        // queued) and compare what is left, then every view handed out.
        if (lent !== null) commit(0);
        assertEquals([...mem.take(mem.size)], unread);
        for (const [view, want] of kept) assertEquals([...view], want);
      },
    ),
    { numRuns: 400 },
  );
});

test("StreamReader: bytes fed while an abandoned read was lent come before the next read's bytes", async () => {
  const reader = new StreamReader();
  readerBuffer(reader, -1); // a read in flight...
  reader.feedData(enc("A")); // ...so this waits for it
  const lent = readerBuffer(reader, -1); // the first read ended uncommitted
  lent.set(enc("B"));
  readerUpdated(reader, 1);
  reader.feedEof();
  assertEquals(dec(await reader.read()), "AB");
});

test("StreamReader: a read waiting while a read was lent gets the bytes fed meanwhile once that read is abandoned", async () => {
  const reader = new StreamReader();
  const pending = reader.read(10);
  readerBuffer(reader, -1);
  reader.feedData(enc("A")); // queued behind the read in flight
  readerBuffer(reader, -1); // which ended uncommitted: "A" is readable now
  assertEquals(dec(await pending), "A");
});
