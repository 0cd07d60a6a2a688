// Copyright 2026 the @aio/net authors. MIT license.
// The other engine, for reference: a Deno.listenDatagram echo loop (needs
// --unstable-net), one receive and one send at a time. Prints its port.
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: "127.0.0.1",
  port: 0,
});
console.log((conn.addr as Deno.NetAddr).port);
const buf = new Uint8Array(65536);
while (true) {
  const [data, addr] = await conn.receive(buf);
  try {
    await conn.send(data, addr);
  } catch { /* the client counts it lost */ }
}
