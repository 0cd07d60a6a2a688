// Copyright 2026 the @aio/net authors. MIT license.
// A server's and a connection's limits: idleTimeout, maxConnections with
// connectionCount and refusedCount, and an accept loop that runs out of
// file descriptors (in a child process with a lowered limit).
import { assert, assertEquals } from "@std/assert";
import { createConnection, type Transport } from "../mod.ts";
import { dec, enc, Recorder, within } from "./_helpers.ts";

// ---- Out of file descriptors --------------------------------------------------

/** A JSON line of `tests/fixtures/emfile_child.ts`. */
type ChildLine = { port?: number; level?: string; text?: string; done?: true };

/** The child's stdout, line by line, with waits for the lines to come. */
class ChildLines {
  readonly lines: ChildLine[] = [];
  #waiters: { test: (l: ChildLine) => boolean; resolve(l: ChildLine): void }[] =
    [];
  readonly ended: Promise<void>;

  constructor(stdout: ReadableStream<Uint8Array>) {
    this.ended = this.#read(stdout);
  }

  async #read(stdout: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const text of stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      for (const part of parts) {
        const line = JSON.parse(part) as ChildLine;
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    }
  }

  /** The first line that passes `test`, once it has come. */
  next(test: (line: ChildLine) => boolean): Promise<ChildLine> {
    const line = this.lines.find(test);
    if (line) return Promise.resolve(line);
    const { promise, resolve } = Promise.withResolvers<ChildLine>();
    this.#waiters.push({ test, resolve });
    return promise;
  }

  /** The `n`th line that passes `test`, once it has come. */
  nth(n: number, test: (line: ChildLine) => boolean): Promise<ChildLine> {
    let seen = 0;
    return this.next((line) => test(line) && ++seen === n);
  }

  count(test: (line: ChildLine) => boolean): number {
    return this.lines.filter(test).length;
  }
}

/** A client that resolves `greeted` at the child's `hi\n`. */
class Greeted extends Recorder {
  readonly greeted = Promise.withResolvers<void>();
  override dataReceived(data: Uint8Array): void {
    super.dataReceived(data);
    if (dec(this.bytes()).startsWith("hi\n")) this.greeted.resolve();
  }
}

const isReport = (l: ChildLine) =>
  l.level === "error" && l.text!.includes("Out of file descriptors");
const isRetry = (l: ChildLine) =>
  l.level === "debug" && /failed again/.test(l.text!);

Deno.test("out of file descriptors, the accept loop reports once, backs off, and serves again once some are free (a child with ulimit -n 64)", async () => {
  const fixture = new URL("./fixtures/emfile_child.ts", import.meta.url)
    .pathname;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$0" run --allow-net --allow-env "$1"',
      Deno.execPath(),
      fixture,
    ],
    // No update check: it would leave loopback (and need descriptors).
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new ChildLines(child.stdout);
  const stderr = new Response(child.stderr).text();
  const clients: [Transport, Greeted][] = [];
  const connect = async (port: number) => {
    const pair = await createConnection(() => new Greeted(), "127.0.0.1", port);
    clients.push(pair);
    return pair;
  };
  try {
    await within(
      (async () => {
        const { port } = await out.next((l) => l.port !== undefined);
        const report = out.next(isReport).then(() => "report" as const);
        // Connect until the child runs out of descriptors: a connection it
        // cannot accept waits in its backlog, never greeted.
        for (let i = 0; i < 200; i++) {
          const [, client] = await connect(port!);
          const first = await Promise.race([
            client.greeted.promise.then(() => "greeted" as const),
            report,
          ]);
          if (first === "report") break;
        }
        await report;
        const greeted = clients.filter(([, c]) => c.events.length > 1);
        assert(greeted.length >= 5, `${greeted.length} served before EMFILE`);
        // It retries, pausing twice as long each time, and says so at debug
        // level only.
        const retries = await Promise.all(
          [1, 2].map((n) => out.nth(n, isRetry)),
        );
        assertEquals(
          retries.map((l) => /retrying in (\d+) ms/.exec(l.text!)?.[1]),
          ["200", "400"],
        );
        // Free descriptors: the ones waiting are accepted, and new ones too.
        for (const [transport] of greeted) transport.close();
        await Promise.all(clients.map(([, c]) => c.greeted.promise));
        const [transport, client] = await connect(port!);
        await client.greeted.promise;
        transport.write(enc("ping\n"));
        await client.receivedAtLeast(8);
        assertEquals(dec(client.bytes()), "hi\nping\n");
        await out.next((l) =>
          l.level === "info" && l.text!.includes("again, after")
        );
        assertEquals(out.count(isReport), 1, "one report for the episode");
        assertEquals(out.count((l) => l.level === "error"), 1);
      })(),
      "the out-of-descriptors scenario",
      30_000,
    );
  } finally {
    for (const [transport] of clients) transport.abort();
    await Promise.all(clients.map(([, c]) => c.lost.promise));
    await child.stdin.close();
    const ended = await within(child.status, "the child's exit", 10_000)
      .catch((err) => {
        child.kill("SIGKILL");
        throw err;
      });
    await out.ended;
    const text = await stderr;
    assertEquals(ended.code, 0, text);
    assert(out.lines.some((l) => l.done), "the child closed its server");
    assertEquals(text, "");
  }
});
