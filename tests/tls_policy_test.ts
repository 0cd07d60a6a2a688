// Copyright 2026 the @aio/net authors. MIT license.
// TLS policy and rotation: minVersion, insecureSkipVerify, key logging
// (refused), and Server.setTlsOptions.
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createConnection,
  createServer,
  createUnixServer,
  openConnection,
  openUnixConnection,
  Protocol,
  startServer,
  type StreamWriter,
  type TlsConnectOptions,
  type TlsListenOptions,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  enc,
  logText,
  pathOf,
  portOf,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  withLogs,
} from "./_helpers.ts";
import { type PeerCertificate, peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;

/** The `O` of the peer certificate's subject ("rotated" for server2.pem). */
function peerOrg(writer: StreamWriter): string | undefined {
  return (writer.getExtraInfo("peerCertificate") as PeerCertificate).subject.O;
}

test("minVersion TLSv1.3 on both sides still connects (over TLS 1.3); its value is checked", async () => {
  await using server = await startServer(streamsEcho, "127.0.0.1", 0, {
    tls: { cert, key, minVersion: "TLSv1.3" },
  });
  const [reader, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca], minVersion: "TLSv1.3" },
  });
  assertEquals(writer.getExtraInfo("tlsVersion"), "TLSv1.3");
  writer.write(enc("v1.3\n"));
  assertEquals(dec(await reader.readline()), "v1.3\n");
  writer.close();
  await writer.waitClosed();
  for (const version of ["TLSv1.1", "TLSv1", "SSLv3", "tls1.2"]) {
    await assertRejects(
      () =>
        createServer(() => new Protocol(), "127.0.0.1", 0, {
          tls: {
            cert,
            key,
            minVersion: version as "TLSv1.2",
          },
        }),
      RangeError,
      'options.tls.minVersion must be "TLSv1.2" or "TLSv1.3"',
    );
  }
  await assertRejects(
    () =>
      openConnection("127.0.0.1", 1, {
        tls: { minVersion: 1.2 as unknown as "TLSv1.2" },
      }),
    TypeError,
    "options.tls.minVersion must be a string",
  );
});

test("insecureSkipVerify accepts a certificate of an unknown CA for another name, and warns once", async () => {
  await withLogs(async (records) => {
    await using server = await startServer(streamsEcho, "127.0.0.1", 0, {
      tls: pki.alpha, // alpha.test, which the client does not ask for
    });
    // Without it: refused.
    await assertRejects(() =>
      openConnection("localhost", portOf(server), { tls: {} })
    );
    for (let i = 0; i < 2; i++) {
      const [reader, writer] = await openConnection(
        "localhost",
        portOf(server),
        { tls: { insecureSkipVerify: true } },
      );
      // The certificate is still there to look at (unverified).
      assertEquals(peerCn(writer), "alpha.test");
      writer.write(enc("unchecked\n"));
      assertEquals(dec(await reader.readline()), "unchecked\n");
      writer.close();
      await writer.waitClosed();
    }
    const warnings = records.filter((r) =>
      r.level === "warning" && logText(r).includes("insecureSkipVerify")
    );
    // Once: the first connection that skips verification warns (no other
    // test in this file did before), the second does not.
    assertEquals(warnings.length, 1);
    assert(logText(warnings[0]!).includes("localhost"), logText(warnings[0]!));
  });
});

test("insecureSkipVerify is checked: a boolean, the client's only, and not with caCerts (which it would ignore)", async () => {
  await assertRejects(
    () =>
      openConnection("127.0.0.1", 1, {
        tls: { insecureSkipVerify: "yes" as unknown as boolean },
      }),
    TypeError,
    "options.tls.insecureSkipVerify must be a boolean",
  );
  await assertRejects(
    () =>
      openConnection("127.0.0.1", 1, {
        tls: { insecureSkipVerify: true, caCerts: [ca] },
      }),
    RangeError,
    "options.tls.caCerts means nothing with options.tls.insecureSkipVerify",
  );
  await assertRejects(
    () =>
      createServer(() => new Protocol(), "127.0.0.1", 0, {
        tls: { cert, key, insecureSkipVerify: true } as TlsListenOptions,
      }),
    TypeError,
    'Unknown option "insecureSkipVerify" in options.tls',
  );
});

test("Key logging is refused with the reason, wherever it is asked for", async () => {
  for (const name of ["keyLog", "keylog_filename", "keylog"]) {
    const tls = { [name]: "/tmp/keys.log" };
    await assertRejects(
      () =>
        createConnection(() => new Recorder(), "127.0.0.1", 1, {
          tls: tls as TlsConnectOptions,
        }),
      TypeError,
      "TLS key logging (SSLKEYLOGFILE) is not available",
    );
    await assertRejects(
      () =>
        createServer(() => new Protocol(), "127.0.0.1", 0, {
          tls: { cert, key, ...tls } as TlsListenOptions,
        }),
      TypeError,
      "gives out no session secrets",
    );
  }
});

test("setTlsOptions: new handshakes get the new certificate; an open connection keeps its own and keeps working", async () => {
  const writers: StreamWriter[] = [];
  await using server = await startServer(
    (reader, writer) => {
      writers.push(writer);
      return streamsEcho(reader, writer);
    },
    "127.0.0.1",
    0,
    { tls: { cert, key } },
  );
  const tls = { caCerts: [ca] };
  const [oldReader, oldWriter] = await openConnection(
    "localhost",
    portOf(server),
    { tls },
  );
  assertEquals(peerOrg(oldWriter), undefined);
  server.setTlsOptions(pki.server2);
  const [newReader, newWriter] = await openConnection(
    "localhost",
    portOf(server),
    { tls },
  );
  assertEquals(peerOrg(newWriter), "rotated");
  // The old connection is untouched: same certificate, still echoing.
  assertEquals(peerOrg(oldWriter), undefined);
  for (
    const [reader, writer] of [[oldReader, oldWriter], [
      newReader,
      newWriter,
    ]] as const
  ) {
    writer.write(enc("still here\n"));
    assertEquals(dec(await reader.readline()), "still here\n");
    writer.close();
    await writer.waitClosed();
  }
  // And back.
  server.setTlsOptions({ cert, key });
  const [, again] = await openConnection("localhost", portOf(server), { tls });
  assertEquals(peerOrg(again), undefined);
  again.close();
  await again.waitClosed();
});

test("setTlsOptions rotates the CAs for client certificates, and can turn mutual TLS on", async () => {
  await withLogs(async () => {
    await using server = abortOnDispose(
      await startServer(
        (_reader, writer) => {
          writer.write(enc(`hello ${peerCn(writer)}\n`));
          writer.close();
        },
        "127.0.0.1",
        0,
        { tls: { cert, key } },
      ),
    );
    const hello = async (client: { cert: string; key: string } | undefined) => {
      try {
        const [reader, writer] = await openConnection(
          "localhost",
          portOf(server),
          { tls: { caCerts: [ca], ...client } },
        );
        const line = dec(await reader.readline().catch(() => new Uint8Array()));
        writer.close();
        await writer.waitClosed().catch(() => {});
        return line;
      } catch (err) {
        return `rejected: ${(err as Error).message}`;
      }
    };
    assertEquals(await hello(undefined), "hello null\n");
    server.setTlsOptions({ cert, key, caCerts: [ca], requestCert: true });
    assertEquals(await hello(pki.client), "hello aio-net test client\n");
    assert(!(await hello(undefined)).startsWith("hello"));
    assert(!(await hello(pki.otherClient)).startsWith("hello"));
    server.setTlsOptions({
      cert,
      key,
      caCerts: [pki.otherCa],
      requestCert: true,
    });
    assertEquals(await hello(pki.otherClient), "hello aio-net other client\n");
    assert(!(await hello(pki.client)).startsWith("hello"));
  });
});

test("setTlsOptions on a Unix TLS server, and with SNI certificates", async () => {
  await using server = await createUnixServer(
    () => new Protocol(),
    socketPath(),
    { tls: { cert, key } },
  );
  server.setTlsOptions({
    ...pki.server2,
    sniCertificates: { "beta.test": pki.beta },
  });
  for (
    const [name, cn] of [["localhost", "localhost"], ["beta.test", "beta.test"]]
  ) {
    const [, writer] = await openUnixConnection(pathOf(server), {
      tls: { serverHostname: name!, caCerts: [ca] },
    });
    assertEquals(peerCn(writer), cn);
    writer.close();
    await writer.waitClosed();
  }
  server.closeClients();
});
