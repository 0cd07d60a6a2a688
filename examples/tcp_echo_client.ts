// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The TCP echo client of the asyncio streams documentation (001).
 *
 * Run: deno run --allow-net examples/tcp_echo_client.ts [--port 8888] [message]
 *
 * @module
 */
import { openConnection } from "../mod.ts";
import { parseExampleArgs } from "./_support.ts";

/** Sends `message`, prints the reply, closes. */
export async function tcpEchoClient(
  message: string,
  host = "127.0.0.1",
  port = 8888,
): Promise<void> {
  const [reader, writer] = await openConnection(host, port);
  console.log(`Send: ${JSON.stringify(message)}`);
  writer.write(new TextEncoder().encode(message));
  await writer.drain();
  const data = await reader.read(100);
  console.log(`Received: ${JSON.stringify(new TextDecoder().decode(data))}`);
  console.log("Close the connection");
  writer.close();
  await writer.waitClosed();
}

/** The command-line entry point. */
export async function main(args: string[]): Promise<void> {
  const { host, port, rest } = parseExampleArgs(args, {
    host: "127.0.0.1",
    port: 8888,
  });
  await tcpEchoClient(
    rest.length > 0 ? rest.join(" ") : "Hello World!",
    host,
    port,
  );
}

if (import.meta.main) await main(Deno.args);
