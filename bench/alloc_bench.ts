// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Why the hot path avoids fresh memory: what a buffer costs in Deno, fresh
 * (`new Uint8Array(n)`), copied into fresh memory (`slice`), or copied into
 * memory reused from before (`set`). A `Protocol` must hand `dataReceived`
 * bytes it may keep (fresh memory each read); a `BufferedProtocol`, a
 * `readInto` and the raw loop reuse one buffer.
 *
 *     deno bench bench/alloc_bench.ts
 *
 * The fresh variants also pay for the garbage collections their freed
 * buffers cause (external memory pressure), spread over the iterations.
 *
 * @module
 */

const KiB = 1024;

for (const size of [1 * KiB, 16 * KiB, 64 * KiB, 256 * KiB]) {
  const src = new Uint8Array(size).fill(7);
  const dst = new Uint8Array(size);
  const group = `${size / KiB} KiB`;
  let sink: Uint8Array | undefined;
  Deno.bench({
    name: `new Uint8Array(${size / KiB} KiB)`,
    group,
    baseline: true,
    fn: () => {
      sink = new Uint8Array(size);
    },
  });
  Deno.bench({
    name: `slice() of ${size / KiB} KiB (fresh copy)`,
    group,
    fn: () => {
      sink = src.slice(0, size);
    },
  });
  Deno.bench({
    name: `set() of ${size / KiB} KiB into a reused buffer`,
    group,
    fn: () => {
      dst.set(src);
      sink = dst;
    },
  });
  Deno.bench({
    name: `subarray() view of ${size / KiB} KiB`,
    group,
    fn: () => {
      sink = src.subarray(0, size);
    },
  });
  void sink;
}
