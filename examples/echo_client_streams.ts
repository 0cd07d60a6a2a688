// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The coroutine echo client of the asyncio document 002, on streams: send
 * the parts, `drain()`, half-close, then `read(128)` until EOF.
 *
 * Run: deno run --allow-net examples/echo_client_streams.ts [--host localhost] [--port 10000] [part...]
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  openConnection,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import { parseExampleArgs, setupLogging, show } from "./_support.ts";

const log = getLogger(["main"]);
const MESSAGES = ["This is the message. ", "It will be sent ", "in parts."];

/** Sends `messages`, half-closes, and logs the echo until EOF. */
export async function exchange(
  reader: StreamReader,
  writer: StreamWriter,
  messages: string[],
): Promise<void> {
  const clog = getLogger(["echo_client"]);
  for (const msg of messages) {
    const data = new TextEncoder().encode(msg);
    writer.write(data);
    clog.debug(`sending ${show(data)}`);
  }
  if (writer.canWriteEof()) writer.writeEof();
  await writer.drain();
  clog.debug("waiting for response");
  while (true) {
    const data = await reader.read(128);
    if (data.length > 0) {
      clog.debug(`received ${show(data)}`);
    } else {
      clog.debug("closing");
      writer.close();
      await writer.waitClosed();
      return;
    }
  }
}

/** Runs one exchange with the server at `host:port`. */
export async function run(
  host: string,
  port: number,
  messages: string[] = MESSAGES,
): Promise<void> {
  getLogger(["echo_client"]).debug(`connecting to ${host} port ${port}`);
  const [reader, writer] = await openConnection(host, port);
  await exchange(reader, writer, messages);
  log.debug("closing");
}

/** The command-line entry point. */
export async function main(args: string[]): Promise<void> {
  const { host, port, rest } = parseExampleArgs(args, {
    host: "localhost",
    port: 10000,
  });
  await run(host, port, rest.length > 0 ? rest : MESSAGES);
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
