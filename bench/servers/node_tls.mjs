// Copyright 2026 the @aio/net authors. MIT license.
// Node's own TLS echo server (node:tls under Node, not Deno), for the TLS
// table: TCP_NODELAY on, the test certificate. Prints its port.
// Usage: node node_tls.mjs CERT KEY
import { readFileSync } from "node:fs";
import tls from "node:tls";

const [cert, key] = process.argv.slice(2).map((path) => readFileSync(path));
const server = tls.createServer({ cert, key }, (socket) => {
  socket.setNoDelay(true);
  socket.on("data", (data) => socket.write(data));
  socket.on("end", () => socket.end());
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
