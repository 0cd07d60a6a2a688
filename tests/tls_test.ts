// Copyright 2026 the @aio/net authors. MIT license.
import {
  assert,
  assertEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import nodeNet from "node:net";
import {
  createConnection,
  createServer,
  openConnection,
  Protocol,
  startServer,
  type StreamWriter,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  delay,
  digest,
  Echo,
  enc,
  logText,
  nameOnlyTls,
  portOf,
  randomBytes,
  Recorder,
  streamsEcho,
  test,
  tlsFiles,
  within,
  withLogs,
} from "./_helpers.ts";
import { serverSockets } from "./_proc.ts";

const { cert, key, ca, otherCa } = tlsFiles;
const EMPTY = new Uint8Array(0);

test("TLS: the protocol API echoes over TLS; canWriteEof() is false", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert, key },
    }),
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "localhost",
    portOf(server),
    {
      tls: { caCerts: [ca] },
    },
  );
  assertEquals(transport.canWriteEof(), false);
  assertThrows(() => transport.writeEof(), Error, "cannot half-close");
  assertEquals(transport.getExtraInfo("alpnProtocol"), null);
  const peer = transport.getExtraInfo("peername") as Deno.NetAddr;
  assertEquals([peer.transport, peer.port], ["tcp", portOf(server)]);
  const local = transport.getExtraInfo("sockname") as Deno.NetAddr;
  assertEquals([local.transport, local.hostname], ["tcp", "127.0.0.1"]);
  const payload = randomBytes(300_000);
  transport.write(payload);
  await client.receivedAtLeast(payload.length);
  assertEquals(await digest(client.bytes()), await digest(payload));
  transport.close();
  await client.lost.promise;
});

test("TLS: the streams API echoes over TLS, with serverHostname checked instead of the address", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        writer.write(await reader.readline());
        await writer.drain();
        writer.close();
      },
      "127.0.0.1",
      0,
      { tls: { cert, key } },
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    tls: { caCerts: [ca], serverHostname: "localhost" },
  });
  assertEquals(writer.canWriteEof(), false);
  writer.write(enc("secret line\n"));
  assertEquals(dec(await reader.readline()), "secret line\n");
  assertEquals((await reader.read()).length, 0);
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
});

test("TLS: ALPN negotiates the protocol both sides offer", async () => {
  let serverSaw: unknown;
  await using server = abortOnDispose(
    await startServer(
      (_reader, writer) => {
        serverSaw = writer.getExtraInfo("alpnProtocol");
        writer.close();
      },
      "127.0.0.1",
      0,
      { tls: { cert, key, alpnProtocols: ["h2", "aio/1"] } },
    ),
  );
  const [reader, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca], alpnProtocols: ["aio/1"] },
  });
  assertEquals(writer.getExtraInfo("alpnProtocol"), "aio/1");
  assertEquals((await reader.read()).length, 0);
  assertEquals(serverSaw, "aio/1");
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
});

test("TLS: a hostname mismatch or an unknown CA rejects the connect, logged at debug level only, and the server keeps serving", async () => {
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert, key },
      }),
    );
    // The TLS engine's errors carry Node's codes.
    const mismatch = await assertRejects(
      () =>
        createConnection(() => new Recorder(), "127.0.0.1", portOf(server), {
          tls: { caCerts: [ca], serverHostname: "not-localhost.example" },
        }),
      Error,
    );
    assertEquals(
      (mismatch as { code?: string }).code,
      "ERR_TLS_CERT_ALTNAME_INVALID",
    );
    const unknownCa = await assertRejects(
      () =>
        openConnection("localhost", portOf(server), {
          tls: { caCerts: [otherCa] },
        }),
      Error,
    );
    assertEquals(
      (unknownCa as { code?: string }).code,
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    );
    // The server is still serving.
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "localhost",
      portOf(server),
      {
        tls: { caCerts: [ca] },
      },
    );
    transport.write(enc("after failures"));
    await client.receivedAtLeast(14);
    transport.close();
    await client.lost.promise;
    // Each caller heard of its failure (the rejected promise), so the
    // client's side logs it at debug level only, and nothing is reported as
    // an error: the server never saw a failure (the engine's client checks
    // the certificate after the handshake and closes without an alert).
    const handshakes = records.filter((r) =>
      logText(r).includes("TLS handshake failed")
    );
    assertEquals(handshakes.map((r) => r.level), ["debug", "debug"]);
    assertEquals(records.filter((r) => r.level === "error").map(logText), []);
  });
});

test("TLS: a plain client to a TLS server fails on its own connection only", async () => {
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert, key },
      }),
    );
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    transport.write(enc("GET / HTTP/1.0\r\n\r\n"));
    await client.lost.promise; // the server drops it
    assert(
      !dec(client.bytes()).includes("GET"),
      "a plain client was echoed by a TLS server",
    );
    const warnings = records.filter((r) => r.level === "warning").map(logText);
    assert(
      warnings.some((t) => t.includes("TLS handshake")),
      warnings.join("\n"),
    );
    assertEquals(server.isServing(), true);
  });
});

test("TLS: every entry point rejects the same bad TLS option with the same error, before connecting or binding", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        await reader.read();
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const port = portOf(server);
  const bad = <T>(value: unknown) => value as T;
  // The client's options: createConnection, openConnection and startTls.
  const clientCases: [Record<string, unknown>, string][] = [
    [{ caCerts: ca }, "caCerts"],
    [{ caCerts: [ca, 7] }, "caCerts[1]"],
    [{ alpnProtocols: "h2" }, "alpnProtocols"],
    [{ alpnProtocols: ["h2", null] }, "alpnProtocols[1]"],
    [{ serverHostname: 42 }, "serverHostname"],
  ];
  for (const [tls, option] of clientCases) {
    await assertRejects(
      () =>
        createConnection(() => new Recorder(), "127.0.0.1", port, {
          tls: bad(tls),
        }),
      TypeError,
      `options.tls.${option}`,
    );
    await assertRejects(
      () => openConnection("127.0.0.1", port, { tls: bad(tls) }),
      TypeError,
      `options.tls.${option}`,
    );
    const [, writer] = await openConnection("127.0.0.1", port);
    await assertRejects(
      () => writer.startTls(bad(tls)),
      TypeError,
      `options.${option}`,
    );
    assertEquals(writer.canWriteEof(), true); // still plain, still usable
    writer.close();
    await writer.waitClosed();
  }
  await assertRejects(
    () =>
      createConnection(() => new Recorder(), "127.0.0.1", port, {
        tls: bad("yes"),
      }),
    TypeError,
    "options.tls",
  );
  // The server's options: createServer, startServer and startTls's server side.
  const serverCases: [Record<string, unknown>, string][] = [
    [{ key }, "cert"],
    [{ cert, key: 1 }, "key"],
    [{ cert, key, alpnProtocols: "h2" }, "alpnProtocols"],
    [{ cert, key, alpnProtocols: [1] }, "alpnProtocols[0]"],
  ];
  for (const [tls, option] of serverCases) {
    await assertRejects(
      () => createServer(() => new Echo(), "127.0.0.1", 0, { tls: bad(tls) }),
      TypeError,
      `options.tls.${option}`,
    );
    await assertRejects(
      () => startServer(() => {}, "127.0.0.1", 0, { tls: bad(tls) }),
      TypeError,
      `options.tls.${option}`,
    );
    const [, writer] = await openConnection("127.0.0.1", port);
    await assertRejects(
      () => writer.startTls({ serverSide: true, ...bad<object>(tls) }),
      TypeError,
      `options.${option}`,
    );
    writer.close();
    await writer.waitClosed();
  }
});

test("TLS: a client that never sends a ClientHello is dropped after tlsHandshakeTimeout, while others are served", async () => {
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await startServer(
        async (reader, writer) => {
          writer.write(await reader.readline());
          await writer.drain();
          writer.close();
        },
        "127.0.0.1",
        0,
        { tls: { cert, key }, tlsHandshakeTimeout: 300 },
      ),
    );
    const port = portOf(server);
    const started = Date.now();
    const silent = await Promise.all(
      Array.from(
        { length: 5 },
        () => Deno.connect({ hostname: "127.0.0.1", port }),
      ),
    );
    // Meanwhile a real client is served at once.
    const [reader, writer] = await openConnection("localhost", port, {
      tls: { caCerts: [ca] },
    });
    writer.write(enc("hello\n"));
    assertEquals(dec(await reader.readline()), "hello\n");
    assert(
      Date.now() - started < 300,
      "served before the silent ones timed out",
    );
    writer.close();
    // Each silent client sees its connection end once the time is up.
    for (const conn of silent) {
      const end = await within(
        conn.read(new Uint8Array(16)).catch((e) => e),
        "a silent client's end",
      );
      assert(end === null || end instanceof Deno.errors.ConnectionReset);
      conn.close();
    }
    const elapsed = Date.now() - started;
    assert(elapsed >= 290, `dropped after ${elapsed} ms, before the timeout`);
    assert(elapsed < 5000, `dropped after ${elapsed} ms`);
    const timedOut = records.filter((r) =>
      logText(r).includes("TLS handshake") && logText(r).includes("TimedOut")
    );
    assertEquals(timedOut.length, 5);
    assertEquals(timedOut[0]!.level, "warning");
    // Nothing is held: no descriptor is left, and the server closes at once.
    assertEquals(await serverSockets(port), 0);
    server.close();
    await server.waitClosed();
  });
});

test("TLS: a connect whose server never answers the handshake rejects with TimedOut after tlsHandshakeTimeout", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const started = Date.now();
  await assertRejects(
    () =>
      within(
        createConnection(
          () => new Recorder(),
          "localhost",
          (listener.addr as Deno.NetAddr).port,
          { tls: { caCerts: [ca] }, tlsHandshakeTimeout: 200 },
        ),
        "the connect",
      ),
    Deno.errors.TimedOut,
    "200 ms",
  );
  assert(Date.now() - started >= 190);
  // The client's socket was closed: the silent server reads the ClientHello, then EOF.
  const conn = await accepted;
  const buf = new Uint8Array(65536);
  let n: number | null;
  while ((n = await conn.read(buf)) !== null) assert(n > 0);
  conn.close();
  listener.close();
});

test("TLS: tlsHandshakeTimeout and tlsShutdownTimeout are checked like every option", async () => {
  const tls = { caCerts: [ca] };
  for (const value of [0, -1, Infinity, NaN]) {
    await assertRejects(
      () =>
        createConnection(() => new Recorder(), "127.0.0.1", 1, {
          tls,
          tlsHandshakeTimeout: value,
        }),
      RangeError,
      "options.tlsHandshakeTimeout",
    );
    await assertRejects(
      () =>
        startServer(() => {}, "127.0.0.1", 0, {
          tls: { cert, key },
          tlsShutdownTimeout: value,
        }),
      RangeError,
      "options.tlsShutdownTimeout",
    );
  }
  await assertRejects(
    () =>
      openConnection("127.0.0.1", 1, {
        tls,
        tlsHandshakeTimeout: "5" as unknown as number,
      }),
    TypeError,
    "options.tlsHandshakeTimeout",
  );
  // Without TLS they mean nothing: asyncio's ValueError.
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, {
        tlsHandshakeTimeout: 5,
      }),
    RangeError,
    "only meaningful with options.tls",
  );
  await assertRejects(
    () => openConnection("127.0.0.1", 1, { tlsShutdownTimeout: 5 }),
    RangeError,
    "only meaningful with options.tls",
  );
});

test("TLS: getExtraInfo gives the TLS version, the cipher and the peer's certificate", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        // The server's side: no client certificate was asked for.
        assertEquals(writer.getExtraInfo("peerCertificate"), null);
        assertEquals(writer.getExtraInfo("tlsVersion"), "TLSv1.3");
        writer.write(await reader.readline());
        writer.close();
      },
      "127.0.0.1",
      0,
      { tls: { cert, key } },
    ),
  );
  const [reader, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca] },
  });
  assertEquals(writer.getExtraInfo("tlsVersion"), "TLSv1.3");
  const cipher = writer.getExtraInfo("cipher") as {
    name: string;
    version: string;
  };
  assert(cipher.name.startsWith("TLS_"), cipher.name);
  assertEquals(cipher.version, "TLSv1.3");
  const peer = writer.getExtraInfo("peerCertificate") as {
    subjectaltname?: string;
    fingerprint256?: string;
  };
  assert(peer.subjectaltname?.includes("DNS:localhost"), peer.subjectaltname);
  assert(typeof peer.fingerprint256 === "string");
  // The socket underneath is the plain TCP connection the engine runs over.
  const socket = writer.getExtraInfo("socket") as Deno.TcpConn;
  assertEquals(typeof socket.setNoDelay, "function");
  writer.write(enc("bye\n"));
  assertEquals(dec(await reader.readline()), "bye\n");
  writer.close();
  await writer.waitClosed();
  // Plain connections have none of it.
  const [plain, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
  );
  for (
    const name of ["tlsVersion", "cipher", "peerCertificate", "alpnProtocol"]
  ) {
    assertEquals(plain.getExtraInfo(name, "none"), "none");
  }
  plain.abort();
  await client.lost.promise;
});

test("TLS: a reply of several TLS records does not wait for a delayed ACK (TCP_NODELAY on both sides)", async () => {
  await using server = abortOnDispose(
    await startServer(streamsEcho, "127.0.0.1", 0, {
      tls: { cert, key },
    }),
  );
  const [reader, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca] },
  });
  const message = randomBytes(100 * 1024); // seven TLS records
  const times: number[] = [];
  for (let round = 0; round < 11; round++) {
    const started = performance.now();
    writer.write(message);
    await writer.drain();
    const back = await reader.readexactly(message.length);
    times.push(performance.now() - started);
    if (round === 0) assertEquals(await digest(back), await digest(message));
  }
  writer.close();
  await writer.waitClosed();
  // Nagle's algorithm would hold the last record of each reply for the
  // peer's delayed ACK: 40 ms or more per round trip.
  const median = times.sort((a, b) => a - b)[5]!;
  assert(median < 30, `median round trip ${median.toFixed(1)} ms`);
});

test("TLS: a peer that never answers close_notify is cut off after tlsShutdownTimeout", async () => {
  // The peer upgrades, then stops reading: it never sees our close_notify.
  const stalled = Promise.withResolvers<StreamWriter>();
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        await reader.readline();
        writer.write(enc("OK\r\n"));
        await writer.startTls({ cert, key });
        writer.transport.pauseReading();
        stalled.resolve(writer);
        await writer.waitClosed().catch(() => {});
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("localhost", portOf(server));
  writer.write(enc("STARTTLS\r\n"));
  await reader.readline();
  await writer.startTls({ caCerts: [ca], tlsShutdownTimeout: 200 });
  const peer = await stalled.promise;
  const started = Date.now();
  writer.close();
  const err = await assertRejects(
    () => within(writer.waitClosed(), "waitClosed()"),
    Deno.errors.TimedOut,
  );
  assert(err.message.includes("200 ms"), err.message);
  const elapsed = Date.now() - started;
  assert(elapsed >= 190 && elapsed < 5000, `cut off after ${elapsed} ms`);
  peer.transport.abort(); // it would wait for its own shutdown timeout
  await peer.waitClosed();
});

test("TLS: startTls against a peer that never answers rejects with TimedOut after tlsHandshakeTimeout", async () => {
  const silent = await createServer(() => new Recorder(), "127.0.0.1", 0);
  const [reader, writer] = await openConnection("127.0.0.1", portOf(silent));
  const started = Date.now();
  await assertRejects(
    () =>
      within(
        writer.startTls({ caCerts: [ca], tlsHandshakeTimeout: 200 }),
        "startTls()",
      ),
    Deno.errors.TimedOut,
  );
  assert(Date.now() - started >= 190);
  assertEquals(writer.isClosing(), true);
  await assertRejects(() => reader.read(), Deno.errors.TimedOut);
  silent.close();
  silent.closeClients();
  await silent.waitClosed();
});

test("TLS: a connection paused by flow control still closes at once when the peer has gone", async () => {
  let paused = 0;
  class FlowEcho extends Protocol {
    #transport?: Transport;
    override connectionMade(transport: Transport): void {
      this.#transport = transport;
    }
    override dataReceived(data: Uint8Array): void {
      this.#transport!.write(data);
    }
    override pauseWriting(): void {
      paused++;
      this.#transport!.pauseReading();
    }
    override resumeWriting(): void {
      this.#transport!.resumeReading();
    }
  }
  const server = await createServer(() => new FlowEcho(), "127.0.0.1", 0, {
    tls: { cert, key },
  });
  const [reader, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca] },
  });
  // Send 16 MiB without reading: the server's echo backs up and it pauses.
  for (let i = 0; i < 16; i++) writer.write(new Uint8Array(1 << 20));
  const until = Date.now() + 5000;
  while (paused === 0) {
    assert(Date.now() < until, "the server never paused");
    await delay(10);
  }
  await delay(100); // the client's own buffer fills too
  const started = performance.now();
  server.close();
  server.closeClients(); // close_notify after the buffer
  // The client reads what there is, then goes away without answering.
  const read = () =>
    within(reader.read(65536).catch(() => EMPTY), "the client's reads");
  while ((await read()).length > 0) {
    /* drain */
  }
  writer.transport.abort();
  await within(server.waitClosed(), "waitClosed()");
  const waited = performance.now() - started;
  // It used to wait the whole shutdown timeout (30 s) with its socket open.
  assert(waited < 5000, `closed after ${waited.toFixed(0)} ms`);
});

test("TLS: a plain client that sends junk and resets is a failed handshake (a warning), nothing worse", async () => {
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert, key },
      }),
    );
    for (let i = 0; i < 20; i++) {
      const socket = nodeNet.connect(portOf(server), "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.write(new Uint8Array(1 + i * 5).fill(0x47));
      socket.resetAndDestroy();
      await new Promise((resolve) => socket.once("close", resolve));
    }
    server.close();
    await server.waitClosed();
    assertEquals(records.filter((r) => r.level === "error").map(logText), []);
  });
});

// ---- Names, handshakes in flight (issues 25 and 26) ------------------------

test("TLS: a connect checks the certificate against the host name dialled, not the address it resolved to", async () => {
  // A certificate for the name localhost only: the address 127.0.0.1 fails.
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert: nameOnlyTls.cert, key: nameOnlyTls.key },
    }),
  );
  const tls = { caCerts: [nameOnlyTls.ca] };
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "localhost",
    portOf(server),
    { tls },
  );
  transport.write(enc("by name"));
  await client.receivedAtLeast(7);
  assertEquals(dec(client.bytes()), "by name");
  transport.close();
  await client.lost.promise;
  const err = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
    { tls },
  ).then(() => null, (e) => e);
  assertEquals(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", String(err));
});

test("TLS: a connect whose signal aborts during the handshake rejects with the reason and closes its socket", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const controller = new AbortController();
  const reason = new Error("no answer");
  const pending = createConnection(
    () => new Recorder(),
    "localhost",
    listener.addr.port,
    { tls: { caCerts: [ca] }, signal: controller.signal },
  ).then(() => null, (e) => e);
  const peer = await accepted;
  try {
    const buf = new Uint8Array(65536);
    const hello = await within(peer.read(buf), "the ClientHello");
    assert(hello !== null && hello > 0);
    controller.abort(reason);
    assertStrictEquals(await within(pending, "the rejection"), reason);
    // The client's socket is closed: the silent peer reads EOF.
    let n: number | null;
    while ((n = await within(peer.read(buf), "the client's EOF")) !== null) {
      assert(n > 0);
    }
  } finally {
    peer.close();
  }
});

for (const how of ["closeClients", "abortClients"] as const) {
  test(`TLS: ${how}() also drops a client still in its handshake: waitClosed() resolves at once and the client sees its connection end`, async () => {
    const served = Promise.withResolvers<void>();
    class Served extends Echo {
      override connectionMade(transport: Transport): void {
        super.connectionMade(transport);
        served.resolve();
      }
    }
    const server = await createServer(() => new Served(), "127.0.0.1", 0, {
      tls: { cert, key },
    });
    const port = portOf(server);
    // A client that connects and never sends its ClientHello...
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      // ...and one after it: once that one is served, the silent one has
      // been accepted (in order) and is in its handshake.
      const [transport, client] = await createConnection(
        () => new Recorder(),
        "localhost",
        port,
        { tls: { caCerts: [ca] } },
      );
      await within(served.promise, "the TLS client served");
      transport.close();
      await client.lost.promise;
      server.close();
      server[how]();
      // Far under the handshake timeout (60 s).
      await within(server.waitClosed(), `waitClosed() after ${how}()`, 2000);
      const end = await within(
        silent.read(new Uint8Array(16)).catch((e) => e),
        "the silent client's end",
        2000,
      );
      assert(
        end === null || end instanceof Deno.errors.ConnectionReset,
        `${end}`,
      );
    } finally {
      silent.close();
      server.close();
      server.abortClients();
      await server.waitClosed();
    }
  });
}
