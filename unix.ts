// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Unix domain sockets: the protocol and streams APIs over a socket path,
 * on the same transport as TCP (asyncio's `create_unix_server`,
 * `create_unix_connection`, `start_unix_server`, `open_unix_connection`).
 *
 * Unix sockets need `--allow-read` and `--allow-write` (for the socket path).
 *
 * @example Streams over a Unix socket
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openUnixConnection, startUnixServer } from "@aio/net/unix";
 *
 * const path = `${await Deno.makeTempDir()}/echo.sock`;
 * await using server = await startUnixServer(async (reader, writer) => {
 *   writer.write(await reader.readline());
 *   writer.close();
 * }, path);
 * const [reader, writer] = await openUnixConnection(path);
 * writer.write(new TextEncoder().encode("over a path\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "over a path\n");
 * writer.close();
 * ```
 *
 * @module
 */
import {
  checkFunction,
  checkSocketPath,
  checkUnixConnectOptions,
  checkUnixServerOptions,
} from "./_checks.ts";
import type { BaseProtocol, Transport } from "./_contract.ts";
import type {
  StreamOptions,
  UnixConnectOptions,
  UnixServerOptions,
} from "./_options.ts";
import { connectUnix } from "./_dial.ts";
import { listenUnix, type Server } from "./_server.ts";
import {
  openStreams,
  startStreams,
  type StreamWriter,
} from "./_stream_adapter.ts";
import type { StreamReader } from "./_stream_reader.ts";

export type { UnixConnectOptions, UnixServerOptions } from "./_options.ts";

/**
 * Starts a server on a Unix socket path, running a protocol per connection:
 * asyncio's `loop.create_unix_server`.
 *
 * A stale socket file at `path` (nobody accepting) is replaced; a path where
 * a live server accepts is left alone and the call fails; a path that is not
 * a socket is never touched. The server removes its socket file on close.
 *
 * @param protocolFactory Called once per accepted connection.
 * @param path The socket path (at most 107 bytes).
 * @param options `startServing`, `signal`, `backlog`; `tls` to accept TLS
 * (the same options, checks and timeouts as a TCP server's).
 * @returns The server.
 * @throws {TypeError} If an argument has the wrong type, or TLS material is
 * not PEM text or a key does not match its certificate.
 * @throws {RangeError} If `path` is empty or too long.
 * @throws {Deno.errors.AddrInUse} If a live server accepts at `path`.
 * @throws {Deno.errors.AlreadyExists} If `path` exists and is not a socket.
 *
 * @example A protocol server on a socket file
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Protocol, type Transport } from "@aio/net/protocol";
 * import { createUnixConnection, createUnixServer } from "@aio/net/unix";
 *
 * class Hello extends Protocol {
 *   override connectionMade(transport: Transport): void {
 *     transport.write(new TextEncoder().encode("hello"));
 *     transport.close();
 *   }
 * }
 * class Reader extends Protocol {
 *   readonly text = Promise.withResolvers<string>();
 *   override dataReceived(data: Uint8Array): void {
 *     this.text.resolve(new TextDecoder().decode(data));
 *   }
 * }
 * const path = `${await Deno.makeTempDir()}/hello.sock`;
 * await using server = await createUnixServer(() => new Hello(), path);
 * const [transport, reader] = await createUnixConnection(() => new Reader(), path);
 * assertEquals(await reader.text.promise, "hello");
 * transport.close();
 * ```
 */
export async function createUnixServer(
  protocolFactory: () => BaseProtocol,
  path: string,
  options?: UnixServerOptions,
): Promise<Server> {
  checkFunction(protocolFactory, "protocolFactory");
  checkSocketPath(path);
  return await listenUnix(
    protocolFactory,
    path,
    checkUnixServerOptions(options),
  );
}

/**
 * Connects to a Unix socket path and runs a protocol on the connection:
 * asyncio's `loop.create_unix_connection`.
 *
 * @param protocolFactory Called once to make the protocol.
 * @param path The socket path.
 * @param options `signal` aborts a pending connect; `tls` speaks TLS, as
 * over TCP, with `tls.serverHostname` required (the socket has no host name
 * to check the certificate against).
 * @returns The transport and protocol, once `connectionMade` has run (after
 * the TLS handshake, with `tls`).
 * @throws {TypeError} If an argument has the wrong type, or `tls` has no
 * `serverHostname` (before connecting).
 * @throws {Deno.errors.NotFound} If nothing is at `path`.
 * @throws {Deno.errors.ConnectionRefused} If nobody accepts at `path`.
 *
 * @example Connect and close
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Protocol } from "@aio/net/protocol";
 * import { createUnixConnection, createUnixServer } from "@aio/net/unix";
 *
 * const path = `${await Deno.makeTempDir()}/quiet.sock`;
 * await using server = await createUnixServer(() => new Protocol(), path);
 * const [transport] = await createUnixConnection(() => new Protocol(), path);
 * assertEquals(transport.canWriteEof(), true);
 * transport.close();
 * server.closeClients();
 * ```
 *
 * @example TLS over a socket file
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Protocol } from "@aio/net/protocol";
 * import { createUnixConnection, createUnixServer } from "@aio/net/unix";
 *
 * const read = (name: string) => Deno.readTextFileSync(`tests/fixtures/tls/${name}`);
 * const path = `${await Deno.makeTempDir()}/tls.sock`;
 * await using server = await createUnixServer(() => new Protocol(), path, {
 *   tls: { cert: read("server.pem"), key: read("server.key") },
 * });
 * const [transport] = await createUnixConnection(() => new Protocol(), path, {
 *   tls: { serverHostname: "localhost", caCerts: [read("ca.pem")] },
 * });
 * assertEquals(transport.getExtraInfo("tlsVersion"), "TLSv1.3");
 * transport.close();
 * server.closeClients();
 * ```
 */
export async function createUnixConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  path: string,
  options?: UnixConnectOptions,
): Promise<[Transport, P]> {
  checkFunction(protocolFactory, "protocolFactory");
  checkSocketPath(path);
  const opts = checkUnixConnectOptions(options);
  return await connectUnix(protocolFactory, path, opts);
}

/**
 * Starts a streams server on a Unix socket path: asyncio's
 * `start_unix_server`. The socket file rules are those of
 * {@linkcode createUnixServer}.
 *
 * @param clientConnected Called with each client's reader and writer.
 * @param path The socket path.
 * @param options The readers' `limit`, and the server options.
 * @returns The server.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `path` or `limit` is bad.
 * @throws {Deno.errors.AddrInUse} If a live server accepts at `path`.
 *
 * @example Answer each client with one line
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openUnixConnection, startUnixServer } from "@aio/net/unix";
 *
 * const path = `${await Deno.makeTempDir()}/greet.sock`;
 * await using server = await startUnixServer((_reader, writer) => {
 *   writer.write(new TextEncoder().encode("hi\n"));
 *   writer.close();
 * }, path);
 * const [reader, writer] = await openUnixConnection(path);
 * assertEquals(new TextDecoder().decode(await reader.readline()), "hi\n");
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export async function startUnixServer(
  clientConnected: (
    reader: StreamReader,
    writer: StreamWriter,
  ) => void | Promise<void>,
  path: string,
  options?: StreamOptions & UnixServerOptions,
): Promise<Server> {
  return await startStreams(
    clientConnected,
    (factory, rest) => createUnixServer(factory, path, rest),
    options,
  );
}

/**
 * Opens a Unix socket connection and returns its reader and writer:
 * asyncio's `open_unix_connection`.
 *
 * @param path The socket path.
 * @param options The reader's `limit`, and `signal`.
 * @returns The reader and writer.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {Deno.errors.NotFound} If nothing is at `path`.
 *
 * @example Send a line, read the answer
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openUnixConnection, startUnixServer } from "@aio/net/unix";
 *
 * const path = `${await Deno.makeTempDir()}/upper.sock`;
 * await using server = await startUnixServer(async (reader, writer) => {
 *   const line = new TextDecoder().decode(await reader.readline());
 *   writer.write(new TextEncoder().encode(line.toUpperCase()));
 *   writer.close();
 * }, path);
 * const [reader, writer] = await openUnixConnection(path, { limit: 256 });
 * writer.write(new TextEncoder().encode("shout\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "SHOUT\n");
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export async function openUnixConnection(
  path: string,
  options?: StreamOptions & UnixConnectOptions,
): Promise<[StreamReader, StreamWriter]> {
  return await openStreams(
    (factory, rest) => createUnixConnection(factory, path, rest),
    options,
  );
}
