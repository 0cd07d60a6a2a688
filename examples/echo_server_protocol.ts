// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The `Protocol` echo server of the asyncio documents (000, 003): it logs
 * each callback and echoes what it receives, then half-closes on EOF.
 *
 * Run: deno run --allow-net examples/echo_server_protocol.ts [--host localhost] [--port 10000]
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { createServer, Protocol, type Server, type Transport } from "../mod.ts";
import {
  parseExampleArgs,
  setupLogging,
  show,
  stopSignal,
} from "./_support.ts";

const log = getLogger(["main"]);

/** Echoes every byte back, logging as the documents do. */
export class EchoServer extends Protocol {
  #transport?: Transport;
  #log?: Logger;

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    const peer = transport.getExtraInfo("peername") as Deno.NetAddr;
    this.#log = getLogger([`EchoServer_${peer.hostname}_${peer.port}`]);
    this.#log.debug("connection accepted");
  }

  override dataReceived(data: Uint8Array): void {
    this.#log!.debug(`received ${show(data)}`);
    this.#transport!.write(data);
    this.#log!.debug(`sent ${show(data)}`);
  }

  override eofReceived(): void {
    this.#log!.debug("received EOF");
    if (this.#transport!.canWriteEof()) this.#transport!.writeEof();
  }

  override connectionLost(exc: Error | null): void {
    if (exc) this.#log!.error(`ERROR: ${exc}`);
    else this.#log!.debug("closing");
  }
}

/** Starts the server and logs where it listens (the real port when `port` is 0). */
export async function serve(
  host: string,
  port: number,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await createServer(
    () => new EchoServer(),
    host,
    port,
    signal ? { signal } : {},
  );
  const bound = (server.sockets[0]!.addr as Deno.NetAddr).port;
  log.debug(`starting up on ${host} port ${bound}`);
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
