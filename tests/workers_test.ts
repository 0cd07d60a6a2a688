// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The every-core example (`examples/workers.ts`) run as a user runs it: in a
 * subprocess, N workers on one port with `reusePort`, loaded by plain
 * `Deno.connect` clients; and its messages when a flag is missing.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertStringIncludes,
} from "@std/assert";
import { randomBytes, test } from "./_helpers.ts";

const root = new URL("../", import.meta.url);
const RUN = ["--allow-net", "--allow-read=.", "--unstable-net"];
/** How long any one test may take before its server is killed. */
const DEADLINE_MS = 60_000;

/** The example running in a subprocess, with its stdout and stderr collected. */
class WorkersProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  #text = "";
  readonly #collected: Promise<void>;
  readonly #ready = Promise.withResolvers<number>();
  readonly #deadline: ReturnType<typeof setTimeout>;

  constructor(flags: string[], args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, "examples/workers.ts", ...args],
      cwd: root,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        const match = /Serving on 127\.0\.0\.1:(\d+) with \d+ workers/.exec(
          this.#text,
        );
        if (match) this.#ready.resolve(Number(match[1]));
      }
    };
    this.#collected = Promise.all([
      collect(this.#child.stdout),
      collect(this.#child.stderr),
    ]).then(() =>
      this.#ready.reject(new Error(`exited before serving:\n${this.#text}`))
    );
    // A hung test fails (its clients see the connections go) instead of hanging.
    this.#deadline = setTimeout(() => this.#kill("SIGKILL"), DEADLINE_MS);
  }

  /** The port, once every worker listens. */
  get ready(): Promise<number> {
    return this.#ready.promise;
  }

  /** Sends `signal` and returns the exit code and everything printed. */
  async stop(
    signal: Deno.Signal = "SIGTERM",
  ): Promise<{ code: number; out: string }> {
    this.#kill(signal);
    const { code } = await this.#child.status;
    await this.#collected;
    clearTimeout(this.#deadline);
    return { code, out: this.#text };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch { /* already gone */ }
  }
}

/** Runs the example to its end (it is expected to fail fast). */
async function runToEnd(
  flags: string[],
): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "examples/workers.ts", "--workers", "2"],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(DEADLINE_MS),
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

/** Reads exactly `n` bytes; fails if the connection ends first. */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += read;
  }
  return out;
}

/** Writes all of `data`. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) {
    off += await conn.write(data.subarray(off));
  }
}

/**
 * One client of a `--tag` server: reads the greeting, sends `data`, reads
 * it back; returns the worker that answered and what came back.
 */
async function tagged(
  port: number,
  data: Uint8Array,
): Promise<{ worker: number; echoed: Uint8Array }> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const greeting = new TextDecoder().decode(
    await readExactly(conn, "worker 0\n".length),
  );
  const id = /^worker (\d)\n$/.exec(greeting);
  if (!id) throw new Error(`unexpected greeting ${JSON.stringify(greeting)}`);
  // The replies race the writes: a large message would fill both buffers.
  const [, echoed] = await Promise.all([
    writeAll(conn, data),
    readExactly(conn, data.length),
  ]);
  return { worker: Number(id[1]), echoed };
}

/** The per-worker counts the example prints when it stops. */
function servedCounts(out: string): number[] {
  return [...out.matchAll(/Worker (\d+) served (\d+) connections/g)]
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => Number(m[2]));
}

test(
  "workers: two workers serve one port, each echoes exact bytes, and both take connections",
  { deadline: 120_000 },
  async () => {
    await using server = new WorkersProcess(RUN, [
      ...["--workers", "2", "--port", "0", "--tag"],
    ]);
    const port = await server.ready;
    const clients = 40;
    const perWorker = [0, 0];
    // Four clients at a time, each with its own message of 1 to 64 KiB.
    for (let batch = 0; batch < clients; batch += 4) {
      await Promise.all([0, 1, 2, 3].map(async (i) => {
        const data = randomBytes(1024 * (1 + (batch + i) % 64));
        const { worker, echoed } = await tagged(port, data);
        assertEquals(echoed, data);
        assert(worker === 0 || worker === 1, `worker ${worker}`);
        perWorker[worker]!++;
      }));
    }
    // The kernel hashes each connection to a listener: with 40 clients, both
    // get some unless something is wrong (all on one: 2 chances in 2^40).
    assert(perWorker[0]! > 0 && perWorker[1]! > 0, `${perWorker}`);
    const { code, out } = await server.stop();
    assertEquals(code, 0, out);
    assertEquals(servedCounts(out), perWorker, out);
  },
);

test(
  "workers: SIGINT stops every worker and closes the connections still open",
  { deadline: 120_000 },
  async () => {
    await using server = new WorkersProcess(RUN, [
      ...["--workers", "2", "--port", "0"],
    ]);
    const port = await server.ready;
    // Without --tag the workers echo only what they get (the bench's mode).
    const data = randomBytes(100_000);
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const [, echoed] = await Promise.all([
      writeAll(conn, data),
      readExactly(conn, data.length),
    ]);
    assertEquals(echoed, data);
    const stopping = server.stop("SIGINT");
    // The open connection is closed by its worker: EOF, nothing more.
    assertEquals(await conn.read(new Uint8Array(16)), null);
    const { code, out } = await stopping;
    assertEquals(code, 0, out);
    const counts = servedCounts(out);
    assertEquals(counts.length, 2, out);
    assertEquals(counts[0]! + counts[1]!, 1, out);
  },
);

test("workers: without --unstable-net the example says why and exits 1", {
  deadline: 120_000,
}, async () => {
  const { code, out } = await runToEnd(["--allow-net", "--allow-read=."]);
  assertEquals(code, 1, out);
  assertStringIncludes(
    out,
    "Cannot serve: Cannot listen with reusePort: Deno allows SO_REUSEPORT only with its --unstable-net flag",
  );
  assertMatch(out, /Run: deno run .*--unstable-net examples\/workers\.ts/);
});

test(
  "workers: without read access the example says the workers need it and exits 1",
  { deadline: 120_000 },
  async () => {
    const { code, out } = await runToEnd(["--allow-net", "--unstable-net"]);
    assertEquals(code, 1, out);
    assertStringIncludes(out, "Cannot serve: Cannot start workers:");
    assertStringIncludes(out, "needs --allow-read");
  },
);
