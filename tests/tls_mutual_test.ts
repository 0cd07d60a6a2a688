// Copyright 2026 the @aio/net authors. MIT license.
// Mutual TLS: a server asks for client certificates (requestCert), checks
// them against its caCerts, and shows the verified one to its protocol.
import { assert, assertEquals, assertRejects } from "@std/assert";
import { X509Certificate } from "node:crypto";
import {
  connectAcceptedSocket,
  createConnection,
  createServer,
  openConnection,
  Protocol,
  type Server,
  startServer,
  type TlsConnectOptions,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  enc,
  logText,
  portOf,
  Recorder,
  test,
  within,
  withLogs,
} from "./_helpers.ts";
import { type PeerCertificate, peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;

/** Tells each client the CN of the certificate it presented, then closes. */
class Greeter extends Protocol {
  static seen: (PeerCertificate | null)[] = [];
  override connectionMade(transport: Transport): void {
    const peer = transport.getExtraInfo("peerCertificate") as
      | PeerCertificate
      | null;
    Greeter.seen.push(peer);
    transport.write(enc(`hello ${peer?.subject.CN ?? "stranger"}\n`));
    transport.close();
  }
}

/** A TLS server with `Greeter`, asking for client certificates as told. */
async function greeter(
  requestCert: true | "optional",
): Promise<Server> {
  Greeter.seen = [];
  return abortOnDispose(
    await createServer(() => new Greeter(), "127.0.0.1", 0, {
      tls: { cert, key, caCerts: [ca], requestCert },
    }),
  );
}

/**
 * What a client hears from `server`: its greeting, or the error its
 * connection ended with (over TLS 1.3 a refused client certificate is seen
 * after the client's handshake is done: as a lost connection).
 */
async function hear(
  server: Server,
  tls: TlsConnectOptions,
): Promise<string> {
  let transport: Transport;
  let client: Recorder;
  try {
    [transport, client] = await createConnection(
      () => new Recorder(),
      "localhost",
      portOf(server),
      { tls: { caCerts: [ca], ...tls } },
    );
  } catch (err) {
    return `rejected: ${(err as Error).message}`;
  }
  const exc = await within(client.lost.promise, "the connection's end");
  transport.close();
  return client.received > 0 ? dec(client.bytes()) : `lost: ${exc}`;
}

test("mTLS required: a client with a certificate from the CA is served, and the server's protocol sees it verified", async () => {
  await using server = await greeter(true);
  assertEquals(await hear(server, pki.client), "hello aio-net test client\n");
  const peer = Greeter.seen[0]!;
  assertEquals(peer.subject.CN, "aio-net test client");
  assertEquals(peer.subject.O, "aio-net");
  assertEquals(
    peer.subjectaltname,
    "DNS:client.test, email:client@example.test",
  );
  assertEquals(
    peer.fingerprint256,
    new X509Certificate(pki.client.cert).fingerprint256,
  );
});

test("mTLS required: a client without a certificate, or with one from another CA, is refused; its protocol is never made", async () => {
  await withLogs(async (records) => {
    await using server = await greeter(true);
    const without = await hear(server, {});
    assert(!without.startsWith("hello"), without);
    const untrusted = await hear(server, pki.otherClient);
    assert(!untrusted.startsWith("hello"), untrusted);
    assertEquals(Greeter.seen, []);
    // Both refusals are logged as failed handshakes, with the reason.
    await within(
      (async () => {
        while (
          records.filter((r) => logText(r).includes("TLS handshake failed"))
            .length < 2
        ) await new Promise((r) => setTimeout(r, 5));
      })(),
      "two logged refusals",
    );
    const text = records.map(logText).join("\n");
    assert(text.includes("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), text);
    assert(
      /PEER_DID_NOT_RETURN_A_CERTIFICATE|sent no certificate/.test(text),
      text,
    );
    // The server still serves the right client.
    assertEquals(await hear(server, pki.client), "hello aio-net test client\n");
  });
});

test('mTLS "optional": a client without a certificate is served (peerCertificate null); a bad one is still refused', async () => {
  await withLogs(async () => {
    await using server = await greeter("optional");
    assertEquals(await hear(server, {}), "hello stranger\n");
    assertEquals(Greeter.seen, [null]);
    assertEquals(await hear(server, pki.client), "hello aio-net test client\n");
    const untrusted = await hear(server, pki.otherClient);
    assert(!untrusted.startsWith("hello"), untrusted);
    assertEquals(Greeter.seen.length, 2);
  });
});

test("mTLS over startTls: the client presents its certificate, the server's side asks for one", async () => {
  const seen = Promise.withResolvers<string | null>();
  await using server = await startServer(
    async (reader, writer) => {
      await reader.readline();
      writer.write(enc("OK\n"));
      await writer.startTls({ cert, key, caCerts: [ca], requestCert: true });
      seen.resolve(peerCn(writer));
      writer.write(await reader.readline());
      await writer.drain();
      writer.close();
    },
    "127.0.0.1",
    0,
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.write(enc("STARTTLS\n"));
  assertEquals(dec(await reader.readline()), "OK\n");
  await writer.startTls({
    serverHostname: "localhost",
    caCerts: [ca],
    ...pki.client,
  });
  writer.write(enc("mutual\n"));
  assertEquals(dec(await reader.readline()), "mutual\n");
  assertEquals(await seen.promise, "aio-net test client");
  assertEquals(peerCn(writer), "localhost");
  writer.close();
  await writer.waitClosed();
});

test("mTLS over adopted connections: createConnection({ conn }) presents a certificate, connectAcceptedSocket requires one", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const dialled = await Deno.connect({ hostname: "127.0.0.1", port });
  const accepted = await listener.accept();
  const [[serverSide, serverProtocol], [clientSide, client]] = await Promise
    .all([
      connectAcceptedSocket(() => new Recorder(), accepted, {
        tls: { cert, key, caCerts: [ca], requestCert: true },
      }),
      createConnection(() => new Recorder(), {
        conn: dialled,
        tls: { serverHostname: "localhost", caCerts: [ca], ...pki.client },
      }),
    ]);
  assertEquals(peerCn(serverSide), "aio-net test client");
  assertEquals(peerCn(clientSide), "localhost");
  clientSide.write(enc("adopted"));
  await serverProtocol.receivedAtLeast(7);
  serverSide.close();
  clientSide.close();
  await Promise.all([serverProtocol.lost.promise, client.lost.promise]);
});

test('mTLS options are checked: requestCert needs caCerts, caCerts on a server needs requestCert, requestCert takes true or "optional"', async () => {
  await assertRejects(
    () =>
      createServer(() => new Protocol(), "127.0.0.1", 0, {
        tls: { cert, key, requestCert: true },
      }),
    TypeError,
    "options.tls.requestCert needs options.tls.caCerts",
  );
  await assertRejects(
    () =>
      createServer(() => new Protocol(), "127.0.0.1", 0, {
        tls: { cert, key, caCerts: [ca] },
      }),
    RangeError,
    "options.tls.caCerts is only meaningful with options.tls.requestCert",
  );
  await assertRejects(
    () =>
      startServer(() => {}, "127.0.0.1", 0, {
        tls: {
          cert,
          key,
          caCerts: [ca],
          requestCert: "required" as unknown as true,
        },
      }),
    TypeError,
    'options.tls.requestCert must be a boolean or "optional"',
  );
  // requestCert is the server's: a client that gives it is told so.
  await assertRejects(
    () =>
      openConnection("127.0.0.1", 1, {
        tls: { requestCert: true } as unknown as TlsConnectOptions,
      }),
    TypeError,
    'Unknown option "requestCert" in options.tls',
  );
});
