// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The one load client: ping-pong over raw Deno connections. Each connection
 * sends a message of `size` bytes, waits for all of it back, checks it, and
 * repeats; counted only after the warm-up.
 *
 * With a sixth argument, the CA certificate to trust (PEM file), it speaks
 * TLS over `Deno.connectTls` to 127.0.0.1 (where, unlike on TCP, Deno cannot
 * set `TCP_NODELAY`).
 *
 * Usage: deno run --allow-net [--allow-read] bench/load_client.ts PORT SIZE CONNS WARMUP_S DURATION_S [CA_PEM]
 * Prints one JSON line: {"requests": N, "bytes": B, "seconds": S}, where B
 * counts both directions. bench/echo.ts prefers load_client.c (same protocol).
 */
const [port, size, conns, warmup, duration] = Deno.args.slice(0, 5).map(
  Number,
) as [number, number, number, number, number];
const caFile = Deno.args[5];
const caCerts = caFile === undefined
  ? undefined
  : [Deno.readTextFileSync(caFile)];
const start = performance.now();
const countFrom = start + warmup * 1000;
const end = countFrom + duration * 1000;
let requests = 0;
let checked = 0;

async function connection(): Promise<void> {
  let conn: Deno.Conn;
  if (caCerts) {
    conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
  } else {
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    tcp.setNoDelay(true);
    conn = tcp;
  }
  const message = new Uint8Array(size);
  for (let i = 0; i < size; i++) message[i] = (i * 31 + 7) & 0xff;
  const buf = new Uint8Array(Math.max(size, 65536));
  try {
    while (true) {
      const now = performance.now();
      if (now >= end) break;
      let off = 0;
      while (off < size) {
        off += await conn.write(off === 0 ? message : message.subarray(off));
      }
      let got = 0;
      while (got < size) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) throw new Error("server closed the connection");
        got += n;
      }
      // Check every 64th echo byte for byte (and three bytes of every one),
      // so that the check does not eat the shared CPU.
      const full = (++checked & 63) === 0;
      for (let i = full ? 0 : size - 1; i < size; i++) {
        if (buf[i] !== message[i]) {
          throw new Error(`echo mismatch at byte ${i}`);
        }
      }
      if (buf[0] !== message[0] || buf[size >> 1] !== message[size >> 1]) {
        throw new Error("echo mismatch");
      }
      if (now >= countFrom) requests++;
    }
  } finally {
    conn.close();
  }
}

await Promise.all(Array.from({ length: conns }, connection));
console.log(
  JSON.stringify({ requests, bytes: requests * size * 2, seconds: duration }),
);
