// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The demo behind `deno task demo`: the protocol echo server with its client
 * run three times, then the streams pair, then the Unix pair, all in one
 * process on free ports, printing the transcript the documents show.
 *
 * @module
 */
import * as protocolClient from "./echo_client_protocol.ts";
import * as protocolServer from "./echo_server_protocol.ts";
import * as streamsClient from "./echo_client_streams.ts";
import * as streamsServer from "./echo_server_streams.ts";
import * as unixClient from "./unix_echo_client.ts";
import * as unixServer from "./unix_echo_server.ts";
import { setupLogging } from "./_support.ts";

/** Waits for the server to close and logging to flush, with a heading between parts. */
function heading(text: string): void {
  console.error(`\n=== ${text} ===`);
}

/** Runs the three pairs. */
export async function demo(): Promise<void> {
  await setupLogging();

  heading(
    "Protocol echo server and client (documents 000 and 003), client run three times",
  );
  {
    await using server = await protocolServer.serve("127.0.0.1", 0);
    const port = (server.sockets[0]!.addr as Deno.NetAddr).port;
    for (let i = 0; i < 3; i++) await protocolClient.run("127.0.0.1", port);
  }

  heading("Streams echo server and client (document 002)");
  {
    await using server = await streamsServer.serve("127.0.0.1", 0);
    const port = (server.sockets[0]!.addr as Deno.NetAddr).port;
    await streamsClient.run("127.0.0.1", port);
  }

  heading("The same over a Unix socket");
  const dir = await Deno.makeTempDir({ prefix: "aio-net-demo-" });
  try {
    const path = `${dir}/echo.sock`;
    await using _server = await unixServer.serve(path);
    await unixClient.run(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  heading("done");
}

if (import.meta.main) await demo();
