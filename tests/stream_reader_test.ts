// Copyright 2026 the @aio/net authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import fc from "fast-check";
import {
  IncompleteReadError,
  LimitOverrunError,
  StreamReader,
} from "../mod.ts";
import { setReaderTransport } from "../_stream_reader.ts";
import { test } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A reader holding `parts` (fed separately) and, unless `eof` is false, EOF. */
function readerOf(
  parts: string[],
  { eof = true, limit }: { eof?: boolean; limit?: number } = {},
): StreamReader {
  const reader = new StreamReader(limit === undefined ? {} : { limit });
  for (const p of parts) reader.feedData(enc(p));
  if (eof) reader.feedEof();
  return reader;
}

/** Lets pending promise callbacks run. */
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

test("read(0) returns empty at once, even with nothing buffered and no EOF", async () => {
  const reader = new StreamReader();
  assertEquals(await reader.read(0), new Uint8Array(0));
  reader.feedData(enc("x"));
  assertEquals(await reader.read(0), new Uint8Array(0));
  assertEquals(dec(await reader.read(1)), "x");
});

test("read(-1) reads to EOF across many chunks", async () => {
  const reader = new StreamReader({ limit: 4 });
  const all = reader.read();
  for (const p of ["ab", "cd", "efgh", "ij"]) {
    reader.feedData(enc(p));
    await tick();
  }
  reader.feedEof();
  assertEquals(dec(await all), "abcdefghij");
  assertEquals(reader.atEof(), true);
  assertEquals(await reader.read(), new Uint8Array(0));
});

test("read(n) returns what is buffered up to n, waits only when empty, and is empty at EOF", async () => {
  const reader = readerOf(["hello", " world"], { eof: false });
  assertEquals(dec(await reader.read(3)), "hel");
  assertEquals(dec(await reader.read(100)), "lo world");
  const pending = reader.read(5);
  reader.feedData(enc("later"));
  assertEquals(dec(await pending), "later");
  reader.feedEof();
  assertEquals(await reader.read(5), new Uint8Array(0));
});

test("readline returns lines with their newline and the partial last line at EOF", async () => {
  const reader = readerOf(["li", "ne1\nline", "2\n", "tail"]);
  assertEquals(dec(await reader.readline()), "line1\n");
  assertEquals(dec(await reader.readline()), "line2\n");
  assertEquals(dec(await reader.readline()), "tail");
  assertEquals(await reader.readline(), new Uint8Array(0));
});

test("readline past the limit discards through the newline and throws LimitOverrunError", async () => {
  const reader = readerOf(["aaaaaaaaaa\nbb\n"], { limit: 5 });
  const err = await reader.readline().catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  assert(err.message.includes("limit of 5 bytes"), err.message);
  assertEquals(dec(await reader.readline()), "bb\n");
});

test("readline past the limit without a newline discards the whole buffer", async () => {
  const reader = readerOf(["aaaaaaaaaaaaa"], { eof: false, limit: 5 });
  const err = await reader.readline().catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  reader.feedData(enc("next\n"));
  assertEquals(dec(await reader.readline()), "next\n");
});

test("readexactly waits for n bytes across chunks; 0 is empty; early EOF is IncompleteReadError", async () => {
  const reader = new StreamReader();
  assertEquals(await reader.readexactly(0), new Uint8Array(0));
  const pending = reader.readexactly(6);
  reader.feedData(enc("abc"));
  await tick();
  reader.feedData(enc("defg"));
  assertEquals(dec(await pending), "abcdef");
  reader.feedEof();
  const err = await reader.readexactly(5).catch((e) => e);
  assertInstanceOf(err, IncompleteReadError);
  assertEquals(dec(err.partial), "g");
  assertEquals(err.expected, 5);
  assertEquals(err.message, "1 bytes read on a total of 5 expected bytes");
  assertEquals(reader.atEof(), true);
});

test("readexactly(n) larger than the limit does not deadlock on flow control", async () => {
  const reader = new StreamReader({ limit: 10 });
  let pauses = 0;
  let resumes = 0;
  setReaderTransport(reader, {
    pauseReading: () => pauses++,
    resumeReading: () => resumes++,
  });
  const pending = reader.readexactly(1000);
  for (let i = 0; i < 100; i++) {
    reader.feedData(new Uint8Array(10).fill(i));
    await tick();
  }
  const data = await pending;
  assertEquals(data.length, 1000);
  assertEquals(data[999], 99);
  assert(pauses >= 1 && resumes >= 1, `pauses=${pauses} resumes=${resumes}`);
});

test("readuntil finds separators that span chunks and returns through the separator", async () => {
  const reader = readerOf(["ab\r", "\ncd\r", "", "\n"]);
  assertEquals(dec(await reader.readuntil("\r\n")), "ab\r\n");
  assertEquals(dec(await reader.readuntil(enc("\r\n"))), "cd\r\n");
  const longSep = readerOf(["xx--", "-", "-BOUND", "ARY--yy"]);
  assertEquals(
    dec(await longSep.readuntil("----BOUNDARY--")),
    "xx----BOUNDARY--",
  );
  assertEquals(dec(await longSep.read()), "yy");
});

test("readuntil: EOF in the middle of a separator gives IncompleteReadError with expected null", async () => {
  const reader = readerOf(["data\r"]);
  const err = await reader.readuntil("\r\n").catch((e) => e);
  assertInstanceOf(err, IncompleteReadError);
  assertEquals(dec(err.partial), "data\r");
  assertStrictEquals(err.expected, null);
  assertEquals(reader.atEof(), true);
});

test("readuntil with several separators stops at the match that ends first, even when one is a prefix", async () => {
  const reader = readerOf(["a\r\nb\nc||d|e"]);
  const seps = ["\r\n", "\n"];
  assertEquals(dec(await reader.readuntil(seps)), "a\r\n");
  assertEquals(dec(await reader.readuntil(seps)), "b\n");
  // "|" is a prefix of "||": the match that ends earliest wins.
  assertEquals(dec(await reader.readuntil(["||", "|"])), "c|");
  assertEquals(dec(await reader.readuntil(["||", "|"])), "|");
  assertEquals(dec(await reader.readuntil([enc("|"), "e"])), "d|");
  // A Uint8Array is one separator, never a list of bytes.
  const one = readerOf(["xyz"]);
  const err = await one.readuntil(enc("zy")).catch((e) => e);
  assertInstanceOf(err, IncompleteReadError);
});

test("readuntil at exactly the limit succeeds; one byte more overruns and keeps the data", async () => {
  // asyncio: the separator may start at index <= limit.
  const ok = readerOf(["12345\n"], { limit: 5 });
  assertEquals(dec(await ok.readuntil("\n")), "12345\n");
  const over = readerOf(["123456\n"], { limit: 5 });
  const err = await over.readuntil("\n").catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  assertEquals(err.consumed, 6);
  assert(err.message.includes("Separator is found"), err.message);
  assertEquals(dec(await over.read()), "123456\n");
  // Not found and past the limit.
  const missing = readerOf(["1234567"], { eof: false, limit: 5 });
  const err2 = await missing.readuntil("\n").catch((e) => e);
  assertInstanceOf(err2, LimitOverrunError);
  assert(err2.message.includes("not found"), err2.message);
  assertEquals(err2.consumed, 7);
});

test("readuntil rejects an empty separator, an empty list and a wrong type", async () => {
  const reader = readerOf(["x"]);
  await assertRejects(
    () => reader.readuntil(""),
    RangeError,
    "separator must not be empty",
  );
  await assertRejects(
    () => reader.readuntil(new Uint8Array(0)),
    RangeError,
    "separator",
  );
  await assertRejects(() => reader.readuntil([]), RangeError, "empty list");
  await assertRejects(
    () => reader.readuntil(["a", ""]),
    RangeError,
    "separator[1]",
  );
  await assertRejects(
    () => reader.readuntil(5 as unknown as string),
    TypeError,
    "separator",
  );
  assertEquals(dec(await reader.read()), "x");
});

test("bad arguments: limit, n and data are checked", async () => {
  assertThrows(() => new StreamReader({ limit: 0 }), RangeError, "limit");
  assertThrows(() => new StreamReader({ limit: -1 }), RangeError, "limit");
  assertThrows(() => new StreamReader({ limit: 1.5 }), RangeError, "limit");
  assertThrows(
    () => new StreamReader({ limit: "1" as unknown as number }),
    TypeError,
    "limit",
  );
  const reader = new StreamReader();
  await assertRejects(() => reader.readexactly(-1), RangeError, "n");
  await assertRejects(() => reader.read(-2), RangeError, "n");
  await assertRejects(
    () => reader.read("1" as unknown as number),
    TypeError,
    "n",
  );
  assertThrows(
    () => reader.feedData("x" as unknown as Uint8Array),
    TypeError,
    "data",
  );
  reader.feedEof();
  assertThrows(
    () => reader.feedData(enc("x")),
    Error,
    "feedEof() was already called",
  );
});

test("setException rejects the pending wait and every later read", async () => {
  const reader = readerOf(["buffered"], { eof: false });
  assertEquals(dec(await reader.read(3)), "buf");
  const pending = reader.readexactly(100);
  const boom = new Deno.errors.ConnectionReset("gone");
  reader.setException(boom);
  assertStrictEquals(await pending.catch((e) => e), boom);
  assertStrictEquals(reader.exception(), boom);
  await assertRejects(() => reader.read(), Deno.errors.ConnectionReset);
  await assertRejects(() => reader.readline(), Deno.errors.ConnectionReset);
  await assertRejects(() => reader.readuntil("x"), Deno.errors.ConnectionReset);
});

test("an aborted wait rejects with the reason, clears the waiter at once and keeps the bytes", async () => {
  const reader = readerOf(["no newline yet"], { eof: false });
  const controller = new AbortController();
  const pending = reader.readline({ signal: controller.signal });
  const reason = new Error("timeout");
  controller.abort(reason);
  assertStrictEquals(await pending.catch((e) => e), reason);
  const retry = reader.readline(); // would throw "already waiting" if the waiter were left behind
  reader.feedData(enc("!\n"));
  assertEquals(dec(await retry), "no newline yet!\n");
  // Already aborted: rejects without waiting.
  await assertRejects(
    () => reader.read(10, { signal: AbortSignal.abort(reason) }),
    Error,
    "timeout",
  );
  await assertRejects(
    () => reader.read(10, { signal: "x" as unknown as AbortSignal }),
    TypeError,
    "signal",
  );
});

test("an aborted read(-1) keeps every byte gathered so far readable", async () => {
  const reader = new StreamReader({ limit: 4 });
  const controller = new AbortController();
  const pending = reader.read(-1, { signal: controller.signal });
  reader.feedData(enc("abcdef"));
  await tick();
  reader.feedData(enc("ghij"));
  await tick();
  controller.abort(new Error("stop"));
  await assertRejects(() => pending, Error, "stop");
  assertEquals(dec(await reader.read(100)), "abcdefghij");
});

test("a second concurrent wait throws at once, naming the call", async () => {
  const reader = new StreamReader();
  const first = reader.readexactly(2);
  await assertRejects(
    () => reader.read(1),
    Error,
    "Cannot read(): another call is already waiting",
  );
  await assertRejects(() => reader.readuntil("x"), Error, "Cannot readuntil()");
  reader.feedData(enc("ok"));
  assertEquals(dec(await first), "ok");
});

test("flow control: pause above 2 x limit, resume at or below the limit", async () => {
  const reader = new StreamReader({ limit: 10 });
  const calls: string[] = [];
  setReaderTransport(reader, {
    pauseReading: () => calls.push("pause"),
    resumeReading: () => calls.push("resume"),
  });
  reader.feedData(new Uint8Array(20));
  assertEquals(calls, []); // exactly 2 x limit: not yet
  reader.feedData(new Uint8Array(1));
  assertEquals(calls, ["pause"]);
  reader.feedData(new Uint8Array(5)); // still paused: no second pause
  assertEquals(calls, ["pause"]);
  await reader.read(10); // 16 left: above the limit
  assertEquals(calls, ["pause"]);
  await reader.read(6); // 10 left: at the limit
  assertEquals(calls, ["pause", "resume"]);
  assertEquals(Deno.inspect(reader), "StreamReader { 10 bytes, limit=10 }");
});

test("async iteration yields lines until EOF", async () => {
  const reader = new StreamReader();
  const lines: string[] = [];
  const done = (async () => {
    for await (const line of reader) lines.push(dec(line));
  })();
  reader.feedData(enc("a\nb"));
  await tick();
  reader.feedData(enc("\nc"));
  reader.feedEof();
  await done;
  assertEquals(lines, ["a\n", "b\n", "c"]);
});

/** An operation of the property test below. */
type Op = { kind: "line" } | { kind: "until"; sep: string[] } | {
  kind: "exactly";
  n: number;
};

/**
 * The reference model of the property test: what each operation returns
 * (`ok:<bytes>`) or throws (`IncompleteReadError:<partial bytes>`,
 * `LimitOverrunError:<consumed>`), worked out on the
 * whole stream at once with plain arrays, as asyncio's reader specifies
 * it (readuntil stops at the match that ends first, and of two that end at
 * the same byte the shorter wins whatever the list's order, as CPython 3.13
 * sorts the separators by length; a match may start at `limit` at most; without one, the search is past the limit
 * once `len(buffer) + 1 - len(longest separator)` exceeds it; at EOF,
 * readline returns what is left). It stops after a `LimitOverrunError`,
 * whose `consumed` is as the stream fed whole gives it.
 */
function modelReader(text: string, ops: Op[], limit: number): string[] {
  let buf = Array.from(enc(text));
  const show = (bytes: number[]) => dec(Uint8Array.from(bytes));
  const out: string[] = [];
  for (const op of ops) {
    let result: string;
    if (op.kind === "exactly") {
      const n = Math.min(op.n, buf.length);
      const bytes = buf.slice(0, n);
      buf = buf.slice(n);
      result = n === op.n
        ? `ok:${show(bytes)}`
        : `IncompleteReadError:${show(bytes)}`;
    } else {
      const seps = (op.kind === "line" ? ["\n"] : op.sep).map((s) =>
        Array.from(enc(s))
      ).sort((a, b) => a.length - b.length);
      const longest = Math.max(...seps.map((sep) => sep.length));
      let start = -1;
      let end = -1;
      for (const sep of seps) {
        for (let i = 0; i + sep.length <= buf.length; i++) {
          if (sep.every((b, k) => buf[i + k] === b)) {
            if (end === -1 || i + sep.length < end) {
              start = i;
              end = i + sep.length;
            }
            break;
          }
        }
      }
      const stop = buf.length + 1 - longest; // where a search without a match stops
      if (end !== -1 ? start > limit : stop > limit) {
        result = `LimitOverrunError:${end !== -1 ? start : stop}`;
      } else if (end !== -1) {
        result = `ok:${show(buf.slice(0, end))}`;
        buf = buf.slice(end);
      } else {
        result = op.kind === "line"
          ? `ok:${show(buf)}`
          : `IncompleteReadError:${show(buf)}`;
        buf = [];
      }
    }
    out.push(result);
    if (result.startsWith("LimitOverrunError")) break;
  }
  return out;
}

test("modelReader, the property test's reference, gives the answers worked out by hand", () => {
  const limit = 16;
  assertEquals(
    modelReader(
      "ab\ncd||e",
      [{ kind: "line" }, { kind: "until", sep: ["||", "|"] }, {
        kind: "exactly",
        n: 5,
      }],
      limit,
    ),
    ["ok:ab\n", "ok:cd|", "IncompleteReadError:|e"],
  );
  assertEquals(
    modelReader("x".repeat(17) + "\n", [{ kind: "line" }], limit),
    ["LimitOverrunError:17"],
  );
  assertEquals(
    modelReader("x".repeat(16) + "\ny", [{ kind: "line" }, { kind: "line" }, {
      kind: "line",
    }], limit),
    ["ok:" + "x".repeat(16) + "\n", "ok:y", "ok:"],
  );
  assertEquals(
    modelReader("x".repeat(17), [{ kind: "until", sep: ["ab"] }], limit),
    ["IncompleteReadError:" + "x".repeat(17)],
  );
  assertEquals(
    modelReader("x".repeat(18), [{ kind: "until", sep: ["ab"] }], limit),
    ["LimitOverrunError:17"],
  );
});

test("property: readline, readuntil and readexactly give the reference model's results, however the stream is split", () => {
  // Separator bytes one time in five: lines near the limit (16) are common.
  const alphabet = fc.oneof(
    { arbitrary: fc.constantFrom("a", "b", "x"), weight: 4 },
    { arbitrary: fc.constantFrom("\n", "\r", "|"), weight: 1 },
  );
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.constant({ kind: "line" } as Op),
    fc.array(fc.constantFrom("\n", "\r\n", "|", "||", "ab"), {
      minLength: 1,
      maxLength: 3,
    }).map((sep) => ({ kind: "until", sep }) as Op),
    fc.integer({ min: 0, max: 12 }).map((n) => ({ kind: "exactly", n }) as Op),
  );

  /** Runs `ops` over `chunks` fed one by one; records each result or error. */
  async function run(chunks: Uint8Array[], ops: Op[]): Promise<string[]> {
    const reader = new StreamReader({ limit: 16 });
    const out: string[] = [];
    let next = 0;
    for (const op of ops) {
      const call = op.kind === "line"
        ? reader.readline()
        : op.kind === "until"
        ? reader.readuntil(op.sep)
        : reader.readexactly(op.n);
      // Feed until the call settles.
      let settled = false;
      const result = call.then(
        (v) => `ok:${dec(v)}`,
        (e) =>
          e instanceof IncompleteReadError
            ? `${e.name}:${dec(e.partial)}`
            : e instanceof LimitOverrunError
            ? `${e.name}:${e.consumed}`
            : `${e.name}:`,
      ).finally(() => (settled = true));
      await Promise.resolve();
      await Promise.resolve();
      while (!settled) {
        if (next < chunks.length) reader.feedData(chunks[next++]!);
        else if (!reader.atEof()) reader.feedEof();
        await Promise.resolve();
        await Promise.resolve();
        await Promise.resolve();
        if (next >= chunks.length) break;
      }
      if (!settled && !reader.atEof()) reader.feedEof();
      out.push(await result);
      if (out.at(-1)!.startsWith("LimitOverrunError")) break;
    }
    return out;
  }

  return fc.assert(
    fc.asyncProperty(
      // size "max": lengths up to 60 (fast-check's default keeps them
      // near 10, under the limit).
      fc.array(alphabet, { maxLength: 60, size: "max" }).map((a) => a.join("")),
      fc.array(fc.integer({ min: 1, max: 59 }), { maxLength: 8 }),
      fc.array(opArb, { minLength: 1, maxLength: 8 }),
      async (text, cuts, ops) => {
        const bytes = enc(text);
        const points = [...new Set(cuts.filter((c) => c < bytes.length))].sort((
          a,
          b,
        ) => a - b);
        const split: Uint8Array[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          split.push(bytes.subarray(prev, p));
          prev = p;
        }
        const expected = modelReader(text, ops, 16);
        assertEquals(await run([bytes], ops), expected, "fed whole");
        // Fed in pieces, a LimitOverrunError may come before the rest of
        // the stream is there: its consumed is then smaller (as in asyncio).
        const noConsumed = (results: string[]) =>
          results.map((r) =>
            r.replace(/^LimitOverrunError:.*$/, "LimitOverrunError")
          );
        assertEquals(
          noConsumed(await run(split, ops)),
          noConsumed(expected),
          "fed in pieces",
        );
      },
    ),
    { numRuns: 500 },
  );
});

test("thousands of tiny feeds read a few bytes at a time, every view kept, then one readuntil across the rest: every byte in order, no view changed", async () => {
  // Every view handed out keeps its bytes: the reader's buffer is then only
  // appended to, and replaced by a fresh one (with the unread bytes) each
  // time it is full, many times over here.
  const reader = new StreamReader({ limit: 1 << 20 });
  const byte = (i: number) => 0x20 + (i % 90); // never "\n"
  for (let i = 0; i < 3000; i++) {
    reader.feedData(new Uint8Array([byte(i), 0x2c]));
  }
  reader.feedData(enc("\n"));
  const kept: Uint8Array[] = [];
  for (let i = 0; i < 1600; i++) {
    const part = await reader.readexactly(2);
    assertEquals(part, new Uint8Array([byte(i), 0x2c]));
    kept.push(part);
    // More tiny feeds while views are held: appended, never overwritten.
    reader.feedData(new Uint8Array([0x2e]));
  }
  const rest = await reader.readuntil("\n");
  assertEquals(rest.length, 2801);
  assertEquals(rest[0], byte(1600));
  assertEquals(rest[2798], byte(2999));
  assertEquals(dec(await reader.read(2000)), ".".repeat(1600));
  for (const [i, part] of kept.entries()) {
    assertEquals(part, new Uint8Array([byte(i), 0x2c]), `view ${i}`);
  }
});

test("readuntil past the limit without the separator reports consumed as where the search stopped, and keeps the data", async () => {
  // asyncio: the search stops at len(buffer) + 1 - len(separator), since
  // the last bytes may still be the start of a separator.
  const reader = readerOf(["1234567"], { eof: false, limit: 5 });
  const err = await reader.readuntil("\r\n").catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  assert(err.message.includes("not found"), err.message);
  assertEquals(err.consumed, 6);
  assertEquals(dec(await reader.read(100)), "1234567");
  // With several separators, the longest sets where the search stops.
  const many = readerOf(["123456789012"], { eof: false, limit: 5 });
  const err2 = await many.readuntil(["\n", "--END--"]).catch((e) => e);
  assertInstanceOf(err2, LimitOverrunError);
  assertEquals(err2.consumed, 6);
});

test("readuntil keeps waiting while the bytes searched are exactly at the limit", async () => {
  const reader = readerOf(["12345"], { eof: false, limit: 5 });
  const pending = reader.readuntil("\n");
  reader.feedData(enc("\n"));
  assertEquals(dec(await pending), "12345\n");
  // A two-byte separator: with "12345\r" the search stops at 5, the limit.
  const crlf = readerOf(["12345"], { eof: false, limit: 5 });
  const pending2 = crlf.readuntil("\r\n");
  crlf.feedData(enc("\r"));
  crlf.feedData(enc("\n"));
  assertEquals(dec(await pending2), "12345\r\n");
  // One more byte without the separator is past the limit.
  const over = readerOf(["12345"], { eof: false, limit: 5 });
  const pending3 = over.readuntil("\n");
  over.feedData(enc("6"));
  const err = await pending3.catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  assertEquals(err.consumed, 6);
});

test("feedData with an empty array does not wake a waiting read", async () => {
  const reader = new StreamReader();
  let settled = false;
  const pending = reader.read(5).finally(() => (settled = true));
  reader.feedData(new Uint8Array(0));
  await tick(); // a negative check: the read must still be waiting
  assertEquals(settled, false);
  assertEquals(reader.atEof(), false);
  reader.feedData(enc("x"));
  assertEquals(dec(await pending), "x");
});

test("readline past the limit reports consumed as where the newline is (or the search stopped), before discarding", async () => {
  const reader = readerOf(["aaaaaaaaaa\nbb\n"], { limit: 5 });
  const err = await reader.readline().catch((e) => e);
  assertInstanceOf(err, LimitOverrunError);
  assertEquals(err.consumed, 10);
  assertEquals(dec(await reader.readline()), "bb\n");
  const noNewline = readerOf(["aaaaaaaaaaaaa"], { eof: false, limit: 5 });
  const err2 = await noNewline.readline().catch((e) => e);
  assertInstanceOf(err2, LimitOverrunError);
  assertEquals(err2.consumed, 13);
  assertEquals(Deno.inspect(noNewline), "StreamReader { 0 bytes, limit=5 }");
});

test("readexactly's IncompleteReadError holds every buffered byte as partial and n as expected, across chunks", async () => {
  const reader = readerOf(["ab", "cd", "e"], { eof: false });
  const pending = reader.readexactly(8);
  reader.feedData(enc("f"));
  reader.feedEof();
  const err = await pending.catch((e) => e);
  assertInstanceOf(err, IncompleteReadError);
  assertEquals(dec(err.partial), "abcdef");
  assertEquals(err.expected, 8);
  assertEquals(err.message, "6 bytes read on a total of 8 expected bytes");
  assertEquals(reader.atEof(), true);
  // readuntil's: expected is null, partial is the whole buffer.
  const until = readerOf(["no", " separator"]);
  const err2 = await until.readuntil("\n").catch((e) => e);
  assertInstanceOf(err2, IncompleteReadError);
  assertEquals(dec(err2.partial), "no separator");
  assertStrictEquals(err2.expected, null);
});
