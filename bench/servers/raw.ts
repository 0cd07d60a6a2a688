// Copyright 2026 the @aio/net authors. MIT license.
// The ceiling: a raw Deno.Conn read/write loop with one 64 KiB buffer. With
// --tls, the same loop over Deno.listenTls (the TLS baseline).
import { tls } from "./_tls.ts";

const listener: Deno.Listener = tls
  ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls })
  : Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log((listener.addr as Deno.NetAddr).port);
for await (const conn of listener) {
  // Deno.TlsConn has no setNoDelay (Deno leaves Nagle on for TLS).
  if (!tls) (conn as Deno.TcpConn).setNoDelay(true);
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
