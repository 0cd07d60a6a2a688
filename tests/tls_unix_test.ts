// Copyright 2026 the @aio/net authors. MIT license.
// TLS over Unix sockets: the same options, checks and timeouts as over TCP.
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createUnixConnection,
  createUnixServer,
  openUnixConnection,
  startUnixServer,
  type StreamWriter,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  digest,
  Echo,
  enc,
  logText,
  pathOf,
  randomBytes,
  Recorder,
  socketPath,
  test,
  within,
  withLogs,
} from "./_helpers.ts";
import { peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;

test("TLS over Unix: the protocol API echoes 300 KB; canWriteEof() is false; the addresses are the socket's", async () => {
  await using server = await createUnixServer(() => new Echo(), socketPath(), {
    tls: { cert, key },
  });
  const [transport, client] = await createUnixConnection(
    () => new Recorder(),
    pathOf(server),
    { tls: { serverHostname: "localhost", caCerts: [ca] } },
  );
  assertEquals(transport.canWriteEof(), false);
  assertEquals(transport.getExtraInfo("tlsVersion"), "TLSv1.3");
  assertEquals(peerCn(transport), "localhost");
  assertEquals(
    (transport.getExtraInfo("peername") as Deno.UnixAddr).transport,
    "unix",
  );
  const payload = randomBytes(300_000);
  transport.write(payload);
  await client.receivedAtLeast(payload.length);
  assertEquals(await digest(client.bytes()), await digest(payload));
  transport.close();
  assertEquals(await client.lost.promise, null);
});

test("TLS over Unix: the streams API with ALPN and a client certificate", async () => {
  const seen = Promise.withResolvers<[unknown, string | null]>();
  await using server = await startUnixServer(
    async (reader, writer) => {
      seen.resolve([writer.getExtraInfo("alpnProtocol"), peerCn(writer)]);
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
    socketPath(),
    {
      tls: {
        cert,
        key,
        alpnProtocols: ["aio/1"],
        caCerts: [ca],
        requestCert: true,
      },
    },
  );
  const [reader, writer] = await openUnixConnection(pathOf(server), {
    limit: 1024,
    tls: {
      serverHostname: "localhost",
      caCerts: [ca],
      alpnProtocols: ["aio/1"],
      ...pki.client,
    },
  });
  assertEquals(writer.getExtraInfo("alpnProtocol"), "aio/1");
  writer.write(enc("over a path, encrypted\n"));
  assertEquals(dec(await reader.readline()), "over a path, encrypted\n");
  assertEquals(await seen.promise, ["aio/1", "aio-net test client"]);
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
});

test("TLS over Unix: the certificate is checked against serverHostname, and a wrong name or CA rejects", async () => {
  await using server = abortOnDispose(
    await createUnixServer(() => new Echo(), socketPath(), {
      tls: { cert, key },
    }),
  );
  const mismatch = await assertRejects(
    () =>
      createUnixConnection(() => new Recorder(), pathOf(server), {
        tls: { serverHostname: "not-localhost.example", caCerts: [ca] },
      }),
    Error,
  );
  assertEquals(
    (mismatch as { code?: string }).code,
    "ERR_TLS_CERT_ALTNAME_INVALID",
  );
  await assertRejects(
    () =>
      openUnixConnection(pathOf(server), {
        tls: { serverHostname: "localhost", caCerts: [pki.otherCa] },
      }),
    Error,
    "unable to verify",
  );
});

test("TLS over Unix is never answered in plaintext: a plain client to a TLS server, and a TLS client to a plain one, both fail", async () => {
  await withLogs(async (records) => {
    await using tlsServer = await createUnixServer(
      () => new Echo(),
      socketPath(),
      { tls: { cert, key } },
    );
    const [plain, client] = await createUnixConnection(
      () => new Recorder(),
      pathOf(tlsServer),
    );
    plain.write(enc("hello in plaintext\n"));
    await within(client.lost.promise, "the plain client dropped");
    assert(!dec(client.bytes()).includes("hello"), "echoed in plaintext");
    assert(
      records.some((r) => logText(r).includes("TLS handshake failed")),
      "the failed handshake is logged",
    );
    await using plainServer = await createUnixServer(
      () => new Echo(),
      socketPath(),
    );
    await assertRejects(() =>
      createUnixConnection(() => new Recorder(), pathOf(plainServer), {
        tls: { serverHostname: "localhost", caCerts: [ca] },
        tlsHandshakeTimeout: 2000,
      })
    );
    plainServer.closeClients();
  });
});

test("TLS over Unix: tlsHandshakeTimeout drops a silent client on the server, and fails a connect to a silent server", async () => {
  await withLogs(async (records) => {
    await using server = await createUnixServer(
      () => new Echo(),
      socketPath(),
      { tls: { cert, key }, tlsHandshakeTimeout: 200 },
    );
    const started = Date.now();
    const silent = await Deno.connect({
      transport: "unix",
      path: pathOf(server),
    });
    assertEquals(
      await within(silent.read(new Uint8Array(8)), "the silent client cut"),
      null,
    );
    silent.close();
    assert(Date.now() - started >= 190, "cut before the timeout");
    assert(
      records.some((r) =>
        logText(r).includes("TLS handshake") && logText(r).includes("TimedOut")
      ),
    );
  });
  // A listener that never answers the ClientHello.
  const path = socketPath("silent");
  using listener = Deno.listen({ transport: "unix", path });
  const accepted = listener.accept();
  const started = Date.now();
  await assertRejects(
    () =>
      createUnixConnection(() => new Recorder(), path, {
        tls: { serverHostname: "localhost", caCerts: [ca] },
        tlsHandshakeTimeout: 200,
      }),
    Deno.errors.TimedOut,
    "200 ms",
  );
  assert(Date.now() - started >= 190);
  const conn = await accepted;
  const buf = new Uint8Array(65536);
  while (await conn.read(buf) !== null) { /* the ClientHello, then EOF */ }
  conn.close();
});

test("TLS over Unix: the TLS timeouts are checked, and mean nothing without tls", async () => {
  await assertRejects(
    () =>
      createUnixServer(() => new Echo(), socketPath(), {
        tls: { cert, key },
        tlsShutdownTimeout: 0,
      }),
    RangeError,
    "options.tlsShutdownTimeout",
  );
  await assertRejects(
    () =>
      createUnixServer(() => new Echo(), socketPath(), {
        tlsHandshakeTimeout: 5,
      }),
    RangeError,
    "only meaningful with options.tls",
  );
  await assertRejects(
    () => openUnixConnection(socketPath(), { tlsShutdownTimeout: 5 }),
    RangeError,
    "only meaningful with options.tls",
  );
});

test("TLS over Unix: a peer that never answers close_notify is cut off after tlsShutdownTimeout", async () => {
  // The server's side stops reading once connected: it never sees our
  // close_notify, so it never answers.
  const stalled = Promise.withResolvers<StreamWriter>();
  await using server = await startUnixServer(
    async (_reader, writer) => {
      writer.transport.pauseReading();
      stalled.resolve(writer);
      await writer.waitClosed().catch(() => {});
    },
    socketPath(),
    { tls: { cert, key } },
  );
  const [, writer] = await openUnixConnection(pathOf(server), {
    tls: { serverHostname: "localhost", caCerts: [ca] },
    tlsShutdownTimeout: 200,
  });
  const peer = await stalled.promise;
  const started = Date.now();
  writer.close();
  await assertRejects(
    () => writer.waitClosed(),
    Deno.errors.TimedOut,
    "200 ms",
  );
  const elapsed = Date.now() - started;
  assert(elapsed >= 190 && elapsed < 5000, `cut off after ${elapsed} ms`);
  peer.transport.abort(); // it would wait for its own shutdown timeout
  await peer.waitClosed();
});
