// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Never silent: what a user gets when they err or ask for what cannot be
 * done (issue 21). Unknown options, asyncio options we cannot honour,
 * exceptions with no caller (stderr by default, LogTape once configured, an
 * exception handler of the application's), OS errors that name the
 * address, waits that take a signal, and the messages of misuse.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  AssertionError,
  assertMatch,
  assertNotMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  type BaseProtocol,
  connectAcceptedSocket,
  createConnection,
  createDatagramEndpoint,
  createServer,
  createUnixConnection,
  createUnixServer,
  DatagramProtocol,
  type ExceptionContext,
  getExceptionHandler,
  IncompleteReadError,
  LimitOverrunError,
  openAcceptedConnection,
  openConnection,
  openUnixConnection,
  Protocol,
  Server,
  setExceptionHandler,
  startServer,
  startTls,
  startUnixServer,
  StreamReader,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  enc,
  portOf,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  tlsFiles,
  within,
} from "./_helpers.ts";

const root = new URL("../", import.meta.url);
const factory = (() => new Protocol()) as () => BaseProtocol;

/** A TCP connection pair made with Deno alone: [accepted, dialled]. */
async function connPair(): Promise<[Deno.Conn, Deno.Conn]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const dialled = Deno.connect({ hostname: "127.0.0.1", port });
  const accepted = await listener.accept();
  return [accepted, await dialled];
}

/**
 * The error `call` fails with, checked to be a `TypeError`. Should it
 * succeed (the bug: an option ignored), what it made is closed first and
 * the test fails, rather than hanging on a connection left open; should it
 * hang, the test fails after 2 s.
 */
async function typeErrorOf(
  call: () => Promise<unknown>,
  what = "the call",
): Promise<TypeError> {
  const outcome = await within(
    call().then((made) => ({ made }), (err: unknown) => ({ err })),
    what,
    2000,
  );
  if ("made" in outcome) {
    release(outcome.made);
    throw new AssertionError(`${what} succeeded instead of throwing TypeError`);
  }
  assertInstanceOf(outcome.err, TypeError, what);
  return outcome.err as TypeError;
}

/** Closes whatever an entry point made: a server, a transport, streams. */
function release(made: unknown): void {
  if (made instanceof Server) {
    made.close();
    made.abortClients();
  } else if (Array.isArray(made)) {
    const [first, second] = made as [unknown, unknown];
    if (first instanceof StreamReader) {
      (second as { transport: Transport }).transport.abort();
    } else (first as Transport).abort();
  }
}

/** Asserts that `conn` was closed by the library (closing it again fails). */
function assertClosed(conn: Deno.Conn): void {
  assertThrows(() => conn.close(), Deno.errors.BadResource);
}

// ---- 1. Every option key is checked -----------------------------------------

test("an unknown option is a TypeError naming it and the nearest known option, at every TCP, Unix and streams entry point", async () => {
  await using server = await createServer(factory, "127.0.0.1", 0);
  const port = portOf(server);
  const path = socketPath("unknown");
  const bad = <T>(options: Record<string, unknown>) => options as T;
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "createConnection",
      () => createConnection(factory, "127.0.0.1", port, bad({ tsl: {} })),
      /Unknown option "tsl" in options \(did you mean "tls"\?\)/,
    ],
    [
      "createConnection tls",
      () =>
        createConnection(
          factory,
          "127.0.0.1",
          port,
          bad({ tls: { serverHostName: "x" } }),
        ),
      /Unknown option "serverHostName" in options\.tls \(did you mean "serverHostname"\?\)/,
    ],
    [
      "createServer",
      () => createServer(factory, "127.0.0.1", 0, bad({ backlgo: 5 })),
      /Unknown option "backlgo" in options \(did you mean "backlog"\?\)/,
    ],
    [
      "createUnixServer",
      () => createUnixServer(factory, path, bad({ startServng: true })),
      /Unknown option "startServng" in options \(did you mean "startServing"\?\)/,
    ],
    [
      "createUnixConnection",
      () =>
        createUnixConnection(factory, path, bad({ sigal: undefined, x: 1 })),
      /Unknown option "x" in options; known options: /,
    ],
    [
      "openConnection",
      () => openConnection("127.0.0.1", port, bad({ limt: 10 })),
      /Unknown option "limt" in options \(did you mean "limit"\?\)/,
    ],
    [
      "startServer",
      () => startServer(streamsEcho, "127.0.0.1", 0, bad({ noDelya: true })),
      /Unknown option "noDelya" in options \(did you mean "noDelay"\?\)/,
    ],
    [
      "openUnixConnection",
      () => openUnixConnection(path, bad({ limit: 10, signl: null })),
      /Unknown option "signl" in options \(did you mean "signal"\?\)/,
    ],
    [
      "startUnixServer",
      () => startUnixServer(streamsEcho, path, bad({ limits: 10 })),
      /Unknown option "limits" in options \(did you mean "limit"\?\)/,
    ],
    [
      "createDatagramEndpoint",
      () =>
        createDatagramEndpoint(
          () => new DatagramProtocol(),
          bad({ local_addr: { hostname: "127.0.0.1", port: 0 } }),
        ),
      /Unknown option "local_addr" in options: names are camelCase here \(did you mean "localAddr"\?\)/,
    ],
    [
      "new StreamReader",
      () => Promise.resolve().then(() => new StreamReader(bad({ limt: 5 }))),
      /Unknown option "limt" in options \(did you mean "limit"\?\)/,
    ],
  ];
  for (const [what, call, message] of cases) {
    assertMatch((await typeErrorOf(call, what)).message, message, what);
  }
  assertEquals(server.isServing(), true);
});

test("asyncio's options that Deno cannot honour throw a TypeError saying why and what to use instead", async () => {
  const bad = (options: Record<string, unknown>) => options as never;
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ssl: true }, /Unsupported option "ssl".*options\.tls/],
    [{ sock: {} }, /Unsupported option "sock".*options\.conn/],
    [{ family: 2 }, /Unsupported option "family".*IP literal/],
    [{ local_addr: ["127.0.0.1", 0] }, /Unsupported option "local_addr"/],
    [
      { server_hostname: "x" },
      /Unsupported option "server_hostname".*options\.tls\.serverHostname/,
    ],
    [
      { ssl_handshake_timeout: 5 },
      /Unsupported option "ssl_handshake_timeout".*tlsHandshakeTimeout.*milliseconds/,
    ],
    [{ happy_eyeballs_delay: 0.25 }, /Unsupported option.*Happy Eyeballs/],
  ];
  await using server = await createServer(factory, "127.0.0.1", 0);
  for (const [options, message] of cases) {
    const err = await typeErrorOf(
      () =>
        createConnection(factory, "127.0.0.1", portOf(server), bad(options)),
      JSON.stringify(options),
    );
    assertMatch(err.message, message);
  }
  // A server given asyncio's sock= does not quietly bind somewhere else.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const err = await typeErrorOf(() =>
      createServer(factory, undefined, undefined, bad({ sock: listener }))
    );
    assertMatch(err.message, /Unsupported option "sock"/);
  } finally {
    listener.close();
  }
});

test("the options of waits, startTls and the writer are closed too", async () => {
  await using server = abortOnDispose(
    await startServer(streamsEcho, "127.0.0.1", 0),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const bad = { sigal: new AbortController().signal } as never;
  for (
    const call of [
      () => reader.read(10, bad),
      () => reader.readline(bad),
      () => reader.readexactly(1, bad),
      () => reader.readuntil("\n", bad),
      () => writer.drain(bad),
      () => writer.waitClosed(bad),
      () => server.waitClosed(bad),
      () => writer.startTls({ caCert: [tlsFiles.ca] } as never),
      () =>
        startTls(writer.transport, new Protocol(), {
          serverHostnme: "localhost",
        } as never),
    ]
  ) {
    const err = await typeErrorOf(call);
    assertMatch(err.message, /Unknown option "(sigal|caCert|serverHostnme)"/);
  }
  // The connection is intact: it still echoes.
  writer.write(enc("still here\n"));
  assertEquals(
    new TextDecoder().decode(await reader.readline()),
    "still here\n",
  );
  writer.close();
  await writer.waitClosed();
});

test("a connection handed over with bad options is closed, not leaked", async () => {
  const cases: ((conn: Deno.Conn) => Promise<unknown>)[] = [
    (conn) => createConnection(factory, { conn, tsl: {} } as never),
    (conn) => connectAcceptedSocket(factory, conn, { noDelai: true } as never),
    (conn) => openAcceptedConnection(conn, { limit: "big" } as never),
    (conn) => openConnection({ conn, limt: 5 } as never),
    (conn) => connectAcceptedSocket(factory, conn, { noDelay: "yes" } as never),
  ];
  for (const call of cases) {
    const [accepted, dialled] = await connPair();
    try {
      await typeErrorOf(() => call(accepted));
      assertClosed(accepted);
    } finally {
      dialled.close();
    }
  }
});

// ---- 3. Errors visible by default -------------------------------------------

/** Runs `tests/fixtures/report_child.ts` in `mode`. */
async function runReportChild(
  mode: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "tests/fixtures/report_child.ts",
      mode,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, stdout: dec.decode(stdout), stderr: dec.decode(stderr) };
}

/** How often `needle` occurs in `text`. */
function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const REPORTS = [
  "Exception in dataReceived()",
  "Unhandled exception in the client callback of startServer()",
  "Cannot serve a connection: the protocol factory failed",
];

test("with nothing configured, a callback's, a client callback's and a factory's exception are each printed once to stderr, with peer and server", async () => {
  const { code, stdout, stderr } = await runReportChild("default");
  assertEquals(code, 0, stderr);
  assertStringIncludes(stdout, "done");
  for (const report of REPORTS) assertEquals(count(stderr, report), 1, report);
  assertMatch(
    stderr,
    /Exception in dataReceived\(\) \(peer 127\.0\.0\.1:\d+, server 127\.0\.0\.1:\d+\)\nError: bug in dataReceived/,
  );
  assertMatch(
    stderr,
    /client callback.*\(peer 127\.0\.0\.1:\d+\)\nError: bug in clientConnected/,
  );
  assertMatch(
    stderr,
    /protocol factory failed \(peer 127\.0\.0\.1:\d+, server 127\.0\.0\.1:\d+\)\nTypeError: protocolFactory must return a protocol object, got undefined/,
  );
});

test("once the application configures LogTape, the reports go there as errors and stderr stays empty", async () => {
  const { code, stdout, stderr } = await runReportChild("logtape");
  assertEquals(code, 0, stderr);
  assertEquals(stderr, "");
  const records = JSON.parse(stdout.split("\n")[0]!) as {
    level: string;
    text: string;
  }[];
  for (const report of REPORTS) {
    const matching = records.filter((r) => r.text.includes(report));
    assertEquals(matching.length, 1, report);
    assertEquals(matching[0]!.level, "error");
  }
});

test("an exception handler receives every report with its context, and nothing is printed", async () => {
  const { code, stdout, stderr } = await runReportChild("handler");
  assertEquals(code, 0, stderr);
  assertEquals(stderr, "");
  const contexts = stdout.trim().split("\n").slice(0, -1).map((line) =>
    JSON.parse(line)
  );
  assertEquals(contexts.map((c) => c.message), REPORTS);
  assertEquals(contexts.map((c) => c.exception), [
    "bug in dataReceived",
    "bug in clientConnected",
    "protocolFactory must return a protocol object, got undefined",
  ]);
  for (const context of contexts) {
    assertMatch(context.peer, /^127\.0\.0\.1:\d+$/);
  }
  assertMatch(contexts[0].server, /^127\.0\.0\.1:\d+$/);
  assertEquals(contexts[0].hasProtocol, true);
});

test("an exception handler that throws loses nothing: both its error and the original reach stderr", async () => {
  const { code, stderr } = await runReportChild("handler-throws");
  assertEquals(code, 0, stderr);
  assertEquals(count(stderr, "Exception in the exception handler"), 3);
  assertEquals(count(stderr, "bug in the exception handler"), 3);
  for (const report of REPORTS) assertEquals(count(stderr, report), 1, report);
});

test("setExceptionHandler returns the handler it replaces and refuses a non-function", () => {
  assertEquals(getExceptionHandler(), null);
  const mine = (_: ExceptionContext) => {};
  assertEquals(setExceptionHandler(mine), null);
  assertEquals(getExceptionHandler(), mine);
  assertEquals(setExceptionHandler(null), mine);
  assertThrows(
    () => setExceptionHandler("log" as never),
    TypeError,
    "handler must be a function or null",
  );
  assertEquals(getExceptionHandler(), null);
});

test("an exception in connectionLost() is reported with its context, once", async () => {
  const seen: ExceptionContext[] = [];
  const reported = Promise.withResolvers<void>();
  const previous = setExceptionHandler((context) => {
    seen.push(context);
    reported.resolve();
  });
  try {
    class BadLost extends Protocol {
      override connectionLost(): void {
        throw new Error("bug in connectionLost");
      }
    }
    await using server = await createServer(
      () => new BadLost(),
      "127.0.0.1",
      0,
    );
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    transport.close();
    await client.lost.promise;
    await within(reported.promise, "the report");
    assertEquals(seen.length, 1);
    assertEquals(seen[0]!.message, "Exception in connectionLost()");
    assertEquals(seen[0]!.exception.message, "bug in connectionLost");
    assertMatch(seen[0]!.server!, /^127\.0\.0\.1:\d+$/);
  } finally {
    setExceptionHandler(previous);
  }
});

test("examples: file_send exits 1 and says why when the receiver cannot write the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "aio-net-send-" });
  try {
    const source = `${dir}/source.bin`;
    await Deno.writeFile(source, new Uint8Array(300_000).fill(7));
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-write",
        "examples/file_send.ts",
        source,
        `${dir}/no/such/dir/dest.bin`,
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(stdout) +
      new TextDecoder().decode(stderr);
    assertEquals(code, 1, out);
    assertStringIncludes(out, "sender: the receiver failed: error:");
    assertNotMatch(out, /the receiver wrote/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---- 5. OS errors, signals, abort ---------------------------------------------

test("OS errors from connect and bind keep their Deno.errors class and name the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  try {
    const inUse = await assertRejects(
      () => createServer(factory, "127.0.0.1", port),
      Deno.errors.AddrInUse,
    );
    assertStringIncludes(inUse.message, `Cannot listen on 127.0.0.1:${port}: `);
    assertInstanceOf(inUse.cause, Deno.errors.AddrInUse);
  } finally {
    listener.close();
  }
  const refused = await assertRejects(
    () => createConnection(factory, "127.0.0.1", port),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(
    refused.message,
    `Cannot connect to 127.0.0.1:${port}: `,
  );
  const streams = await assertRejects(
    () => openConnection("127.0.0.1", port),
    Deno.errors.ConnectionRefused,
  );
  assertStringIncludes(streams.message, `127.0.0.1:${port}`);
  const path = socketPath("nobody");
  const missing = await assertRejects(
    () => createUnixConnection(factory, path),
    Deno.errors.NotFound,
  );
  assertStringIncludes(missing.message, `Cannot connect to ${path}: `);
});

/** A server whose connections never read: their peers' writes back up. */
async function deafServer(): Promise<Server> {
  return await createServer(
    () => {
      const protocol = new Recorder();
      protocol.made.promise.then((t) => t.pauseReading());
      return protocol;
    },
    "127.0.0.1",
    0,
  );
}

test("drain({ signal }) stops waiting on a peer that reads nothing, and leaves the buffered data queued", async () => {
  await using server = await deafServer();
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  try {
    writer.write(new Uint8Array(32 * 1024 * 1024));
    const reason = new Error("gave up");
    const controller = new AbortController();
    const drained = writer.drain({ signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    assertEquals(
      await within(drained.catch((e) => e), "the aborted drain()", 2000),
      reason,
    );
    assert(writer.transport.getWriteBufferSize() > 0);
    assertEquals(writer.isClosing(), false);
    await assertRejects(
      () => writer.drain({ signal: AbortSignal.abort(reason) }),
      Error,
      "gave up",
    );
  } finally {
    writer.transport.abort();
    await writer.waitClosed().catch(() => {});
    server.abortClients();
    void reader;
  }
});

test("writer.writable.abort() aborts the connection at once while a write waits on drain()", async () => {
  await using server = await deafServer();
  const [, writer] = await openConnection("127.0.0.1", portOf(server));
  try {
    const w = writer.writable.getWriter();
    const pending = w.write(new Uint8Array(32 * 1024 * 1024));
    pending.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert(writer.transport.getWriteBufferSize() > 0);
    await within(w.abort(new Error("stop")), "writable.abort()", 2000);
    assertEquals(writer.isClosing(), true);
    assertEquals(writer.transport.getWriteBufferSize(), 0);
    await within(writer.waitClosed(), "the connection closing", 2000);
  } finally {
    writer.transport.abort();
    server.abortClients();
  }
});

test("Server.waitClosed({ signal }) stops waiting for a client that stays, and resolves once it goes", async () => {
  const server = await createServer(() => new Recorder(), "127.0.0.1", 0);
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
  );
  await client.made.promise;
  server.close();
  const reason = new Error("enough");
  const controller = new AbortController();
  const waiting = server.waitClosed({ signal: controller.signal });
  setTimeout(() => controller.abort(reason), 20);
  try {
    assertEquals(
      await within(waiting.catch((e) => e), "the aborted waitClosed()", 2000),
      reason,
    );
  } finally {
    transport.close();
  }
  await within(server.waitClosed(), "waitClosed() once the client left");
});

// ---- The three messages -------------------------------------------------------

test("IncompleteReadError from readuntil at EOF says what happened, without 'undefined'", async () => {
  const reader = new StreamReader();
  reader.feedData(enc("no newline"));
  reader.feedEof();
  const err = await assertRejects(
    () => reader.readuntil("\n"),
    IncompleteReadError,
  );
  assertNotMatch(err.message, /undefined/);
  assertEquals(
    err.message,
    "10 bytes read before EOF, and no separator among them",
  );
  assertEquals(err.expected, null);
});

test("new Server() says how a server is made", () => {
  const NewServer = Server as unknown as new (init?: unknown) => Server;
  assertThrows(
    () => new NewServer(),
    TypeError,
    "Server cannot be constructed directly: use createServer()",
  );
});

test("readuntil with several separators applies the limit the same whatever the list's order", async () => {
  for (const seps of [["\r\n", "\n"], ["\n", "\r\n"]]) {
    const reader = new StreamReader({ limit: 2 });
    reader.feedData(enc("ab\r\nrest"));
    const err = await assertRejects(
      () => reader.readuntil(seps),
      LimitOverrunError,
      undefined,
      seps.join(","),
    );
    // "\n" and "\r\n" both end at byte 4; the shorter wins, starting at 3.
    assertEquals(err.consumed, 3, JSON.stringify(seps));
  }
});
