// Copyright 2026 the @aio/net authors. MIT license.
// Our BufferedProtocol echo: one receive buffer per connection; write() copies.
// Over TLS with --tls.
import { BufferedProtocol, createServer, type Transport } from "../../mod.ts";
import { serverOptions } from "./_tls.ts";
class Echo extends BufferedProtocol {
  #transport?: Transport;
  #buffer = new Uint8Array(65536);
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }
  override getBuffer(): Uint8Array {
    return this.#buffer;
  }
  override bufferUpdated(nbytes: number): void {
    this.#transport!.write(this.#buffer.subarray(0, nbytes));
  }
}
const server = await createServer(
  () => new Echo(),
  "127.0.0.1",
  0,
  serverOptions,
);
console.log((server.sockets[0]!.addr as Deno.NetAddr).port);
await server.serveForever();
