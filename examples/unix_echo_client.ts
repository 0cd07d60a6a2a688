// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The streams echo client (002) over a Unix domain socket
 * (`open_unix_connection`).
 *
 * Run: deno run --allow-net --allow-read --allow-write --allow-env examples/unix_echo_client.ts [--path /tmp/aio_net_echo.sock] [part...]
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { openUnixConnection } from "../mod.ts";
import { exchange } from "./echo_client_streams.ts";
import {
  defaultSocketPath,
  parseExampleArgs,
  setupLogging,
} from "./_support.ts";

const MESSAGES = ["This is the message. ", "It will be sent ", "in parts."];

/** Runs one exchange with the server at `path`. */
export async function run(
  path: string,
  messages: string[] = MESSAGES,
): Promise<void> {
  getLogger(["echo_client"]).debug(`connecting to ${path}`);
  const [reader, writer] = await openUnixConnection(path);
  await exchange(reader, writer, messages);
  getLogger(["main"]).debug("closing");
}

/** The command-line entry point. */
export async function main(args: string[]): Promise<void> {
  const { path, rest } = parseExampleArgs(args, { path: defaultSocketPath() });
  await run(path, rest.length > 0 ? rest : MESSAGES);
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
