// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The TCP echo server of the asyncio streams documentation (001):
 * 127.0.0.1:8888, one `read(100)` per client.
 *
 * Run: deno run --allow-net examples/tcp_echo_server.ts [--port 8888]
 *
 * @module
 */
import {
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import { parseExampleArgs, stopSignal } from "./_support.ts";

/** Reads one message, echoes it, closes. */
export async function handleEcho(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  const data = await reader.read(100);
  const message = new TextDecoder().decode(data);
  const addr = writer.getExtraInfo("peername") as Deno.NetAddr;
  console.log(
    `Received ${JSON.stringify(message)} from ${addr.hostname}:${addr.port}`,
  );
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(data);
  await writer.drain();
  console.log("Close the connection");
  writer.close();
  await writer.waitClosed();
}

/** Starts the server and prints where it listens. */
export async function serve(
  host: string,
  port: number,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startServer(
    handleEcho,
    host,
    port,
    signal ? { signal } : {},
  );
  const addr = server.sockets[0]!.addr as Deno.NetAddr;
  console.log(`Serving on ${addr.hostname}:${addr.port}`);
  return server;
}

/** Serves until SIGINT/SIGTERM (or `signal`), as `async with server: await server.serve_forever()`. */
export async function main(
  args: string[],
  signal: AbortSignal = stopSignal(),
): Promise<void> {
  const { host, port } = parseExampleArgs(args, {
    host: "127.0.0.1",
    port: 8888,
  });
  await using server = await serve(host, port, signal);
  await server.serveForever();
}

if (import.meta.main) await main(Deno.args);
