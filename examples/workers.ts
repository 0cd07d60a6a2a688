// Copyright 2026 the @aio/net authors. MIT license.
/**
 * One port served from every core: N Web Workers, each running its own echo
 * server (`createServer(..., { reusePort: true })`) on the same host and
 * port. On Linux, `SO_REUSEPORT` gives each worker its own listening socket
 * and the kernel spreads incoming connections across them. A Deno process
 * runs its JavaScript on one thread; each worker is another thread with its
 * own event loop. See docs/every-core.md.
 *
 * The first worker binds the port (the system picks one for `--port 0`),
 * the others join it; the main thread prints where it serves once every
 * worker listens, and on SIGINT/SIGTERM stops them all and prints how many
 * connections each one served. With `--tag`, each connection starts with
 * `worker ID\n` from the worker that accepted it.
 *
 * Run (from the repository's root):
 *
 *     deno run --allow-net --allow-read=. --unstable-net examples/workers.ts
 *       [--workers N] [--host 127.0.0.1] [--port 8888] [--tag]
 *
 * `--workers` defaults to the number of cores. Without `--unstable-net`,
 * Deno does not allow `reusePort`; without read access to the modules, a
 * worker cannot load them: either way the example says so and exits with
 * code 1.
 *
 * @module
 */
import { parseExampleArgs, stopSignal } from "./_support.ts";
import type { FromWorker, ToWorker } from "./workers_echo.ts";

/** The command line that runs this example from the repository's root. */
const RUN =
  "deno run --allow-net --allow-read=. --unstable-net examples/workers.ts";

/** How long a worker may take to start listening, or to stop. */
const WORKER_TIMEOUT_MS = 10_000;

/** Options of {@linkcode startWorkers}. */
export interface WorkersOptions {
  /** How many workers. */
  workers: number;
  host: string;
  /** The port; 0 lets the system pick one. */
  port: number;
  /** Greet each connection with `worker ID\n`. */
  tag?: boolean;
}

/** A worker and the messages it sent that nobody has taken yet. */
class EchoWorker {
  readonly id: number;
  readonly #worker: Worker;
  readonly #inbox: FromWorker[] = [];
  #waiting: PromiseWithResolvers<FromWorker> | null = null;
  #error: Error | null = null;
  readonly #failed = Promise.withResolvers<Error>();

  constructor(id: number) {
    this.id = id;
    this.#worker = new Worker(new URL("./workers_echo.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (this.#waiting) this.#waiting.resolve(event.data);
      else this.#inbox.push(event.data);
      this.#waiting = null;
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault(); // the main thread reports it, and lives on
      this.#fail(new Error(`Worker ${id} failed: ${event.message}`));
    };
  }

  /** Resolves with the error, if the worker ever dies of one. */
  get failed(): Promise<Error> {
    return this.#failed.promise;
  }

  send(message: ToWorker): void {
    this.#worker.postMessage(message);
  }

  /** The worker's next message; rejects if it fails or says nothing in time. */
  async next(what: string): Promise<FromWorker> {
    const queued = this.#inbox.shift();
    if (queued) return queued;
    if (this.#error) throw this.#error;
    this.#waiting = Promise.withResolvers<FromWorker>();
    const timer = setTimeout(
      () =>
        this.#fail(
          new Error(
            `Worker ${this.id} did not ${what} in ${WORKER_TIMEOUT_MS} ms`,
          ),
        ),
      WORKER_TIMEOUT_MS,
    );
    try {
      return await this.#waiting.promise;
    } finally {
      clearTimeout(timer);
    }
  }

  terminate(): void {
    this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#waiting?.reject(error);
    this.#waiting = null;
    this.#failed.resolve(error);
  }
}

/** N workers serving one port; `stop()` ends them all. */
export class EchoWorkers implements AsyncDisposable {
  /** The port every worker listens on. */
  readonly port: number;
  readonly #workers: EchoWorker[];
  #stopped: Promise<number[]> | null = null;

  constructor(port: number, workers: EchoWorker[]) {
    this.port = port;
    this.#workers = workers;
  }

  /** Resolves with the first error a worker dies of. */
  get failed(): Promise<Error> {
    return Promise.race(this.#workers.map((w) => w.failed));
  }

  /**
   * Stops every worker: each closes its listener and its connections, then
   * ends. Idempotent.
   *
   * @returns How many connections each worker served, by worker number.
   */
  stop(): Promise<number[]> {
    return this.#stopped ??= stopAll(this.#workers);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Stops the workers together; terminates each once it answered (or failed to). */
async function stopAll(workers: EchoWorker[]): Promise<number[]> {
  for (const worker of workers) worker.send({ type: "stop" });
  const results = await Promise.allSettled(
    workers.map((worker) => worker.next("stop")),
  );
  workers.forEach((worker) => worker.terminate());
  return results.map((result, id) => {
    if (result.status === "rejected") throw result.reason;
    if (result.value.type !== "stopped") {
      throw new Error(`Worker ${id} answered ${result.value.type} to stop`);
    }
    return result.value.connections;
  });
}

/** Starts worker `id` on `host:port`; resolves with the port it listens on. */
async function listen(
  worker: EchoWorker,
  options: WorkersOptions,
  port: number,
): Promise<number> {
  worker.send({
    type: "start",
    id: worker.id,
    host: options.host,
    port,
    tag: options.tag ?? false,
  });
  const answer = await worker.next("start listening");
  if (answer.type === "failed") {
    const error = new Error(answer.message);
    error.name = answer.name;
    throw error;
  }
  if (answer.type !== "listening") {
    throw new Error(`Worker ${worker.id} answered ${answer.type} to start`);
  }
  return answer.port;
}

/**
 * Starts `options.workers` workers listening on one port: the first binds
 * it (picks it, for port 0), the others join it.
 *
 * @throws {Deno.errors.NotSupported} Without `--unstable-net` (the error
 * comes from the first worker's `createServer`).
 * @throws {Error} If a worker cannot listen (the others are stopped).
 */
export async function startWorkers(
  options: WorkersOptions,
): Promise<EchoWorkers> {
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new RangeError(
      `workers must be a positive integer, got ${options.workers}`,
    );
  }
  // A worker loads its modules itself, and Deno asks read access for that.
  const root = new URL("../", import.meta.url);
  if (
    root.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: root }).state !==
      "granted"
  ) {
    throw new Deno.errors.NotCapable(
      `Cannot start workers: they load their modules from ${root.pathname}, which needs --allow-read`,
    );
  }
  const workers: EchoWorker[] = [];
  try {
    workers.push(new EchoWorker(0));
    const port = await listen(workers[0]!, options, options.port);
    for (let id = 1; id < options.workers; id++) {
      workers.push(new EchoWorker(id));
    }
    await Promise.all(workers.slice(1).map((w) => listen(w, options, port)));
    return new EchoWorkers(port, workers);
  } catch (err) {
    workers.forEach((worker) => worker.terminate());
    throw err;
  }
}

/** Parses `--workers N` and `--tag` out of what `parseExampleArgs` left. */
function parseWorkerArgs(rest: string[]): { workers: number; tag: boolean } {
  let workers = navigator.hardwareConcurrency;
  let tag = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--workers") workers = Number(rest[++i]);
    else if (rest[i] === "--tag") tag = true;
    else throw new TypeError(`Unknown argument ${rest[i]}`);
  }
  return { workers, tag };
}

/** Serves until SIGINT/SIGTERM (or `signal`); exit code 1 if it cannot serve or a worker dies. */
export async function main(
  args: string[],
  signal: AbortSignal = stopSignal(),
): Promise<void> {
  const { host, port, rest } = parseExampleArgs(args, {
    host: "127.0.0.1",
    port: 8888,
  });
  const { workers, tag } = parseWorkerArgs(rest);
  let pool: EchoWorkers;
  try {
    pool = await startWorkers({ workers, host, port, tag });
  } catch (err) {
    console.error(`Cannot serve: ${err instanceof Error ? err.message : err}`);
    if (
      err instanceof Deno.errors.NotCapable ||
      (err instanceof Error && err.name === "NotSupported")
    ) console.error(`Run: ${RUN}`);
    Deno.exitCode = 1;
    return;
  }
  console.log(`Serving on ${host}:${pool.port} with ${workers} workers`);
  const stopped = Promise.withResolvers<null>();
  if (signal.aborted) stopped.resolve(null);
  signal.addEventListener("abort", () => stopped.resolve(null), {
    once: true,
  });
  const failure = await Promise.race([stopped.promise, pool.failed]);
  if (failure) {
    console.error(failure.message);
    Deno.exitCode = 1;
  }
  try {
    const counts = await pool.stop();
    counts.forEach((n, id) =>
      console.log(`Worker ${id} served ${n} connections`)
    );
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    Deno.exitCode = 1;
  }
}

if (import.meta.main) await main(Deno.args);
