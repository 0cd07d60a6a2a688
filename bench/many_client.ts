// Copyright 2026 the @aio/net authors. MIT license.
// Opens N idle connections, says "idle", waits for a line on stdin, then
// echoes 16 bytes on each connection and says "done".
// Usage: many_client.ts PORT N
const [port, count] = Deno.args.map(Number) as [number, number];
const conns: Deno.TcpConn[] = [];
for (let i = 0; i < count; i++) {
  conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
}
console.log("idle");
const stdin = Deno.stdin.readable.getReader();
await stdin.read();
const msg = new TextEncoder().encode("0123456789abcdef");
await Promise.all(conns.map(async (conn) => {
  await conn.write(msg);
  const buf = new Uint8Array(16);
  let got = 0;
  while (got < 16) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error("closed early");
    got += n;
  }
  if (new TextDecoder().decode(buf) !== "0123456789abcdef") {
    throw new Error("bad echo");
  }
}));
console.log("done");
for (const conn of conns) conn.close();
