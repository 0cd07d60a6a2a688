// Copyright 2026 the @aio/net authors. MIT license.
// A server's and a connection's limits: idleTimeout, maxConnections with
// connectionCount and refusedCount, and an accept loop that runs out of
// file descriptors (in a child process with a lowered limit).
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  type BaseProtocol,
  connectAcceptedSocket,
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
  openConnection,
  openUnixConnection,
  Protocol,
  type Server,
  type ServerOptions,
  startServer,
  startUnixServer,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  Echo,
  enc,
  logText,
  pathOf,
  portOf,
  Recorder,
  socketPath,
  test,
  tlsFiles,
  within,
  withLogs,
} from "./_helpers.ts";

const { cert, key, ca } = tlsFiles;

/** A network whose servers and connections take every option given. */
interface Net {
  name: string;
  server(factory: () => BaseProtocol, options?: ServerOptions): Promise<Server>;
  connect<P extends BaseProtocol>(
    server: Server,
    factory: () => P,
    options?: { idleTimeout?: number },
  ): Promise<[Transport, P]>;
}

const nets: Net[] = [
  {
    name: "TCP",
    server: async (factory, options) =>
      abortOnDispose(await createServer(factory, "127.0.0.1", 0, options)),
    connect: (server, factory, options) =>
      createConnection(factory, "127.0.0.1", portOf(server), options),
  },
  {
    name: "Unix",
    server: async (factory, options) =>
      abortOnDispose(await createUnixServer(factory, socketPath(), options)),
    connect: (server, factory, options) =>
      createUnixConnection(factory, pathOf(server), options),
  },
];

/**
 * A factory of server-side recorders: `made` lists them in the order the
 * server made them, `next()` resolves with the next one once its
 * `connectionMade` has run.
 */
function recorders(): {
  made: Recorder[];
  factory: () => Recorder;
  next(): Promise<Recorder>;
} {
  const made: Recorder[] = [];
  const waiting: PromiseWithResolvers<Recorder>[] = [];
  let taken = 0;
  const slot = (i: number) => (waiting[i] ??= Promise.withResolvers());
  return {
    made,
    factory: () => {
      const recorder = new Recorder();
      slot(made.length).resolve(recorder);
      made.push(recorder);
      return recorder;
    },
    next: async () => {
      const recorder = await slot(taken++).promise;
      await recorder.made.promise;
      return recorder;
    },
  };
}

/** Asserts that `exc` is the idle timeout's `TimedOut`, naming `ms`. */
function assertIdleTimeout(exc: unknown, ms: number): void {
  assertInstanceOf(exc, Deno.errors.TimedOut);
  const { message } = exc as Error;
  assertStringIncludes(message, `${ms} ms`);
  assertStringIncludes(message, "idleTimeout");
}

/** Waits for `ms` milliseconds (pacing the traffic under test, not syncing). */
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- idleTimeout -------------------------------------------------------------

for (const net of nets) {
  test(`${net.name}: a server's idleTimeout aborts a connection silent that long since its last byte; connectionLost gets TimedOut naming it`, async () => {
    const { next, factory } = recorders();
    await using server = await net.server(factory, { idleTimeout: 150 });
    const [transport, client] = await net.connect(server, () => new Recorder());
    const served = await within(next(), "server protocol");
    // One byte 100 ms in: the silence counts from it.
    await tick(100);
    transport.write(enc("."));
    const lastByte = performance.now();
    await within(served.receivedAtLeast(1), "the byte");
    assertIdleTimeout(await within(served.lost.promise, "idle timeout"), 150);
    const silence = performance.now() - lastByte;
    assert(silence >= 149, `closed after ${silence} ms of silence, not 150`);
    assertEquals(served.events, [
      "connectionMade",
      "dataReceived",
      "connectionLost",
    ]);
    // The client hears the server's side go.
    assertEquals(await within(client.lost.promise, "client lost"), null);
    assertEquals(server.connectionCount, 0);
    transport.close();
  });

  test(`${net.name}: a connection's idleTimeout aborts it when the server is silent`, async () => {
    await using server = await net.server(() => new Protocol());
    const [, client] = await net.connect(server, () => new Recorder(), {
      idleTimeout: 100,
    });
    assertIdleTimeout(await within(client.lost.promise, "idle timeout"), 100);
    assertEquals(client.events, ["connectionMade", "connectionLost"]);
  });

  test(`${net.name}: bytes from the client alone keep a connection with an idleTimeout open`, async () => {
    const { next, factory } = recorders();
    await using server = await net.server(factory, { idleTimeout: 400 });
    const [transport] = await net.connect(server, () => new Recorder());
    // Twelve bytes 50 ms apart: 600 ms in all, longer than the timeout.
    for (let i = 0; i < 12; i++) {
      transport.write(enc("."));
      await tick(50);
    }
    const served = await within(next(), "server protocol");
    await within(served.receivedAtLeast(12), "12 bytes");
    assertEquals(served.lostWith, undefined, "still open");
    transport.close();
    assertEquals(await within(served.lost.promise, "closed"), null);
  });

  test(`${net.name}: bytes from the server alone keep a connection with an idleTimeout open`, async () => {
    class Ticker extends Protocol {
      #timer: ReturnType<typeof setInterval> | undefined;
      readonly lost = Promise.withResolvers<Error | null>();
      override connectionMade(transport: Transport): void {
        this.#timer = setInterval(() => transport.write(enc(".")), 50);
      }
      override connectionLost(exc: Error | null): void {
        clearInterval(this.#timer);
        this.lost.resolve(exc);
      }
    }
    const tickers: Ticker[] = [];
    await using server = await net.server(() => {
      tickers.push(new Ticker());
      return tickers.at(-1)!;
    }, { idleTimeout: 400 });
    const [transport, client] = await net.connect(
      server,
      () => new Recorder(),
    );
    await within(client.receivedAtLeast(12), "12 bytes, 600 ms"); // never writes
    transport.close();
    assertEquals(await within(tickers[0]!.lost.promise, "closed"), null);
  });
}

test("a write the peer does not read is no activity: the writer's idleTimeout fires once the buffers are full", async () => {
  let written = 0;
  const lost = Promise.withResolvers<Error | null>();
  class Flood extends Protocol {
    #transport?: Transport;
    #paused = false;
    override connectionMade(transport: Transport): void {
      this.#transport = transport;
      this.#pump();
    }
    #pump(): void {
      while (!this.#paused && !this.#transport!.isClosing()) {
        this.#transport!.write(new Uint8Array(64 * 1024));
        written += 64 * 1024;
      }
    }
    override pauseWriting(): void {
      this.#paused = true;
    }
    override resumeWriting(): void {
      this.#paused = false;
      this.#pump();
    }
    override connectionLost(exc: Error | null): void {
      lost.resolve(exc);
    }
  }
  class Stalled extends Recorder {
    override connectionMade(transport: Transport): void {
      super.connectionMade(transport);
      transport.pauseReading();
    }
  }
  await using server = abortOnDispose(
    await createServer(() => new Flood(), "127.0.0.1", 0, {
      idleTimeout: 300,
    }),
  );
  const [transport, client] = await createConnection(
    () => new Stalled(),
    "127.0.0.1",
    portOf(server),
  );
  assertIdleTimeout(await within(lost.promise, "idle timeout"), 300);
  assert(written > 64 * 1024, `the server wrote ${written} bytes first`);
  transport.abort();
  await client.lost.promise;
});

test("idleTimeout on the streams entry points: the reader fails with the TimedOut", async () => {
  const served = Promise.withResolvers<unknown>();
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        served.resolve(await reader.read().catch((err) => err));
        writer.close();
      },
      "127.0.0.1",
      0,
      { idleTimeout: 100 },
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    idleTimeout: 5000,
  });
  assertIdleTimeout(await within(served.promise, "server reader"), 100);
  // The server's abort reaches the client as EOF, long before its own timeout.
  assertEquals((await reader.read()).length, 0);
  writer.close();

  const path = socketPath();
  const unixServed = Promise.withResolvers<unknown>();
  await using unixServer = abortOnDispose(
    await startUnixServer(async (unixReader, unixWriter) => {
      unixServed.resolve(await unixReader.read().catch((err) => err));
      unixWriter.close();
    }, path),
  );
  const [unixReader, unixWriter] = await openUnixConnection(
    pathOf(unixServer),
    { idleTimeout: 80 },
  );
  const err = await assertRejects(() => within(unixReader.read(), "read"));
  assertIdleTimeout(err, 80);
  unixWriter.close();
  // The server saw the client's side go: EOF.
  assertEquals(
    (await within(unixServed.promise, "server reader") as Uint8Array).length,
    0,
  );
});

test("connectAcceptedSocket takes an idleTimeout", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const [, served] = await connectAcceptedSocket(
    () => new Recorder(),
    await accepting,
    { idleTimeout: 100 },
  );
  assertIdleTimeout(await within(served.lost.promise, "idle timeout"), 100);
  assertEquals(await client.read(new Uint8Array(1)), null);
  client.close();
});

test("idleTimeout covers a connection upgraded with startTls: the TLS bytes count, then silence times out", async () => {
  const served = Promise.withResolvers<unknown>();
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        try {
          await writer.startTls({ cert, key });
          writer.write(enc("secure\n"));
          served.resolve(await reader.read().catch((err) => err));
        } catch (err) {
          served.reject(err);
        }
        writer.close();
      },
      "127.0.0.1",
      0,
      { idleTimeout: 300 },
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  await writer.startTls({ serverHostname: "localhost", caCerts: [ca] });
  assertEquals(dec(await reader.readline()), "secure\n");
  assertIdleTimeout(await within(served.promise, "server reader"), 300);
  writer.close();
  await writer.waitClosed().catch(() => {});
});

test("a connection with an idleTimeout that closes leaves no timer behind (the op sanitizer checks)", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      idleTimeout: 60_000,
    }),
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
    { idleTimeout: 60_000 },
  );
  transport.write(enc("ping"));
  await within(client.receivedAtLeast(4), "echo");
  transport.close();
  assertEquals(await client.lost.promise, null);
});

/** Every entry point that makes its own connection, called with `options`. */
function entryPoints(
  options: Record<string, unknown>,
): [string, () => Promise<unknown>][] {
  // deno-lint-ignore no-explicit-any
  const o = options as any; // deliberately wrong options
  const f = () => new Protocol();
  return [
    ["createServer", () => createServer(f, "127.0.0.1", 0, o)],
    ["startServer", () => startServer(() => {}, "127.0.0.1", 0, o)],
    ["createUnixServer", () => createUnixServer(f, socketPath(), o)],
    ["startUnixServer", () => startUnixServer(() => {}, socketPath(), o)],
    ["createConnection", () => createConnection(f, "127.0.0.1", 1, o)],
    ["openConnection", () => openConnection("127.0.0.1", 1, o)],
    ["createUnixConnection", () => createUnixConnection(f, socketPath(), o)],
    ["openUnixConnection", () => openUnixConnection(socketPath(), o)],
  ];
}

/** The errors `connectAcceptedSocket` gives for `options` (the connection is closed). */
async function acceptedSocketError(
  options: Record<string, unknown>,
): Promise<Error> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const conn = await accepting;
  try {
    return await assertRejects(() =>
      connectAcceptedSocket(() => new Protocol(), conn, options)
    );
  } finally {
    // The call closed `conn`: the client reads EOF.
    assertEquals(await client.read(new Uint8Array(1)), null);
    client.close();
  }
}

test("idleTimeout is checked at every entry point: RangeError unless a finite number above 0, TypeError for a non-number", async () => {
  for (const bad of [0, -1, NaN, Infinity]) {
    for (const [name, call] of entryPoints({ idleTimeout: bad })) {
      const err = await assertRejects(call, RangeError, undefined, name);
      assertStringIncludes(err.message, "options.idleTimeout", name);
    }
    const err = await acceptedSocketError({ idleTimeout: bad });
    assertInstanceOf(err, RangeError);
    assertStringIncludes(err.message, "options.idleTimeout");
  }
  for (const [name, call] of entryPoints({ idleTimeout: "100" })) {
    const err = await assertRejects(call, TypeError, undefined, name);
    assertStringIncludes(err.message, "options.idleTimeout", name);
  }
  const err = await acceptedSocketError({ idleTimeout: "100" });
  assertInstanceOf(err, TypeError);
  assertStringIncludes(err.message, "options.idleTimeout");
});

test("idleTimeout with tls: a silent TLS connection times out on the server's side and on the client's", async () => {
  // The server's side: a TLS server whose client goes quiet after the handshake.
  {
    const { factory, next } = recorders();
    await using server = abortOnDispose(
      await createServer(factory, "127.0.0.1", 0, {
        tls: { cert, key },
        idleTimeout: 150,
      }),
    );
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
      { tls: { serverHostname: "localhost", caCerts: [ca] } },
    );
    const served = await within(next(), "the TLS connection served");
    assertIdleTimeout(await within(served.lost.promise, "server idle"), 150);
    await within(client.lost.promise, "the client sees the close");
    transport.abort();
  }
  // The client's side: a TLS client with idleTimeout, a server that never writes.
  {
    const { factory, next } = recorders();
    await using server = abortOnDispose(
      await createServer(factory, "127.0.0.1", 0, { tls: { cert, key } }),
    );
    const [, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
      {
        tls: { serverHostname: "localhost", caCerts: [ca] },
        idleTimeout: 150,
      },
    );
    await within(next(), "the TLS connection served");
    assertIdleTimeout(await within(client.lost.promise, "client idle"), 150);
  }
});

// ---- maxConnections, connectionCount, refusedCount ------------------------------

for (const net of nets) {
  test(`${net.name}: beyond maxConnections a connection is accepted and closed at once, and counted; serving resumes as connections end`, async () => {
    await withLogs(async (records) => {
      const { made, factory, next } = recorders();
      await using server = await net.server(factory, { maxConnections: 2 });
      assertEquals([server.connectionCount, server.refusedCount], [0, 0]);
      const [first] = await net.connect(server, () => new Recorder());
      const firstServed = await within(next(), "first served");
      const [second] = await net.connect(server, () => new Recorder());
      await within(next(), "second served");
      assertEquals(server.connectionCount, 2);

      for (const n of [1, 2]) {
        const [, refused] = await net.connect(server, () => new Recorder());
        assertEquals(await within(refused.lost.promise, "refused"), null);
        assertEquals(refused.events, [
          "connectionMade",
          "eofReceived",
          "connectionLost",
        ]);
        assertEquals(server.refusedCount, n);
      }
      assertEquals(made.length, 2, "no protocol for a refused connection");
      assertEquals(server.connectionCount, 2);

      first.close();
      assertEquals(await within(firstServed.lost.promise, "first gone"), null);
      assertEquals(server.connectionCount, 1);
      const [third, thirdClient] = await net.connect(
        server,
        () => new Recorder(),
      );
      const thirdServed = await within(next(), "served again");
      third.write(enc("hello"));
      thirdServed.transport!.write(enc("back"));
      await within(thirdServed.receivedAtLeast(5), "bytes in");
      await within(thirdClient.receivedAtLeast(4), "bytes out");
      assertEquals(dec(thirdServed.bytes()), "hello");
      assertEquals(dec(thirdClient.bytes()), "back");
      assertEquals([server.connectionCount, server.refusedCount], [2, 2]);

      const warnings = records.filter((r) =>
        r.level === "warning" && logText(r).includes("maxConnections")
      );
      assertEquals(warnings.length, 1, "one warning for the episode");
      assertStringIncludes(logText(warnings[0]!), "2 connections");
      second.close();
      third.close();
    });
  });
}

test("connectionCount and maxConnections include a TLS connection still in its handshake", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Protocol(), "127.0.0.1", 0, {
      tls: { cert, key },
      maxConnections: 1,
    }),
  );
  const addr = { hostname: "127.0.0.1", port: portOf(server) };
  const silent = await Deno.connect(addr); // never sends its ClientHello
  const refused = await Deno.connect(addr);
  assertEquals(await within(refused.read(new Uint8Array(1)), "refused"), null);
  refused.close();
  assertEquals([server.connectionCount, server.refusedCount], [1, 1]);
  // EOF fails the silent client's handshake and frees its place.
  await silent.closeWrite();
  assertEquals(await within(silent.read(new Uint8Array(1)), "dropped"), null);
  silent.close();
  assertEquals(server.connectionCount, 0);
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    addr.port,
    { tls: { caCerts: [ca], serverHostname: "localhost" } },
  );
  assertEquals(server.connectionCount, 1);
  assertEquals(server.refusedCount, 1);
  transport.close();
  await client.lost.promise;
});

test("maxConnections is checked on every server: RangeError unless an integer of at least 1, TypeError for a non-number; connections do not take it", async () => {
  const servers = entryPoints({}).slice(0, 4).map(([name]) => name);
  for (const bad of [0, -1, 1.5, NaN]) {
    for (const [name, call] of entryPoints({ maxConnections: bad })) {
      if (!servers.includes(name)) continue;
      const err = await assertRejects(call, RangeError, undefined, name);
      assertStringIncludes(err.message, "options.maxConnections", name);
    }
  }
  for (const [name, call] of entryPoints({ maxConnections: "2" })) {
    const err = await assertRejects(call, TypeError, undefined, name);
    assertStringIncludes(err.message, "maxConnections", name);
    if (!servers.includes(name)) {
      assertStringIncludes(err.message, "Unknown option", name);
    }
  }
  const err = await acceptedSocketError({ maxConnections: 2 });
  assertInstanceOf(err, TypeError);
  assertStringIncludes(err.message, 'Unknown option "maxConnections"');
});

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

test("out of file descriptors, the accept loop reports once, backs off, and serves again once some are free (a child with ulimit -n 64)", async () => {
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
