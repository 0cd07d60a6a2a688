// Copyright 2026 the @aio/net authors. MIT license.
/**
 * UDP: asyncio's datagram endpoints (`loop.create_datagram_endpoint`,
 * `asyncio.DatagramProtocol`) over Deno's `node:dgram`. No flag is needed
 * (`Deno.listenDatagram` would need `--unstable-net`).
 *
 * A datagram protocol is told of each datagram whole, with its sender's
 * address; its transport sends datagrams, queued and sent in order, with
 * the same write-buffer watermarks as a stream transport.
 *
 * @example Echo server and client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol, type DatagramTransport } from "@aio/net/datagram";
 *
 * class Echo extends DatagramProtocol {
 *   #transport?: DatagramTransport;
 *   readonly lost = Promise.withResolvers<void>();
 *   override connectionMade(transport: DatagramTransport): void {
 *     this.#transport = transport;
 *   }
 *   override datagramReceived(data: Uint8Array, addr: Deno.NetAddr): void {
 *     this.#transport!.sendto(data, addr);
 *   }
 *   override connectionLost(): void {
 *     this.lost.resolve();
 *   }
 * }
 *
 * class Client extends Echo {
 *   readonly reply = Promise.withResolvers<string>();
 *   override datagramReceived(data: Uint8Array): void {
 *     this.reply.resolve(new TextDecoder().decode(data));
 *   }
 * }
 *
 * const [server, echo] = await createDatagramEndpoint(() => new Echo(), {
 *   localAddr: { hostname: "127.0.0.1", port: 0 },
 * });
 * const [transport, client] = await createDatagramEndpoint(() => new Client(), {
 *   localAddr: { hostname: "127.0.0.1", port: 0 },
 *   remoteAddr: server.getExtraInfo("sockname") as Deno.NetAddr,
 * });
 * transport.sendto(new TextEncoder().encode("hello"));
 * assertEquals(await client.reply.promise, "hello");
 * transport.close();
 * server.close();
 * await Promise.all([client.lost.promise, echo.lost.promise]);
 * ```
 *
 * @module
 */
import { checkDatagramEndpointOptions, checkFunction } from "./_checks.ts";
import type { DatagramProtocol, DatagramTransport } from "./_contract.ts";
import type { DatagramEndpointOptions } from "./_options.ts";
import { openDatagramEndpoint } from "./_datagram.ts";

export {
  BaseProtocol,
  type BaseTransport,
  DatagramProtocol,
  type DatagramTransport,
} from "./_contract.ts";
export {
  type DatagramAddress,
  type DatagramEndpointOptions,
  type DatagramFamily,
} from "./_options.ts";

/**
 * Opens a UDP endpoint and runs a protocol on it: asyncio's
 * `loop.create_datagram_endpoint`. With `localAddr` it binds there; with
 * `remoteAddr` it is connected: `sendto(data)` sends there and only
 * datagrams from there are delivered.
 *
 * Deno's engine (`node:dgram`) never reports an ICMP "port unreachable",
 * so a connected endpoint whose peer is gone is not told
 * (`errorReceived(Deno.errors.ConnectionRefused)` would come where the
 * engine reported it).
 *
 * @param protocolFactory Called once, after binding, to make the protocol.
 * @param options Where to bind and connect, the family, `SO_REUSEADDR`,
 * `SO_BROADCAST`, a signal to abort the creation.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If an argument has the wrong type, or the factory
 * returns something else than an object.
 * @throws {RangeError} If an option is out of range, the families of the
 * addresses and `family` disagree, none of `localAddr`, `remoteAddr` and
 * `family` is given, or `reusePort` is `true`.
 * @throws {Deno.errors.AddrInUse} If the local address is taken.
 * @throws {Deno.errors.AddrNotAvailable} If the local address is not one
 * of this machine's.
 * @throws {Deno.errors.NotFound} If a host name does not resolve.
 * @throws {Deno.errors.NotCapable} Without `--allow-net` for the address.
 *
 * @example Bind, read the port back, close
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol } from "@aio/net/datagram";
 *
 * const lost = Promise.withResolvers<Error | null>();
 * class Quiet extends DatagramProtocol {
 *   override connectionLost(exc: Error | null): void {
 *     lost.resolve(exc);
 *   }
 * }
 * const [transport] = await createDatagramEndpoint(() => new Quiet(), {
 *   localAddr: { hostname: "127.0.0.1", port: 0 },
 * });
 * const sockname = transport.getExtraInfo("sockname") as Deno.NetAddr;
 * assertEquals([sockname.transport, sockname.hostname], ["udp", "127.0.0.1"]);
 * transport.close();
 * assertEquals(await lost.promise, null);
 * ```
 *
 * @example A bound port is taken
 * ```ts
 * import { assertRejects } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol } from "@aio/net/datagram";
 *
 * const lost = Promise.withResolvers<void>();
 * class Quiet extends DatagramProtocol {
 *   override connectionLost(): void {
 *     lost.resolve();
 *   }
 * }
 * const [first] = await createDatagramEndpoint(() => new Quiet(), {
 *   localAddr: { hostname: "127.0.0.1", port: 0 },
 * });
 * await assertRejects(
 *   () =>
 *     createDatagramEndpoint(() => new DatagramProtocol(), {
 *       localAddr: first.getExtraInfo("sockname") as Deno.NetAddr,
 *     }),
 *   Deno.errors.AddrInUse,
 * );
 * first.close();
 * await lost.promise;
 * ```
 */
export function createDatagramEndpoint<P extends DatagramProtocol>(
  protocolFactory: () => P,
  options: DatagramEndpointOptions,
): Promise<[DatagramTransport, P]> {
  try {
    checkFunction(protocolFactory, "protocolFactory");
    return openDatagramEndpoint(
      protocolFactory,
      checkDatagramEndpointOptions(options),
    );
  } catch (err) {
    return Promise.reject(err);
  }
}
