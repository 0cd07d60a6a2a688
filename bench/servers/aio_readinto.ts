// Copyright 2026 the @aio/net authors. MIT license.
// Our streams echo on readInto: one reused 64 KiB buffer per connection
// (readInto, write, drain); over TLS with --tls.
import { startServer } from "../../mod.ts";
import { serverOptions } from "./_tls.ts";

const server = await startServer(
  async (reader, writer) => {
    const buffer = new Uint8Array(65536);
    let n: number;
    while ((n = await reader.readInto(buffer)) > 0) {
      writer.write(buffer.subarray(0, n)); // write() copies
      await writer.drain();
    }
    writer.close();
  },
  "127.0.0.1",
  0,
  serverOptions,
);
console.log((server.sockets[0]!.addr as Deno.NetAddr).port);
await server.serveForever();
