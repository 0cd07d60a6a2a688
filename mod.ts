// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Python asyncio's networking layer for Deno: transports and protocols,
 * streams, Unix sockets and TLS over one transport on `Deno.Conn`, and UDP
 * datagram endpoints.
 *
 * @example Echo over the protocol API
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol, type Transport } from "@aio/net";
 *
 * class Echo extends Protocol {
 *   #transport?: Transport;
 *   override connectionMade(transport: Transport): void {
 *     this.#transport = transport;
 *   }
 *   override dataReceived(data: Uint8Array): void {
 *     this.#transport!.write(data);
 *   }
 * }
 * class Client extends Protocol {
 *   readonly reply = Promise.withResolvers<string>();
 *   override dataReceived(data: Uint8Array): void {
 *     this.reply.resolve(new TextDecoder().decode(data));
 *   }
 * }
 *
 * await using server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * transport.write(new TextEncoder().encode("ping"));
 * assertEquals(await client.reply.promise, "ping");
 * transport.close();
 * ```
 *
 * @module
 */
export * from "./protocol.ts";
export * from "./streams.ts";
export * from "./unix.ts";
export * from "./datagram.ts";
