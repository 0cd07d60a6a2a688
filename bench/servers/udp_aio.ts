// Copyright 2026 the @aio/net authors. MIT license.
// The UDP echo of @aio/net: a DatagramProtocol that sends every datagram
// back to its sender. Prints its port.
import {
  createDatagramEndpoint,
  DatagramProtocol,
  type DatagramTransport,
} from "../../datagram.ts";

class Echo extends DatagramProtocol {
  #transport?: DatagramTransport;
  override connectionMade(transport: DatagramTransport): void {
    this.#transport = transport;
  }
  override datagramReceived(data: Uint8Array, addr: Deno.NetAddr): void {
    this.#transport!.sendto(data, addr);
  }
}

const [transport] = await createDatagramEndpoint(() => new Echo(), {
  localAddr: { hostname: "127.0.0.1", port: 0 },
});
console.log((transport.getExtraInfo("sockname") as Deno.NetAddr).port);
