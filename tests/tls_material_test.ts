// Copyright 2026 the @aio/net authors. MIT license.
// TLS material is checked at the call that receives it; startTls cannot run
// twice at once; adopting a Unix connection for TLS needs a name.
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  connectAcceptedSocket,
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
  openConnection,
  openUnixConnection,
  Protocol,
  startServer,
  startTls,
  startUnixServer,
  type TlsConnectOptions,
  type TlsListenOptions,
} from "../mod.ts";
import {
  dec,
  Echo,
  enc,
  portOf,
  Recorder,
  socketPath,
  test,
  within,
} from "./_helpers.ts";
import { peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;
const bad = <T>(value: unknown) => value as T;

/** A plain server that reads until EOF (for the client-side calls). */
async function quietServer() {
  return await startServer(
    async (reader, writer) => {
      await reader.read();
      writer.close();
    },
    "127.0.0.1",
    0,
  );
}

test("TLS material that is not PEM text is a TypeError at every entry point, saying to read the file first", async () => {
  await using plain = await quietServer();
  const port = portOf(plain);
  const serverCases: [Partial<TlsListenOptions>, string][] = [
    [{ cert: "cert.pem", key }, "cert"],
    [{ cert, key: "server.key" }, "key"],
    [{ cert, key, requestCert: true, caCerts: ["not a pem"] }, "caCerts[0]"],
    [
      { cert, key, sniCertificates: { "a.test": { cert: "a.pem", key } } },
      'sniCertificates["a.test"].cert',
    ],
  ];
  const path = socketPath("pem");
  for (const [tls, option] of serverCases) {
    const message = `options.tls.${option} must be PEM text`;
    for (
      const call of [
        () => createServer(() => new Echo(), "127.0.0.1", 0, { tls: bad(tls) }),
        () => startServer(() => {}, "127.0.0.1", 0, { tls: bad(tls) }),
        () => createUnixServer(() => new Echo(), path, { tls: bad(tls) }),
        () => startUnixServer(() => {}, path, { tls: bad(tls) }),
      ]
    ) {
      const err = await assertRejects(call, TypeError, message);
      assert(err.message.includes("Deno.readTextFileSync(path)"), err.message);
    }
    // The server's side of startTls and of an adopted connection.
    const [, writer] = await openConnection("127.0.0.1", port);
    await assertRejects(
      () => writer.startTls({ serverSide: true, ...bad<object>(tls) }),
      TypeError,
      `options.${option} must be PEM text`,
    );
    assertEquals(writer.canWriteEof(), true); // still plain
    writer.close();
    await writer.waitClosed();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await assertRejects(
      () =>
        connectAcceptedSocket(() => new Protocol(), conn, { tls: bad(tls) }),
      TypeError,
      message,
    );
    // A connection handed over is closed when its options are bad.
    assertThrows(() => conn.close(), Deno.errors.BadResource);
  }
  const clientCases: [Partial<TlsConnectOptions>, string][] = [
    [{ caCerts: ["ca.pem"] }, "caCerts[0]"],
    [{ cert: "client.pem", key: pki.client.key }, "cert"],
    [{ cert: pki.client.cert, key: "client.key" }, "key"],
  ];
  for (const [tls, option] of clientCases) {
    const message = `options.tls.${option} must be PEM text`;
    await assertRejects(
      () => createConnection(() => new Recorder(), "127.0.0.1", port, { tls }),
      TypeError,
      message,
    );
    await assertRejects(
      () => openConnection("127.0.0.1", port, { tls }),
      TypeError,
      message,
    );
    await assertRejects(
      () =>
        createUnixConnection(() => new Recorder(), path, {
          tls: { ...tls, serverHostname: "localhost" },
        }),
      TypeError,
      message,
    );
    const [, writer] = await openConnection("127.0.0.1", port);
    await assertRejects(
      () => writer.startTls(tls),
      TypeError,
      `options.${option} must be PEM text`,
    );
    writer.close();
    await writer.waitClosed();
  }
  // cert and key swapped: said so.
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert: key, key: cert },
      }),
    TypeError,
    "options.tls.cert holds a private key, not a certificate: are cert and key swapped?",
  );
  await assertRejects(
    () =>
      openConnection("127.0.0.1", port, {
        tls: { cert: pki.client.cert, key: pki.client.cert },
      }),
    TypeError,
    "options.tls.key holds a certificate, not a private key",
  );
  // A client certificate needs its key, and the other way round.
  await assertRejects(
    () => openConnection("127.0.0.1", port, { tls: { cert: pki.client.cert } }),
    TypeError,
    "options.tls.key is required with options.tls.cert",
  );
  // PEM that looks right but does not parse: at the call too.
  const broken =
    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert: broken, key },
      }),
    TypeError,
    "options.tls.cert is not a valid PEM certificate",
  );
  await assertRejects(
    () => openConnection("127.0.0.1", 1, { tls: { caCerts: [broken] } }),
    TypeError,
    "options.tls.caCerts[0] is not a valid PEM certificate",
  );
});

test("A key that does not match its certificate fails the server's call, not its first client", async () => {
  const mismatched = { cert, key: pki.client.key };
  const message = "options.tls.key does not match options.tls.cert";
  const path = socketPath("mismatch");
  for (
    const call of [
      () => createServer(() => new Echo(), "127.0.0.1", 0, { tls: mismatched }),
      () => startServer(() => {}, "127.0.0.1", 0, { tls: mismatched }),
      () => createUnixServer(() => new Echo(), path, { tls: mismatched }),
      () => startUnixServer(() => {}, path, { tls: mismatched }),
    ]
  ) {
    await assertRejects(call, TypeError, message);
  }
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: {
          cert,
          key,
          sniCertificates: {
            "alpha.test": { ...pki.alpha, key: pki.beta.key },
          },
        },
      }),
    TypeError,
    'options.tls.sniCertificates["alpha.test"].key does not match',
  );
  // A client certificate is checked before dialling: port 1 is never tried.
  await assertRejects(
    () =>
      createConnection(() => new Recorder(), "127.0.0.1", 1, {
        tls: { cert: pki.client.cert, key: pki.otherClient.key },
      }),
    TypeError,
    message,
  );
  await assertRejects(
    () =>
      createUnixConnection(() => new Recorder(), path, {
        tls: { serverHostname: "localhost", cert: pki.client.cert, key },
      }),
    TypeError,
    message,
  );
});

test("A mismatched key on the server's side of startTls rejects at the call and leaves the connection plain and usable", async () => {
  const outcome = Promise.withResolvers<string>();
  await using server = await startServer(
    async (reader, writer) => {
      await reader.readline();
      writer.write(enc("OK\n"));
      try {
        await writer.startTls({ cert, key: pki.client.key });
        outcome.resolve("upgraded");
      } catch (err) {
        outcome.resolve(`${(err as Error).name}: ${(err as Error).message}`);
      }
      writer.write(enc("still plain\n"));
      await writer.drain();
      writer.close();
    },
    "127.0.0.1",
    0,
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.write(enc("STARTTLS\n"));
  assertEquals(dec(await reader.readline()), "OK\n");
  const result = await outcome.promise;
  assert(result.startsWith("TypeError: options.key does not match"), result);
  assertEquals(dec(await reader.readline()), "still plain\n");
  writer.close();
  await writer.waitClosed();
});

test("connectAcceptedSocket with a mismatched key rejects and closes the connection it took", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const dialled = await Deno.connect({ hostname: "127.0.0.1", port });
  const accepted = await listener.accept();
  await assertRejects(
    () =>
      connectAcceptedSocket(() => new Protocol(), accepted, {
        tls: { cert, key: pki.client.key },
      }),
    TypeError,
    "options.tls.key does not match",
  );
  assertThrows(() => accepted.close(), Deno.errors.BadResource); // closed already
  assertEquals(await dialled.read(new Uint8Array(8)), null); // the peer sees EOF
  dialled.close();
});

test("server.setTlsOptions refuses bad material and keeps the old options; a plain server has none to set", async () => {
  await using server = await startServer((_r, w) => w.close(), "127.0.0.1", 0, {
    tls: { cert, key },
  });
  assertThrows(
    () => server.setTlsOptions({ cert: "server.pem", key }),
    TypeError,
    "options.cert must be PEM text",
  );
  assertThrows(
    () => server.setTlsOptions({ cert, key: pki.client.key }),
    TypeError,
    "options.key does not match options.cert",
  );
  assertThrows(
    () => server.setTlsOptions(bad({ cert, key, tsl: true })),
    TypeError,
    'Unknown option "tsl"',
  );
  const [, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca] },
  });
  assertEquals(peerCn(writer), "localhost");
  writer.close();
  await writer.waitClosed();
  await using plain = await quietServer();
  assertThrows(
    () => plain.setTlsOptions({ cert, key }),
    Error,
    "the server does not speak TLS",
  );
});

test("A second startTls while one is under way is refused at once; the first completes and the connection works", async () => {
  await using server = await startServer(
    async (reader, writer) => {
      await reader.readline();
      writer.write(enc("OK\n"));
      await writer.startTls({ cert, key });
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
    "127.0.0.1",
    0,
  );
  // The streams API.
  {
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    writer.write(enc("STARTTLS\n"));
    assertEquals(dec(await reader.readline()), "OK\n");
    const first = writer.startTls({
      caCerts: [ca],
      serverHostname: "localhost",
    });
    await within(
      assertRejects(
        () => writer.startTls({ caCerts: [ca], serverHostname: "localhost" }),
        Error,
        "Cannot startTls(): another startTls() on this connection is still under way",
      ),
      "the second startTls() refused",
      1000,
    );
    await within(first, "the first startTls()");
    writer.write(enc("over TLS\n"));
    assertEquals(dec(await reader.readline()), "over TLS\n");
    writer.close();
    await writer.waitClosed();
  }
  // The protocol API: startTls(transport, ...) twice on the same transport.
  {
    const [plain, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    plain.write(enc("STARTTLS\n"));
    await client.receivedAtLeast(3);
    const options = { caCerts: [ca], serverHostname: "localhost" };
    const first = startTls(plain, client, options);
    await within(
      assertRejects(
        () => startTls(plain, client, options),
        Error,
        "still under way",
      ),
      "the second startTls() refused",
      1000,
    );
    const tls = await within(first, "the first startTls()");
    tls.write(enc("again\n"));
    await client.receivedAtLeast(3 + 6);
    assertEquals(dec(client.bytes()), "OK\nagain\n");
    tls.close();
    await client.lost.promise;
  }
});

test("TLS over an adopted Unix connection needs serverHostname: a clear TypeError, and the connection is closed", async () => {
  const path = socketPath("adopt-tls");
  using listener = Deno.listen({ transport: "unix", path });
  const dialled = await Deno.connect({ transport: "unix", path });
  const accepted = await listener.accept();
  await assertRejects(
    () =>
      createConnection(() => new Recorder(), {
        conn: dialled,
        tls: { caCerts: [ca] },
      }),
    TypeError,
    "options.tls.serverHostname is required: a Unix socket has no host name",
  );
  assertThrows(() => dialled.close(), Deno.errors.BadResource); // closed already
  assertEquals(await accepted.read(new Uint8Array(8)), null);
  accepted.close();
  // The same before connecting, for createUnixConnection and openUnixConnection.
  await assertRejects(
    () =>
      createUnixConnection(() => new Recorder(), path, {
        tls: bad({ caCerts: [ca] }),
      }),
    TypeError,
    "options.tls.serverHostname is required",
  );
  await assertRejects(
    () => openUnixConnection(path, { tls: bad({}) }),
    TypeError,
    "options.tls.serverHostname is required",
  );
});
