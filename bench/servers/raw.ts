// Copyright 2026 the @aio/net authors. MIT license.
// The ceiling: a raw Deno.Conn read/write loop with one 64 KiB buffer.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(listener.addr.port);
for await (const conn of listener) {
  conn.setNoDelay(true);
  (async () => {
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        let off = 0;
        while (off < n) off += await conn.write(buf.subarray(off, n));
      }
    } catch { /* peer went away */ }
    try {
      conn.close();
    } catch { /* closed */ }
  })();
}
