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
import { openTransport } from "./_connect.ts";
import type { StreamReader } from "./_reader.ts";
import { serve } from "./_server.ts";
import {
  streamClientFactory,
  type StreamOptions,
  streamPair,
  streamServerFactory,
  type StreamWriter,
} from "./_streams.ts";
import {
  checkFunction,
  checkOptions,
  checkServerOptions,
  checkSignal,
  checkString,
} from "./_validate.ts";
import type { BaseProtocol, Server, Transport } from "./protocol.ts";

/** The longest Unix socket path Linux takes, in bytes (`sun_path` less its NUL). */
const MAX_PATH_BYTES = 107;

/** Options of {@linkcode createUnixServer}. */
export interface UnixServerOptions {
  /**
   * The listen queue length. Deno does not expose it for Unix sockets, so it
   * is checked but not applied (the system default is used).
   *
   * @default {undefined}
   */
  backlog?: number;
  /**
   * Start accepting at once. With `false`, call `startServing()` or
   * `serveForever()` later.
   *
   * @default {true}
   */
  startServing?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of {@linkcode createUnixConnection}. */
export interface UnixConnectOptions {
  /**
   * Aborts a pending connect: the promise rejects with `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Throws unless `path` is a string short enough for a Unix socket. */
function checkPath(path: unknown): asserts path is string {
  checkString(path, "path");
  if (path.length === 0) throw new RangeError("path must not be empty");
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_PATH_BYTES) {
    throw new RangeError(
      `path is ${bytes} bytes long, over the ${MAX_PATH_BYTES}-byte limit of Unix socket paths: ${path}`,
    );
  }
}

/** Whether something accepts connections at the socket file `path`. */
async function isLive(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch (err) {
    if (
      err instanceof Deno.errors.ConnectionRefused ||
      err instanceof Deno.errors.NotFound
    ) return false;
    throw err;
  }
}

/**
 * Makes `path` free to bind: removes a stale socket file, refuses a live one
 * or anything that is not a socket.
 */
async function clearPath(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `Cannot listen on ${path}: the path exists and is not a socket`,
    );
  }
  if (await isLive(path)) {
    throw new Deno.errors.AddrInUse(
      `Cannot listen on ${path}: a server is accepting connections there`,
    );
  }
  await Deno.remove(path);
}

/** Binds `path` and serves it; the socket file goes when the server closes. */
async function listenUnix(
  protocolFactory: () => BaseProtocol,
  path: string,
  opts: UnixServerOptions,
): Promise<Server> {
  opts.signal?.throwIfAborted();
  await clearPath(path);
  const listener = Deno.listen({ transport: "unix", path });
  let ino: number | null;
  try {
    ino = Deno.lstatSync(path).ino;
  } catch (err) {
    listener.close();
    throw err;
  }
  // Remove the file only if it is still the one this server bound (Deno
  // usually has removed it already when the listener closed).
  const cleanup = () => {
    try {
      if (Deno.lstatSync(path).ino === ino) Deno.removeSync(path);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  };
  return serve([listener], protocolFactory, opts, cleanup);
}

/** Checks the server options of the Unix functions. */
function checkUnixServerOptions<T extends UnixServerOptions>(
  options: T | undefined,
): T {
  const opts = checkServerOptions(options);
  if ("tls" in opts && opts.tls !== undefined) {
    throw new TypeError("options.tls is not supported on Unix sockets");
  }
  return opts;
}

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
 * @param options `startServing`, `signal`, `backlog`.
 * @returns The server.
 * @throws {TypeError} If an argument has the wrong type.
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
  checkPath(path);
  const opts = checkUnixServerOptions(options);
  return await listenUnix(protocolFactory, path, opts);
}

/**
 * Connects to a Unix socket path and runs a protocol on the connection:
 * asyncio's `loop.create_unix_connection`.
 *
 * @param protocolFactory Called once to make the protocol.
 * @param path The socket path.
 * @param options `signal` aborts a pending connect.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If an argument has the wrong type.
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
 */
export async function createUnixConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  path: string,
  options?: UnixConnectOptions,
): Promise<[Transport, P]> {
  checkFunction(protocolFactory, "protocolFactory");
  checkPath(path);
  const opts = checkOptions(options);
  checkSignal(opts.signal);
  return await openTransport(
    protocolFactory,
    async () => ({ conn: await Deno.connect({ transport: "unix", path }) }),
    opts.signal,
  );
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
  const opts = checkUnixServerOptions(options);
  const factory = streamServerFactory(clientConnected, opts);
  checkPath(path);
  return await listenUnix(factory, path, opts);
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
  const opts = checkOptions(options);
  return streamPair(
    await createUnixConnection(streamClientFactory(opts), path, opts),
  );
}
