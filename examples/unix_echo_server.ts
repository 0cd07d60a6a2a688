// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The streams echo server (002) over a Unix domain socket
 * (`start_unix_server`).
 *
 * Run: deno run --allow-net --allow-read --allow-write --allow-env examples/unix_echo_server.ts [--path /tmp/aio_net_echo.sock]
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { type Server, startUnixServer } from "../mod.ts";
import { echo } from "./echo_server_streams.ts";
import {
  defaultSocketPath,
  parseExampleArgs,
  setupLogging,
  stopSignal,
} from "./_support.ts";

const log = getLogger(["main"]);

/** Starts the server on `path` and logs it. */
export async function serve(
  path: string,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startUnixServer(echo, path, signal ? { signal } : {});
  log.debug(`starting up on ${path}`);
  return server;
}

/** Serves until SIGINT/SIGTERM (or `signal`); the socket file is removed on close. */
export async function main(
  args: string[],
  signal: AbortSignal = stopSignal(),
): Promise<void> {
  const { path } = parseExampleArgs(args, { path: defaultSocketPath() });
  const server = await serve(path, signal);
  await server.serveForever();
  log.debug("closing server");
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
