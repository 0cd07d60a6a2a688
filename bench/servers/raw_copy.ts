// Copyright 2026 the @aio/net authors. MIT license.
// A reference, not a contender: the raw Deno.Conn loop of raw.ts, but each
// read is copied into a second buffer, which is then written. This is the
// ceiling for any echo whose write() copies what it is given, as asyncio's
// transports and ours do (a caller may change its buffer once write()
// returns, and Deno has no synchronous socket write to finish before then):
// BufferedProtocol and streams on readInto read without a copy but write
// with one.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for await (const conn of listener) {
  conn.setNoDelay(true);
  (async () => {
    const buf = new Uint8Array(65536);
    const out = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        out.set(buf.subarray(0, n));
        let off = 0;
        while (off < n) off += await conn.write(out.subarray(off, n));
      }
    } catch { /* peer went away */ }
    try {
      conn.close();
    } catch { /* closed */ }
  })();
}
