// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The one load client: ping-pong over raw Deno connections. Each connection
 * sends a message of `size` bytes, waits for all of it back, checks it, and
 * repeats; counted only after the warm-up.
 *
 * With a sixth argument, the CA certificate to trust (PEM file), it speaks
 * TLS over `Deno.connectTls` to 127.0.0.1 (where, unlike on TCP, Deno cannot
 * set `TCP_NODELAY`). A seventh argument, `starttls`, connects in plain TCP
 * first (`Deno.connect`), sends `STARTTLS\r\n`, reads exactly `OK\r\n`,
 * and then upgrades the same connection with `Deno.startTls` (for
 * `servers/aio_starttls.ts`).
 *
 * Usage: deno run --allow-net [--allow-read] bench/load_client.ts PORT SIZE CONNS WARMUP_S DURATION_S [CA_PEM [starttls]]
 * Prints one JSON line: {"requests": N, "bytes": B, "seconds": S}, where B
 * counts both directions. bench/echo.ts prefers load_client.c (same protocol).
 */
const [port, size, conns, warmup, duration] = Deno.args.slice(0, 5).map(
  Number,
) as [number, number, number, number, number];
const caFile = Deno.args[5];
const starttls = Deno.args[6] === "starttls";
if (Deno.args.length > 7 || (Deno.args.length === 7 && !starttls)) {
  throw new TypeError(`unknown arguments: ${Deno.args.slice(6).join(" ")}`);
}
const caCerts = caFile === undefined
  ? undefined
  : [Deno.readTextFileSync(caFile)];
const start = performance.now();
const countFrom = start + warmup * 1000;
const end = countFrom + duration * 1000;
let requests = 0;
let checked = 0;

/**
 * The plain exchange before the upgrade: sends `STARTTLS\r\n` and reads
 * exactly `OK\r\n` (no more: the rest belongs to the handshake).
 */
async function starttlsExchange(conn: Deno.Conn): Promise<void> {
  const request = new TextEncoder().encode("STARTTLS\r\n");
  for (let off = 0; off < request.length;) {
    off += await conn.write(request.subarray(off));
  }
  const answer = new Uint8Array(4);
  for (let got = 0; got < answer.length;) {
    const n = await conn.read(answer.subarray(got));
    if (n === null) throw new Error("server closed the connection before OK");
    got += n;
  }
  const text = new TextDecoder().decode(answer);
  if (text !== "OK\r\n") {
    throw new Error(
      `expected OK\\r\\n after STARTTLS, got ${JSON.stringify(text)}`,
    );
  }
}

async function connection(): Promise<void> {
  let conn: Deno.Conn;
  if (caCerts && starttls) {
    // TCP_NODELAY stays off, as on the Deno.connectTls connections.
    const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
    await starttlsExchange(tcp);
    conn = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts });
  } else if (caCerts) {
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
