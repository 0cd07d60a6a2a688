// Copyright 2026 the @aio/net authors. MIT license.
// The reader's memory (_reader_buffer.ts): lend, commit, append, take, copy
// out, find.
import { assertEquals } from "@std/assert";
import { StreamReader } from "../mod.ts";
import { readerBuffer, readerUpdated } from "../_stream_reader.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("StreamReader: bytes fed while an abandoned read was lent come before the next read's bytes", async () => {
  const reader = new StreamReader();
  readerBuffer(reader, -1); // a read in flight...
  reader.feedData(enc("A")); // ...so this waits for it
  const lent = readerBuffer(reader, -1); // the first read ended uncommitted
  lent.set(enc("B"));
  readerUpdated(reader, 1);
  reader.feedEof();
  assertEquals(dec(await reader.read()), "AB");
});

Deno.test("StreamReader: a read waiting while a read was lent gets the bytes fed meanwhile once that read is abandoned", async () => {
  const reader = new StreamReader();
  const pending = reader.read(10);
  readerBuffer(reader, -1);
  reader.feedData(enc("A")); // queued behind the read in flight
  readerBuffer(reader, -1); // which ended uncommitted: "A" is readable now
  assertEquals(dec(await pending), "A");
});
