// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Streams: asyncio's high-level `open_connection`/`start_server` API, with a
 * `StreamReader` and a `StreamWriter` per connection, built on the same
 * transport as the protocol API.
 *
 * @example Echo server and client with streams
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * await using server = await startServer(async (reader, writer) => {
 *   const line = await reader.readline();
 *   writer.write(line);
 *   await writer.drain();
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 *
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write(new TextEncoder().encode("hello\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "hello\n");
 * writer.close();
 * await writer.waitClosed();
 * ```
 *
 * @module
 */
import type {
  ConnectOptions,
  ServerOptions,
  StreamOptions,
} from "./_contract.ts";
import type { Server } from "./_server.ts";
import {
  openStreams,
  startStreams,
  type StreamWriter,
} from "./_stream_adapter.ts";
import type { StreamReader } from "./_stream_reader.ts";
import { createConnection, createServer } from "./protocol.ts";

export type {
  ReadOptions,
  StreamOptions,
  StreamReaderOptions,
  WaitOptions,
} from "./_contract.ts";
export { StreamWriter } from "./_stream_adapter.ts";
export {
  IncompleteReadError,
  LimitOverrunError,
  type Separator,
  StreamReader,
} from "./_stream_reader.ts";

/**
 * Opens a TCP connection and returns its reader and writer: asyncio's
 * `open_connection`.
 *
 * @param host A host name or IP address.
 * @param port The port, 0 to 65535.
 * @param options The reader's `limit`, and the connect options (`signal`,
 * `noDelay`, `tls`).
 * @returns The reader and writer of the new connection.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` or `limit` is out of range.
 * @throws {Deno.errors.ConnectionRefused} If nobody listens there.
 *
 * @example Read a greeting
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * await using server = await startServer((_reader, writer) => {
 *   writer.write(new TextEncoder().encode("welcome\n"));
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [reader, writer] = await openConnection("127.0.0.1", port, { limit: 1024 });
 * assertEquals(new TextDecoder().decode(await reader.readline()), "welcome\n");
 * assertEquals((await reader.read()).length, 0);
 * assertEquals(reader.atEof(), true);
 * writer.close();
 * ```
 */
export async function openConnection(
  host: string,
  port: number,
  options?: StreamOptions & ConnectOptions,
): Promise<[StreamReader, StreamWriter]> {
  return await openStreams(
    (factory) => createConnection(factory, host, port, options),
    options,
  );
}

/**
 * Starts a TCP server that calls `clientConnected(reader, writer)` for each
 * client: asyncio's `start_server`. The callback may be async; an exception
 * or rejection from it is logged and closes that client's connection only.
 *
 * @param clientConnected Called once per client.
 * @param host Where to listen, as for `createServer`.
 * @param port The port; 0 picks a free one.
 * @param options The readers' `limit`, and the server options.
 * @returns The server.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` or `limit` is out of range.
 *
 * @example An uppercasing line server
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * await using server = await startServer(async (reader, writer) => {
 *   for await (const line of reader) {
 *     writer.write(new TextEncoder().encode(new TextDecoder().decode(line).toUpperCase()));
 *     await writer.drain();
 *   }
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write(new TextEncoder().encode("a\nb\n"));
 * writer.writeEof();
 * assertEquals(new TextDecoder().decode(await reader.read()), "A\nB\n");
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export async function startServer(
  clientConnected: (
    reader: StreamReader,
    writer: StreamWriter,
  ) => void | Promise<void>,
  host?: string | string[],
  port?: number,
  options?: StreamOptions & ServerOptions,
): Promise<Server> {
  return await startStreams(
    clientConnected,
    (factory) => createServer(factory, host, port, options),
    options,
  );
}
