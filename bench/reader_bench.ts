// Copyright 2026 the @aio/net authors. MIT license.
/**
 * StreamReader cost against body size: `readuntil` over a body whose
 * separator comes last, and `readexactly` of the whole body, both fed in
 * 64 KiB pieces while the call waits (as a socket feeds it). A cost
 * proportional to the body size would grow 8x from 1 to 8 MiB and 8x again
 * to 64 MiB; the runs recorded in docs/performance.md grew by 4x to 31x per
 * step, so they do not show the reader's time to be linear.
 *
 * Run: deno bench bench/reader_bench.ts
 */
import { StreamReader } from "../mod.ts";

const PIECE = 64 * 1024;
const SEPARATOR = new TextEncoder().encode("\r\n--end--\r\n");

/** Feeds `size` bytes in 64 KiB pieces, yielding to the waiting reader between pieces. */
async function feed(
  reader: StreamReader,
  size: number,
  tail?: Uint8Array,
): Promise<void> {
  const piece = new Uint8Array(PIECE).fill(0x61);
  for (let sent = 0; sent < size; sent += PIECE) {
    reader.feedData(piece.subarray(0, Math.min(PIECE, size - sent)));
    await Promise.resolve();
  }
  if (tail) reader.feedData(tail);
}

for (const mib of [1, 8, 64]) {
  const size = mib * 1024 * 1024;
  Deno.bench(`readuntil over ${mib} MiB in 64 KiB pieces`, {
    group: "readuntil",
    baseline: mib === 1,
  }, async () => {
    const reader = new StreamReader({ limit: size + 1024 });
    const result = reader.readuntil(SEPARATOR);
    await feed(reader, size, SEPARATOR);
    const line = await result;
    if (line.length !== size + SEPARATOR.length) {
      throw new Error(`got ${line.length} bytes`);
    }
  });
  Deno.bench(`readexactly(${mib} MiB) in 64 KiB pieces`, {
    group: "readexactly",
    baseline: mib === 1,
  }, async () => {
    const reader = new StreamReader();
    const result = reader.readexactly(size);
    await feed(reader, size);
    const data = await result;
    if (data.length !== size) throw new Error(`got ${data.length} bytes`);
  });
}
