// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The UDP echo server of the asyncio documentation ("UDP Echo Server",
 * under Transports and Protocols): it echoes every datagram to its
 * sender, on 127.0.0.1:9999 by default. Where the documentation serves for
 * an hour, this one serves until SIGINT or SIGTERM; it also prints the
 * address it is bound to (the real port with `--port 0`).
 *
 * Run: deno run --allow-net examples/udp_echo_server.ts [--host 127.0.0.1] [--port 9999]
 *
 * @module
 */
import {
  createDatagramEndpoint,
  DatagramProtocol,
  type DatagramTransport,
} from "../mod.ts";
import { parseExampleArgs, stopSignal } from "./_support.ts";

/** A `host:port` form of an address. */
const show = (addr: Deno.NetAddr) =>
  addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;

/** Prints each datagram and sends it back where it came from. */
export class EchoServerProtocol extends DatagramProtocol {
  #transport?: DatagramTransport;
  readonly closed = Promise.withResolvers<void>();

  override connectionMade(transport: DatagramTransport): void {
    this.#transport = transport;
  }

  override datagramReceived(data: Uint8Array, addr: Deno.NetAddr): void {
    const message = JSON.stringify(new TextDecoder().decode(data));
    console.log(`Received ${message} from ${show(addr)}`);
    console.log(`Send ${message} to ${show(addr)}`);
    this.#transport!.sendto(data, addr);
  }

  override connectionLost(): void {
    this.closed.resolve();
  }
}

/** Serves until SIGINT/SIGTERM (or `signal`), then closes the endpoint. */
export async function main(
  args: string[],
  signal: AbortSignal = stopSignal(),
): Promise<void> {
  const { host, port } = parseExampleArgs(args, {
    host: "127.0.0.1",
    port: 9999,
  });
  console.log("Starting UDP server");
  const [transport, protocol] = await createDatagramEndpoint(
    () => new EchoServerProtocol(),
    { localAddr: { hostname: host, port } },
  );
  console.log(
    `Serving on ${show(transport.getExtraInfo("sockname") as Deno.NetAddr)}`,
  );
  try {
    if (!signal.aborted) {
      await new Promise((resolve) =>
        signal.addEventListener("abort", resolve, { once: true })
      );
    }
  } finally {
    transport.close();
    await protocol.closed.promise;
  }
}

if (import.meta.main) await main(Deno.args);
