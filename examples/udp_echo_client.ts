// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The UDP echo client of the asyncio documentation ("UDP Echo Client",
 * under Transports and Protocols): it sends "Hello World!" (or the words
 * given) to 127.0.0.1:9999, prints the reply, and closes.
 *
 * One addition: where no server answers, asyncio's client is told
 * (`error_received(ConnectionRefusedError)`) and then waits forever; Deno
 * does not report the ICMP "port unreachable" at all, so this one gives up
 * after `--timeout` milliseconds (5000 by default) and exits with status 1.
 *
 * Run: deno run --allow-net examples/udp_echo_client.ts [--host 127.0.0.1] [--port 9999] [--timeout 5000] [message]
 *
 * @module
 */
import {
  createDatagramEndpoint,
  DatagramProtocol,
  type DatagramTransport,
} from "../mod.ts";
import { parseOptions } from "./_support.ts";

/** Sends the message once connected, prints the reply, closes. */
export class EchoClientProtocol extends DatagramProtocol {
  readonly #message: string;
  readonly #onConLost: PromiseWithResolvers<void>;
  #transport?: DatagramTransport;

  constructor(message: string, onConLost: PromiseWithResolvers<void>) {
    super();
    this.#message = message;
    this.#onConLost = onConLost;
  }

  override connectionMade(transport: DatagramTransport): void {
    this.#transport = transport;
    console.log("Send:", this.#message);
    transport.sendto(new TextEncoder().encode(this.#message));
  }

  override datagramReceived(data: Uint8Array): void {
    console.log("Received:", new TextDecoder().decode(data));
    console.log("Close the socket");
    this.#transport!.close();
  }

  override errorReceived(exc: Error): void {
    console.log("Error received:", exc.message);
  }

  override connectionLost(): void {
    console.log("Connection closed");
    this.#onConLost.resolve();
  }
}

/**
 * Sends `message` to `host:port` and waits for the reply (or `timeoutMs`).
 *
 * @returns Whether a reply came.
 */
export async function udpEchoClient(
  message: string,
  host = "127.0.0.1",
  port = 9999,
  timeoutMs = 5000,
): Promise<boolean> {
  const onConLost = Promise.withResolvers<void>();
  const [transport] = await createDatagramEndpoint(
    () => new EchoClientProtocol(message, onConLost),
    { remoteAddr: { hostname: host, port } },
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), timeoutMs);
  });
  try {
    const late = await Promise.race([onConLost.promise, timedOut]);
    if (late) {
      console.log(`No reply within ${timeoutMs} ms: is the server running?`);
    }
    return !late;
  } finally {
    clearTimeout(timer);
    transport.close();
    await onConLost.promise;
  }
}

/** The command-line entry point: `--host`, `--port`, `--timeout`, then the message. */
export async function main(args: string[]): Promise<boolean> {
  const { opts, rest } = parseOptions(args);
  return await udpEchoClient(
    rest.length > 0 ? rest.join(" ") : "Hello World!",
    opts.get("host") ?? "127.0.0.1",
    Number(opts.get("port") ?? 9999),
    Number(opts.get("timeout") ?? 5000),
  );
}

if (import.meta.main && !await main(Deno.args)) Deno.exit(1);
