// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The `Protocol` echo client of the asyncio documents (000, 003): it sends
 * the message in three parts, half-closes, logs what comes back, and
 * completes a promise (asyncio's future) when the server is done.
 *
 * Run: deno run --allow-net examples/echo_client_protocol.ts [--host localhost] [--port 10000] [part...]
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { createConnection, Protocol, type Transport } from "../mod.ts";
import { parseExampleArgs, setupLogging, show } from "./_support.ts";

const log = getLogger(["main"]);
const MESSAGES = ["This is the message. ", "It will be sent ", "in parts."];

/** Sends the messages, then waits for the echo and the server's EOF. */
export class EchoClient extends Protocol {
  readonly #messages: Uint8Array[];
  readonly #done: PromiseWithResolvers<void>;
  #transport?: Transport;
  #log = getLogger(["echo_client"]);

  constructor(messages: Uint8Array[], done: PromiseWithResolvers<void>) {
    super();
    this.#messages = messages;
    this.#done = done;
  }

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    const peer = transport.getExtraInfo("peername") as Deno.NetAddr;
    this.#log.debug(`connecting to ${peer.hostname} port ${peer.port}`);
    for (const msg of this.#messages) {
      transport.write(msg);
      this.#log.debug(`sending ${show(msg)}`);
    }
    if (transport.canWriteEof()) transport.writeEof();
  }

  override dataReceived(data: Uint8Array): void {
    this.#log.debug(`received ${show(data)}`);
  }

  override eofReceived(): void {
    this.#log.debug("received EOF");
    this.#transport!.close();
    this.#done.resolve();
  }

  override connectionLost(exc: Error | null): void {
    this.#log.debug("server closed connection");
    if (exc) this.#done.reject(exc);
    else this.#done.resolve();
  }
}

/** Runs one exchange with the server at `host:port`. */
export async function run(
  host: string,
  port: number,
  messages: string[] = MESSAGES,
): Promise<void> {
  const done = Promise.withResolvers<void>();
  const parts = messages.map((m) => new TextEncoder().encode(m));
  log.debug("waiting for client to complete");
  await createConnection(() => new EchoClient(parts, done), host, port);
  await done.promise;
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
