// Copyright 2026 the @aio/net authors. MIT license.
// StreamReader.readInto: reads into the caller's buffer, allocating nothing.
import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { openConnection, startServer, StreamReader } from "../mod.ts";
import {
  readerBuffer,
  readerUpdated,
  setReaderTransport,
} from "../_stream_reader.ts";
import {
  abortOnDispose,
  digest,
  portOf,
  randomBytes,
  test,
} from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

test("readInto fills the buffer in parts, with what is buffered, then 0 at EOF", async () => {
  const reader = new StreamReader();
  reader.feedData(enc("0123456789"));
  reader.feedEof();
  const buf = new Uint8Array(4);
  assertEquals(await reader.readInto(buf), 4);
  assertEquals(dec(buf), "0123");
  assertEquals(await reader.readInto(buf), 4);
  assertEquals(dec(buf), "4567");
  assertEquals(await reader.readInto(buf), 2);
  assertEquals(dec(buf.subarray(0, 2)), "89");
  assertEquals(dec(buf.subarray(2)), "67"); // the rest untouched
  assertEquals(await reader.readInto(buf), 0);
  assertEquals(await reader.readInto(buf), 0);
  assertEquals(reader.atEof(), true);
});

test("readInto waits for data, writes into a view at its offset, and returns what arrived", async () => {
  const reader = new StreamReader();
  const backing = new Uint8Array(8).fill(0x2e);
  const view = backing.subarray(2, 6);
  const pending = reader.readInto(view);
  await tick();
  reader.feedData(enc("ab"));
  assertEquals(await pending, 2);
  assertEquals(dec(backing), "..ab....");
  // An empty buffer reads nothing, at once, even with nothing buffered.
  assertEquals(await reader.readInto(new Uint8Array(0)), 0);
});

test("readInto rejects with the reader's exception, pending or later", async () => {
  const reader = new StreamReader();
  const pending = reader.readInto(new Uint8Array(4));
  const err = new Deno.errors.ConnectionReset("gone");
  reader.setException(err);
  assertStrictEquals(await pending.catch((e) => e), err);
  assertStrictEquals(
    await reader.readInto(new Uint8Array(4)).catch((e) => e),
    err,
  );
});

test("readInto: an aborted wait rejects with the reason, keeps later bytes, and can be retried at once", async () => {
  const reader = new StreamReader();
  const ac = new AbortController();
  const pending = reader.readInto(new Uint8Array(4), { signal: ac.signal });
  const reason = new Error("enough");
  ac.abort(reason);
  assertStrictEquals(await pending.catch((e) => e), reason);
  reader.feedData(enc("xyz"));
  const buf = new Uint8Array(4);
  assertEquals(await reader.readInto(buf), 3);
  assertEquals(dec(buf.subarray(0, 3)), "xyz");
  // Already aborted: rejects before waiting.
  await assertRejects(
    () => reader.readInto(buf, { signal: AbortSignal.abort(reason) }),
    Error,
    "enough",
  );
});

test("readInto mixes with readline, readexactly and read, in stream order", async () => {
  const reader = new StreamReader();
  reader.feedData(enc("line one\nABCDEFGHIJ"));
  reader.feedData(enc("KL\nrest"));
  reader.feedEof();
  assertEquals(dec(await reader.readline()), "line one\n");
  const buf = new Uint8Array(3);
  assertEquals(await reader.readInto(buf), 3);
  assertEquals(dec(buf), "ABC");
  assertEquals(dec(await reader.readexactly(2)), "DE");
  assertEquals(await reader.readInto(buf), 3);
  assertEquals(dec(buf), "FGH");
  assertEquals(dec(await reader.readline()), "IJKL\n");
  assertEquals(dec(await reader.read()), "rest");
  assertEquals(await reader.readInto(buf), 0);
});

test("readInto: bad arguments and a second concurrent wait are refused", async () => {
  const reader = new StreamReader();
  await assertRejects(
    () => reader.readInto("buffer" as unknown as Uint8Array),
    TypeError,
    "buffer must be a Uint8Array",
  );
  await assertRejects(
    () => reader.readInto(new Uint8Array(1), 5 as unknown as object),
    TypeError,
    "options",
  );
  const first = reader.readInto(new Uint8Array(1));
  await assertRejects(
    () => reader.readInto(new Uint8Array(1)),
    Error,
    "another call is already waiting",
  );
  reader.feedData(enc("!"));
  assertEquals(await first, 1);
});

test("readInto resumes a paused transport once it drains the buffer to the limit", async () => {
  const reader = new StreamReader({ limit: 10 });
  const calls: string[] = [];
  setReaderTransport(reader, {
    pauseReading: () => calls.push("pause"),
    resumeReading: () => calls.push("resume"),
  });
  reader.feedData(new Uint8Array(25));
  assertEquals(calls, ["pause"]); // above 2 x limit
  const buf = new Uint8Array(10);
  assertEquals(await reader.readInto(buf), 10); // 15 left: still above
  assertEquals(calls, ["pause"]);
  assertEquals(await reader.readInto(new Uint8Array(5)), 5); // 10 left
  assertEquals(calls, ["pause", "resume"]);
});

test("feedData copies: changing the fed array afterwards changes nothing read", async () => {
  const reader = new StreamReader();
  const data = enc("abcdef");
  reader.feedData(data);
  data.fill(0x21);
  assertEquals(dec(await reader.read(3)), "abc");
  const kept = await reader.read(3);
  reader.feedData(enc("zzz")); // the reader reuses its memory...
  assertEquals(dec(kept), "def"); // ...but what it returned is the caller's
});

test("streams: an echo on readInto with one reused buffer returns 2 MiB byte for byte", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        const buf = new Uint8Array(65536);
        let n: number;
        while ((n = await reader.readInto(buf)) > 0) {
          writer.write(buf.subarray(0, n)); // write() copies
          await writer.drain();
        }
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const payload = randomBytes(2 * 1024 * 1024);
  // Keep every read() result: the reader's reused memory must not change them.
  const kept: Uint8Array[] = [];
  const receiving = (async () => {
    let got = 0;
    while (got < payload.length) {
      const part = await reader.read(65536);
      assert(part.length > 0, "EOF before the whole echo");
      kept.push(part);
      got += part.length;
    }
  })();
  for (let off = 0; off < payload.length; off += 100_000) {
    writer.write(payload.subarray(off, off + 100_000));
    await writer.drain();
  }
  writer.writeEof();
  await receiving;
  const joined = new Uint8Array(payload.length);
  let off = 0;
  for (const part of kept) {
    joined.set(part, off);
    off += part.length;
  }
  assertEquals(await digest(joined), await digest(payload));
  assertEquals(await reader.readInto(new Uint8Array(8)), 0);
  writer.close();
  await writer.waitClosed();
});

test("transport reads into reader memory: with reads taken while a read is in flight, every byte arrives in order and every returned view keeps its bytes", async () => {
  // Drives the reader as the transport does (lend, the socket fills part of
  // it, commit), with the application's reads in between: before the lend,
  // and between the lend and the commit (the read in flight). Views returned
  // earlier must never change, whichever buffer the next read went to.
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const byteAt = (i: number) => (Math.imul(i, 2654435761) >>> 24) & 0xff;
  for (let trial = 0; trial < 40; trial++) {
    const reader = new StreamReader({ limit: 1 << 20 });
    let sent = 0;
    let got = 0;
    const kept: [Uint8Array, Uint8Array][] = []; // [view, copy]
    let fresh = 0;
    let last: ArrayBufferLike | null = null;
    const check = (part: Uint8Array) => {
      for (let i = 0; i < part.length; i++) {
        if (part[i] !== byteAt(got + i)) {
          throw new Error(`trial ${trial}: byte ${got + i} is wrong`);
        }
      }
      got += part.length;
    };
    const take = async () => {
      const size = sent - got;
      if (size === 0) return;
      let part: Uint8Array;
      // Odd trials only copy out: the reader's memory is then reused.
      switch (trial % 2 ? 3 : rand(4)) {
        case 0:
          part = await reader.read(1 + rand(size + 1000));
          break;
        case 1:
          part = await reader.readexactly(1 + rand(size));
          break;
        case 2: // leave one byte unread
          part = await reader.readexactly(Math.max(1, size - 1));
          break;
        default: {
          const buf = new Uint8Array(1 + rand(rand(2) ? size + 10 : 2000));
          part = buf.subarray(0, await reader.readInto(buf));
        }
      }
      kept.push([part, part.slice()]);
      check(part);
    };
    for (let step = 0; step < 40; step++) {
      if (rand(2) === 0) await take();
      const lent = readerBuffer(reader, -1);
      if (lent.buffer !== last) fresh++;
      last = lent.buffer;
      if (rand(2) === 0) await take(); // while the read is in flight
      const n = rand(4) === 0 ? lent.length : rand(lent.length + 1);
      for (let i = 0; i < n; i++) lent[i] = byteAt(sent + i);
      sent += n;
      readerUpdated(reader, n);
    }
    reader.feedEof();
    check(await reader.read());
    assertEquals(got, sent);
    for (const [view, copy] of kept) assertEquals(view, copy);
    assert(fresh > 1, "the reads never went to a fresh buffer");
  }
});

test("transport reads into reader memory: a read lent while unread bytes sit just past where it would fit never overwrites them", async () => {
  // readInto only, so the reader reuses its memory. Grow the reads to their
  // largest, leave the unread bytes starting just short of one read's length
  // from the buffer's front, then lend: the read must not go to the front
  // (it would overlap them), and every byte must come back in order.
  const byteAt = (i: number) => (Math.imul(i, 2654435761) >>> 24) & 0xff;
  const reader = new StreamReader({ limit: 1 << 20 });
  let sent = 0;
  let got = 0;
  const fill = (lent: Uint8Array, n = lent.length) => {
    for (let i = 0; i < n; i++) lent[i] = byteAt(sent + i);
    sent += n;
    readerUpdated(reader, n);
  };
  const take = async (n: number) => {
    const buf = new Uint8Array(n);
    const m = await reader.readInto(buf);
    for (let i = 0; i < m; i++) assertEquals(buf[i], byteAt(got + i));
    got += m;
    return m;
  };
  let lent = readerBuffer(reader, -1);
  while (lent.length < 65536) { // reads double as they fill
    fill(lent);
    await take(lent.length);
    lent = readerBuffer(reader, -1);
  }
  fill(lent); // 64 KiB unread
  fill(readerBuffer(reader, -1)); // 128 KiB unread
  assertEquals(await take(65536 - 50), 65536 - 50);
  fill(readerBuffer(reader, -1));
  while (got < sent) await take(100_000);
  assertEquals(got, sent);
});

/** The stream the slow-consumer tests send: a newline every 101 bytes. */
const lineByteAt = (i: number) =>
  i % 101 === 100 ? 0x0a : 0x41 + ((i * 7 + Math.floor(i / 101)) % 26);

test("transport reads into reader memory: with a 1 MiB limit and a consumer slower than the data, holding every view, the unread bytes always fit in front of a fresh buffer and every byte arrives in order", async () => {
  // The transport's three ways in: a socket read (getBuffer(-1): the reader
  // picks the size, up to 64 KiB), a delivery of a known size (getBuffer(n),
  // as over TLS), and feedData. Each step brings more than the application
  // takes, with read(n) and readline(), keeping every view: the unread
  // bytes grow far beyond a few reads' worth (the case where a fresh buffer
  // sized without them overflowed: "offset is out of bounds").
  const limit = 1 << 20;
  const ways: [string, (reader: StreamReader, at: number) => number][] = [
    ["getBuffer(-1)", (reader, at) => {
      const lent = readerBuffer(reader, -1);
      for (let i = 0; i < lent.length; i++) lent[i] = lineByteAt(at + i);
      readerUpdated(reader, lent.length);
      return lent.length;
    }],
    ["getBuffer(50000)", (reader, at) => {
      // At least half of it (the rest of a buffer filled to its end); the
      // transport then asks again for the rest of what it delivers.
      const lent = readerBuffer(reader, 50_000);
      assert(lent.length >= 25_000, `lent ${lent.length}`);
      const n = Math.min(lent.length, 50_000);
      for (let i = 0; i < n; i++) lent[i] = lineByteAt(at + i);
      readerUpdated(reader, n);
      return n;
    }],
    ["feedData", (reader, at) => {
      const chunk = new Uint8Array(50_000);
      for (let i = 0; i < chunk.length; i++) chunk[i] = lineByteAt(at + i);
      reader.feedData(chunk);
      return chunk.length;
    }],
  ];
  for (const [way, bring] of ways) {
    const reader = new StreamReader({ limit });
    const kept: Uint8Array[] = [];
    let sent = 0;
    let got = 0;
    let maxUnread = 0;
    const take = (part: Uint8Array) => {
      for (let i = 0; i < part.length; i++) {
        if (part[i] !== lineByteAt(got + i)) {
          assertEquals(part[i], lineByteAt(got + i), `${way}: byte ${got + i}`);
        }
      }
      kept.push(part);
      got += part.length;
    };
    for (let step = 0; step < 40; step++) {
      const brought = bring(reader, sent);
      sent += brought;
      maxUnread = Math.max(maxUnread, sent - got);
      // Take about a third of what came: a slow consumer.
      const target = got + Math.floor(brought / 3);
      for (let i = 0; got < target; i++) {
        take(i % 2 ? await reader.readline() : await reader.read(2000));
      }
    }
    assert(maxUnread > 1_000_000, `${way}: at most ${maxUnread} bytes unread`);
    reader.feedEof();
    take(await reader.read());
    assertEquals(got, sent, way);
    // Every view handed out still holds its bytes.
    let at = 0;
    for (const part of kept) {
      for (let i = 0; i < part.length; i++) {
        if (part[i] !== lineByteAt(at + i)) {
          assertEquals(
            part[i],
            lineByteAt(at + i),
            `${way}: a kept view changed at byte ${at + i}`,
          );
        }
      }
      at += part.length;
    }
  }
});
