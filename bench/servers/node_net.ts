// Copyright 2026 the @aio/net authors. MIT license.
// What a Deno user might pick instead: node:net inside Deno.
import net from "node:net";
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (data) => socket.write(data));
  socket.on("error", () => socket.destroy());
});
server.listen(
  0,
  "127.0.0.1",
  () => console.log((server.address() as net.AddressInfo).port),
);
