// Copyright 2026 the @aio/net authors. MIT license.
// The UDP ceiling on the same engine: a raw node:dgram echo loop (every
// datagram sent straight back, no queue, no checks). Prints its port.
import dgram from "node:dgram";

const socket = dgram.createSocket("udp4");
socket.on("message", (data, rinfo) => {
  socket.send(data, rinfo.port, rinfo.address);
});
socket.on("error", () => {}); // a failed send: the client counts it lost
socket.bind(0, "127.0.0.1", () => console.log(socket.address().port));
