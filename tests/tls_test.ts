// Copyright 2026 the @aio/net authors. MIT license.
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  createConnection,
  createServer,
  openConnection,
  startServer,
} from "../mod.ts";
import {
  dec,
  digest,
  Echo,
  enc,
  logText,
  portOf,
  randomBytes,
  Recorder,
  tlsFiles,
  withLogs,
} from "./_helpers.ts";

const { cert, key, ca, otherCa } = tlsFiles;

Deno.test("TLS: the protocol API echoes over TLS; canWriteEof() is false", async () => {
  await using server = await createServer(() => new Echo(), "127.0.0.1", 0, {
    tls: { cert, key },
  });
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

Deno.test("TLS: the streams API echoes over TLS, with serverHostname checked instead of the address", async () => {
  await using server = await startServer(
    async (reader, writer) => {
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
    "127.0.0.1",
    0,
    { tls: { cert, key } },
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

Deno.test("TLS: ALPN negotiates the protocol both sides offer", async () => {
  let serverSaw: unknown;
  await using server = await startServer(
    (_reader, writer) => {
      serverSaw = writer.getExtraInfo("alpnProtocol");
      writer.close();
    },
    "127.0.0.1",
    0,
    { tls: { cert, key, alpnProtocols: ["h2", "aio/1"] } },
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

Deno.test("TLS: a hostname mismatch rejects the connect; the server logs it and keeps serving", async () => {
  await withLogs(async (records) => {
    await using server = await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert, key },
    });
    await assertRejects(
      () =>
        createConnection(() => new Recorder(), "127.0.0.1", portOf(server), {
          tls: { caCerts: [ca], serverHostname: "not-localhost.example" },
        }),
      Error,
    );
    await assertRejects(
      () =>
        openConnection("localhost", portOf(server), {
          tls: { caCerts: [otherCa] },
        }),
      Error,
      "UnknownIssuer",
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
    while (!records.some((r) => logText(r).includes("TLS handshake"))) {
      await new Promise((r) => setTimeout(r, 5));
    }
  });
});

Deno.test("TLS: a plain client to a TLS server fails on its own connection only", async () => {
  await withLogs(async (records) => {
    await using server = await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert, key },
    });
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

Deno.test("TLS: every entry point rejects the same bad TLS option with the same error, before connecting or binding", async () => {
  await using server = await startServer(
    async (reader, writer) => {
      await reader.read();
      writer.close();
    },
    "127.0.0.1",
    0,
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
