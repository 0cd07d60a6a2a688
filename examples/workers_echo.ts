// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The worker of `examples/workers.ts`: one echo server on the address the
 * main thread gives it, listening with `reusePort`, so that every worker
 * has its own listener on the same port and the kernel spreads the
 * connections among them.
 *
 * Not run directly: `examples/workers.ts` starts it with
 * `new Worker(new URL("./workers_echo.ts", import.meta.url), { type: "module" })`
 * and talks to it with the messages below.
 *
 * @module
 */
import { createServer, Protocol, type Server, type Transport } from "../mod.ts";

/** What the main thread sends a worker. */
export type ToWorker =
  | {
    type: "start";
    /** The worker's number, 0 to N-1. */
    id: number;
    host: string;
    /** 0 for the first worker (the system picks), then the port it got. */
    port: number;
    /** Greet each connection with `worker ID\n` before echoing. */
    tag: boolean;
  }
  | { type: "stop" };

/** What a worker answers. */
export type FromWorker =
  | { type: "listening"; port: number }
  | { type: "failed"; name: string; message: string }
  | { type: "stopped"; connections: number };

/** The part of the worker's global scope this module uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
  close(): void;
}

const scope = self as unknown as WorkerScope;
let server: Server | null = null;
/** Connections this worker accepted. */
let connections = 0;

/** Echoes what it receives, after a greeting naming the worker if asked. */
class Echo extends Protocol {
  readonly #greeting: Uint8Array | null;
  #transport: Transport | null = null;

  constructor(greeting: Uint8Array | null) {
    super();
    this.#greeting = greeting;
  }

  override connectionMade(transport: Transport): void {
    connections++;
    this.#transport = transport;
    if (this.#greeting) transport.write(this.#greeting);
  }

  override dataReceived(data: Uint8Array): void {
    this.#transport!.write(data);
  }
}

/** Listens on the given address with `reusePort`; says on which port, or why not. */
async function start(message: Extract<ToWorker, { type: "start" }>) {
  const greeting = message.tag
    ? new TextEncoder().encode(`worker ${message.id}\n`)
    : null;
  try {
    server = await createServer(
      () => new Echo(greeting),
      message.host,
      message.port,
      { reusePort: true },
    );
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    scope.postMessage({
      type: "failed",
      name: error.name,
      message: error.message,
    });
    scope.close();
    return;
  }
  const { port } = server.sockets[0]!.addr as Deno.NetAddr;
  scope.postMessage({ type: "listening", port });
}

/** Stops listening, closes the connections (flushing each), and says how many it served. */
async function stop() {
  if (server) {
    server.close();
    server.closeClients();
    await server.waitClosed();
  }
  scope.postMessage({ type: "stopped", connections });
  scope.close();
}

scope.onmessage = ({ data }) => {
  void (data.type === "start" ? start(data) : stop());
};
