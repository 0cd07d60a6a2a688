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
import { checkConn } from "./_checks.ts";
import type {
  AcceptedSocketOptions,
  ConnectOptions,
  ServerOptions,
  SocketConnectOptions,
  StreamOptions,
} from "./_options.ts";
import type { Server } from "./_server.ts";
import {
  openStreams,
  startStreams,
  type StreamWriter,
} from "./_stream_adapter.ts";
import type { StreamReader } from "./_stream_reader.ts";
import {
  connectAcceptedSocket,
  createConnection,
  createServer,
} from "./protocol.ts";

export type {
  ReadOptions,
  StreamOptions,
  StreamReaderOptions,
  WaitOptions,
} from "./_options.ts";
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
export function openConnection(
  host: string,
  port: number,
  options?: StreamOptions & ConnectOptions,
): Promise<[StreamReader, StreamWriter]>;
/**
 * Returns the reader and writer of a connection made elsewhere (a
 * `Deno.TcpConn`, `Deno.UnixConn` or `Deno.TlsConn`), the client's side:
 * asyncio's `open_connection(sock=…)`. `options.tls` starts TLS over a plain
 * one.
 *
 * @param options `conn`, the reader's `limit`, and the socket and TLS
 * options.
 * @returns The reader and writer.
 * @throws {TypeError} If `options.conn` is not a `Deno.Conn`, or another
 * argument has the wrong type.
 *
 * @example Wrap a connection from Deno.connect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * await using server = await startServer(async (reader, writer) => {
 *   writer.write(await reader.readline());
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * const [reader, writer] = await openConnection({ conn, limit: 1024 });
 * writer.write(new TextEncoder().encode("ping\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "ping\n");
 * writer.close();
 * ```
 */
export function openConnection(
  options: StreamOptions & SocketConnectOptions,
): Promise<[StreamReader, StreamWriter]>;
export async function openConnection(
  hostOrOptions: string | (StreamOptions & SocketConnectOptions),
  port?: number,
  options?: StreamOptions & ConnectOptions,
): Promise<[StreamReader, StreamWriter]> {
  if (typeof hostOrOptions === "object" && hostOrOptions !== null) {
    return await openStreams(
      (factory, rest) =>
        createConnection(factory, rest as SocketConnectOptions),
      hostOrOptions,
      false,
      hostOrOptions.conn,
    );
  }
  return await openStreams(
    (factory, rest) => createConnection(factory, hostOrOptions, port!, rest),
    options,
  );
}

/**
 * Returns the reader and writer of a connection accepted elsewhere (from a
 * `Deno.listen` loop of your own, say), the server's side: the streams twin
 * of `connectAcceptedSocket`. `writer.startTls` takes the server's side by
 * default, and `options.tls` runs the server's side of TLS over a plain
 * connection.
 *
 * @param conn A `Deno.TcpConn`, `Deno.UnixConn` or `Deno.TlsConn`.
 * @param options The reader's `limit`, and the socket and TLS options.
 * @returns The reader and writer.
 * @throws {TypeError} If `conn` is not a `Deno.Conn`, or another argument
 * has the wrong type.
 *
 * @example Serve your own accept loop with streams
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openAcceptedConnection } from "@aio/net/streams";
 *
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * const client = await Deno.connect({ hostname: "127.0.0.1", port });
 * const [reader, writer] = await openAcceptedConnection(await listener.accept());
 * await client.write(new TextEncoder().encode("hi\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "hi\n");
 * writer.close();
 * client.close();
 * ```
 */
export async function openAcceptedConnection(
  conn: Deno.Conn,
  options?: StreamOptions & AcceptedSocketOptions,
): Promise<[StreamReader, StreamWriter]> {
  checkConn(conn, "conn");
  return await openStreams(
    (factory, rest) => connectAcceptedSocket(factory, conn, rest),
    options,
    true,
    conn,
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
    (factory, rest) => createServer(factory, host, port, rest),
    options,
  );
}
