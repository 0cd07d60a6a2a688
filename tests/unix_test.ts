// Copyright 2026 the @aio/net authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import {
  createUnixConnection,
  createUnixServer,
  openUnixConnection,
  Protocol,
  startUnixServer,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  digest,
  Echo,
  enc,
  pathOf,
  randomBytes,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  within,
} from "./_helpers.ts";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/** Leaves a stale socket file at `path`, as a crashed server would. */
async function makeStaleSocket(path: string): Promise<void> {
  const code = `Deno.listen({ transport: "unix", path: ${
    JSON.stringify(path)
  } }); Deno.exit(0);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assert(Deno.lstatSync(path).isSocket, "no stale socket was left");
}

test("Unix: the streams API echoes 32 concurrent clients over a socket path", async () => {
  const path = socketPath();
  await using server = abortOnDispose(
    await startUnixServer(streamsEcho, path),
  );
  assertEquals(pathOf(server), path);
  await Promise.all(Array.from({ length: 32 }, async () => {
    const payload = randomBytes(200_000);
    const [reader, writer] = await openUnixConnection(path);
    writer.write(payload);
    writer.writeEof();
    const echoed = await within(reader.read(), "the echo, to EOF");
    assertEquals(await digest(echoed), await digest(payload));
    writer.close();
    await writer.waitClosed();
  }));
});

test("Unix: getExtraInfo gives Deno.UnixAddr names and half-close works", async () => {
  const path = socketPath();
  await using _server = abortOnDispose(
    await createUnixServer(() => new Echo(), path),
  );
  const [transport, client] = await createUnixConnection(
    () => new Recorder(),
    path,
  );
  const peer = transport.getExtraInfo("peername") as Deno.UnixAddr;
  assertEquals(peer.transport, "unix");
  assertEquals(peer.path, path);
  assertEquals(
    (transport.getExtraInfo("sockname") as Deno.UnixAddr).transport,
    "unix",
  );
  assertEquals(transport.canWriteEof(), true);
  transport.write(enc("half"));
  transport.writeEof();
  await within(client.eof.promise, "the echo's EOF");
  assertEquals(dec(client.bytes()), "half");
  assertEquals(await client.lost.promise, null);
});

test(
  "Unix: a stale socket file is replaced",
  { deadline: 60_000 },
  async () => {
    const path = socketPath("stale");
    await makeStaleSocket(path);
    await assertRejects(
      () => Deno.connect({ transport: "unix", path }),
      Deno.errors.ConnectionRefused,
    );
    await using server = abortOnDispose(
      await createUnixServer(() => new Echo(), path),
    );
    const [transport, client] = await createUnixConnection(
      () => new Recorder(),
      path,
    );
    transport.write(enc("fresh"));
    await client.receivedAtLeast(5);
    assertEquals(dec(client.bytes()), "fresh");
    transport.close();
    await client.lost.promise;
    void server;
  },
);

test("Unix: a path where a live server accepts fails with AddrInUse and the server keeps it", async () => {
  const path = socketPath("live");
  await using server = abortOnDispose(
    await createUnixServer(() => new Echo(), path),
  );
  const ino = Deno.lstatSync(path).ino;
  await assertRejects(
    () => createUnixServer(() => new Echo(), path),
    Deno.errors.AddrInUse,
    "accepting connections",
  );
  await assertRejects(
    () => startUnixServer(() => {}, path),
    Deno.errors.AddrInUse,
  );
  assertEquals(Deno.lstatSync(path).ino, ino);
  const [transport, client] = await createUnixConnection(
    () => new Recorder(),
    path,
  );
  transport.write(enc("still mine"));
  await client.receivedAtLeast(10);
  transport.close();
  await client.lost.promise;
  void server;
});

test("Unix: a path that is not a socket is never touched", async () => {
  const path = socketPath("file");
  Deno.writeTextFileSync(path, "precious data");
  await assertRejects(
    () => createUnixServer(() => new Echo(), path),
    Deno.errors.AlreadyExists,
    "is not a socket",
  );
  assertEquals(Deno.readTextFileSync(path), "precious data");
  Deno.removeSync(path);
  const dir = socketPath("dir");
  Deno.mkdirSync(dir);
  await assertRejects(
    () => createUnixServer(() => new Echo(), dir),
    Deno.errors.AlreadyExists,
  );
  assert(Deno.statSync(dir).isDirectory);
  Deno.removeSync(dir);
});

test("Unix: the server removes its socket file on close, and copes if it is already gone", async () => {
  const path = socketPath("cleanup");
  const server = await createUnixServer(() => new Echo(), path);
  assert(exists(path));
  server.close();
  await server.waitClosed();
  assertEquals(exists(path), false);

  // A file that replaced ours is not ours to remove.
  const path2 = socketPath("replaced");
  const server2 = await createUnixServer(() => new Echo(), path2);
  Deno.removeSync(path2);
  Deno.writeTextFileSync(path2, "someone else's");
  server2.close();
  await server2.waitClosed();
  assertEquals(Deno.readTextFileSync(path2), "someone else's");
  Deno.removeSync(path2);
});

test(
  "Unix: connecting to a missing path rejects with NotFound; to a stale one with ConnectionRefused",
  { deadline: 60_000 },
  async () => {
    await assertRejects(
      () => createUnixConnection(() => new Protocol(), socketPath("missing")),
      Deno.errors.NotFound,
    );
    await assertRejects(
      () => openUnixConnection(socketPath("missing")),
      Deno.errors.NotFound,
    );
    const stale = socketPath("stale2");
    await makeStaleSocket(stale);
    const err = await openUnixConnection(stale).then(() => null, (e) => e);
    assertInstanceOf(err, Deno.errors.ConnectionRefused);
  },
);

test("Unix: a path over the OS limit throws RangeError naming the path and the limit", async () => {
  const long = `/tmp/${"x".repeat(120)}.sock`;
  const err = await createUnixServer(() => new Echo(), long).then(
    () => null,
    (e) => e,
  );
  assertInstanceOf(err, RangeError);
  assert(
    err.message.includes("107-byte limit") && err.message.includes(long),
    err.message,
  );
  await assertRejects(
    () => createUnixConnection(() => new Protocol(), long),
    RangeError,
    "107-byte limit",
  );
  await assertRejects(
    () => startUnixServer(() => {}, long),
    RangeError,
    "107-byte limit",
  );
  await assertRejects(
    () => openUnixConnection(long),
    RangeError,
    "107-byte limit",
  );
});

test("Unix: bad arguments throw TypeError or RangeError and create nothing", async () => {
  const path = socketPath("bad");
  await assertRejects(
    () => createUnixServer(5 as unknown as () => Protocol, path),
    TypeError,
    "protocolFactory",
  );
  await assertRejects(
    () => createUnixServer(() => new Echo(), 5 as unknown as string),
    TypeError,
    "path",
  );
  await assertRejects(
    () => createUnixServer(() => new Echo(), ""),
    RangeError,
    "path",
  );
  await assertRejects(
    () => startUnixServer(() => {}, path, { limit: 0 }),
    RangeError,
    "limit",
  );
  await assertRejects(
    () => startUnixServer("x" as unknown as () => void, path),
    TypeError,
    "clientConnected",
  );
  await assertRejects(
    () => createUnixServer(() => new Echo(), path, { backlog: -1 }),
    RangeError,
    "backlog",
  );
  assertEquals(exists(path), false);
});

test("Unix: startServing: false and a closing signal work as on TCP", async () => {
  const controller = new AbortController();
  const path = socketPath("signal");
  const server = await startUnixServer((_r, w) => w.close(), path, {
    startServing: false,
    signal: controller.signal,
  });
  assertEquals(server.isServing(), false);
  const forever = server.serveForever();
  const [reader, writer] = await openUnixConnection(path);
  assertEquals((await reader.read()).length, 0);
  writer.close();
  await writer.waitClosed();
  controller.abort();
  await forever;
  assertEquals(exists(path), false);
});

// ---- Boundaries, and what a late or aborted call leaves (issue 17) ---------

const utf8Length = (s: string) => new TextEncoder().encode(s).length;

/** A path in the tests' socket directory of exactly `bytes` UTF-8 bytes, made of `fill`. */
function pathOfBytes(bytes: number, fill: string): string {
  const any = socketPath();
  const dir = any.slice(0, any.lastIndexOf("/") + 1);
  let path = dir;
  while (utf8Length(path + fill) <= bytes) path += fill;
  while (utf8Length(path) < bytes) path += "x";
  assertEquals(utf8Length(path), bytes);
  return path;
}

test("Unix: a socket path of exactly 107 bytes works, in ASCII or not; 108 bytes is refused", async () => {
  for (const fill of ["a", "é", "€"]) {
    const path = pathOfBytes(107, fill);
    await using _server = abortOnDispose(
      await startUnixServer(streamsEcho, path),
    );
    const [reader, writer] = await openUnixConnection(path);
    writer.write(enc(`${fill} fits`));
    writer.writeEof();
    assertEquals(dec(await reader.read()), `${fill} fits`);
    writer.close();
    await writer.waitClosed();
  }
  const tooLong = pathOfBytes(108, "a");
  const err = await createUnixServer(() => new Echo(), tooLong).then(
    () => null,
    (e) => e,
  );
  assertInstanceOf(err, RangeError);
  assert(
    err.message.includes("108 bytes") && err.message.includes("107-byte limit"),
    err.message,
  );
  assertEquals(exists(tooLong), false);
});

test("Unix: the path limit counts UTF-8 bytes, not characters: a short non-ASCII path is too long", async () => {
  const path = pathOfBytes(120, "é");
  assert(path.length < 107, `${path.length} characters`);
  const calls: [string, () => Promise<unknown>][] = [
    ["createUnixServer", () => createUnixServer(() => new Echo(), path)],
    ["startUnixServer", () => startUnixServer(() => {}, path)],
    [
      "createUnixConnection",
      () => createUnixConnection(() => new Protocol(), path),
    ],
    ["openUnixConnection", () => openUnixConnection(path)],
  ];
  for (const [name, call] of calls) {
    const err = await call().then(() => null, (e) => e);
    assertInstanceOf(err, RangeError, name);
    assert(
      err.message.includes("120 bytes") &&
        err.message.includes("107-byte limit"),
      `${name}: ${err.message}`,
    );
  }
  assertEquals(exists(path), false);
});

test("Unix: a connect that completes after its signal aborted is closed again, and no protocol is made", async () => {
  const accepted = Promise.withResolvers<Recorder>();
  const server = await createUnixServer(() => {
    const protocol = new Recorder();
    accepted.resolve(protocol);
    return protocol;
  }, socketPath("late"));
  try {
    let made = 0;
    const controller = new AbortController();
    const pending = createUnixConnection(
      () => {
        made++;
        return new Recorder();
      },
      pathOf(server),
      { signal: controller.signal },
    );
    const reason = new Error("too late");
    controller.abort(reason); // before the connect can complete
    assertStrictEquals(await pending.then(() => null, (e) => e), reason);
    // The connection was made all the same: the client closes it as soon as
    // it arrives, so the server sees it open and end.
    const remote = await within(accepted.promise, "the server's connection");
    assertEquals(
      await within(remote.lost.promise, "the server's connectionLost"),
      null,
    );
    assertEquals(remote.events, [
      "connectionMade",
      "eofReceived",
      "connectionLost",
    ]);
    assertEquals(made, 0);
  } finally {
    server.close();
    server.abortClients();
    await server.waitClosed();
  }
});

test("Unix: a server whose signal aborts while it binds comes back closed, its socket file gone", async () => {
  const path = socketPath("abort-bind");
  const controller = new AbortController();
  const pending = createUnixServer(() => new Echo(), path, {
    signal: controller.signal,
  });
  controller.abort(); // while the path is being checked and bound
  const server = await pending;
  try {
    assertEquals(server.isServing(), false);
    assertEquals(server.sockets.length, 0);
    await within(server.waitClosed(), "waitClosed()");
    assertEquals(exists(path), false);
    await assertRejects(
      () => createUnixConnection(() => new Protocol(), path),
      Deno.errors.NotFound,
    );
  } finally {
    server.close();
  }
});
