// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The coroutine echo server of the asyncio document 002, on streams:
 * `reader.read(128)`, `writer.write()`, `await writer.drain()`.
 *
 * Run: deno run --allow-net examples/echo_server_streams.ts [--host localhost] [--port 10000]
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import {
  parseExampleArgs,
  setupLogging,
  show,
  stopSignal,
} from "./_support.ts";

const log = getLogger(["main"]);

/** Echoes one client in pieces of up to 128 bytes. */
export async function echo(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  const peer = writer.getExtraInfo("peername") as Deno.Addr;
  const name = peer.transport === "tcp"
    ? `echo_${peer.hostname}_${peer.port}`
    : "echo_unix";
  const clog = getLogger([name]);
  clog.debug("connection accepted");
  while (true) {
    const data = await reader.read(128);
    if (data.length > 0) {
      clog.debug(`received ${show(data)}`);
      writer.write(data);
      await writer.drain();
      clog.debug(`sent ${show(data)}`);
    } else {
      clog.debug("closing");
      writer.close();
      return;
    }
  }
}

/** Starts the server and logs where it listens. */
export async function serve(
  host: string,
  port: number,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startServer(echo, host, port, signal ? { signal } : {});
  log.debug(
    `starting up on ${host} port ${
      (server.sockets[0]!.addr as Deno.NetAddr).port
    }`,
  );
  return server;
}

/** Serves until SIGINT/SIGTERM (or `signal`). */
export async function main(
  args: string[],
  signal: AbortSignal = stopSignal(),
): Promise<void> {
  const { host, port } = parseExampleArgs(args, {
    host: "localhost",
    port: 10000,
  });
  const server = await serve(host, port, signal);
  await server.serveForever();
  log.debug("closing server");
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
