// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The client of `burst_memory.ts`, in its own process: opens N connections
 * and says `idle`; at a line on stdin, sends BYTES on every connection
 * (CONCURRENCY connections at a time), reads the whole echo back, checks
 * it, and says `done SECONDS`; then keeps every connection open and idle
 * until stdin closes, and closes them. A wrong echo is said as `bad ...`
 * and ends the process with status 1.
 *
 * Connection `c` sends the bytes `pattern(off + i)` for `i < BYTES`, with
 * `off = 4 * (c % 1021)`: each byte depends on its position, and
 * neighbouring connections send different bytes.
 *
 * Usage: burst_client.ts PORT N BYTES CONCURRENCY
 */
const [port, count, size, concurrency] = Deno.args.map(Number) as [
  number,
  number,
  number,
  number,
];

/** What connection `c`'s bytes start at in {@linkcode pattern}. */
const offsetOf = (c: number) => 4 * (c % 1021);

/** A pseudo-random byte for each position (a multiplicative hash of it). */
const pattern = new Uint8Array(size + offsetOf(1020));
for (let i = 0; i < pattern.length; i++) {
  pattern[i] = Math.imul(i, 2654435761) >>> 24;
}
const pattern32 = new Uint32Array(pattern.buffer, 0, pattern.length >>> 2);

const conns: Deno.TcpConn[] = [];
for (let i = 0; i < count; i++) {
  conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
}
console.log("idle");

const stdin = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  .getReader();
await stdin.read();

/** Writes connection `c`'s bytes. */
async function send(conn: Deno.TcpConn, c: number): Promise<void> {
  const bytes = pattern.subarray(offsetOf(c), offsetOf(c) + size);
  let off = 0;
  while (off < size) {
    off += await conn.write(bytes.subarray(off, off + 65536));
  }
}

/** Reads connection `c`'s echo into `into` and checks it. */
async function receive(
  conn: Deno.TcpConn,
  c: number,
  into: Uint8Array,
): Promise<void> {
  let got = 0;
  while (got < size) {
    const n = await conn.read(into.subarray(got, size));
    if (n === null) throw new Error(`connection ${c} closed at byte ${got}`);
    got += n;
  }
  // Compare four bytes at a time: both views start 4-aligned.
  const start = offsetOf(c) >>> 2;
  const words = new Uint32Array(into.buffer, 0, size >>> 2);
  let bad = -1;
  for (let w = 0; w < words.length; w++) {
    if (words[w] !== pattern32[start + w]) {
      bad = 4 * w;
      break;
    }
  }
  for (let i = words.length * 4; bad === -1 && i < size; i++) {
    if (into[i] !== pattern[offsetOf(c) + i]) bad = i;
  }
  if (bad !== -1) {
    for (let i = bad; i < bad + 4; i++) {
      if (into[i] !== pattern[offsetOf(c) + i]) {
        bad = i;
        break;
      }
    }
    throw new Error(`bad echo on connection ${c} at byte ${bad}`);
  }
}

const start = performance.now();
let next = 0;
try {
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      const into = new Uint8Array(size);
      while (next < count) {
        const c = next++;
        await Promise.all([
          send(conns[c]!, c),
          receive(conns[c]!, c, into),
        ]);
      }
    }),
  );
} catch (err) {
  console.log(`bad: ${(err as Error).message}`);
  Deno.exit(1);
}
console.log(`done ${((performance.now() - start) / 1000).toFixed(2)}`);

// Idle until the harness closes stdin.
while (!(await stdin.read()).done) { /* nothing is sent */ }
for (const conn of conns) conn.close();
