// Copyright 2026 the @aio/net authors. MIT license.
// Our Protocol echo; over TLS with --tls.
import { createServer, Protocol, type Transport } from "../../mod.ts";
import { serverOptions } from "./_tls.ts";
class Echo extends Protocol {
  #transport?: Transport;
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.#transport!.write(data);
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
