// Copyright 2026 the @aio/net authors. MIT license.
// Several certificates chosen by the name a client asks for (SNI): a map,
// and a callback that may wait.
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  createServer,
  openConnection,
  Protocol,
  type Server,
  startServer,
  type TlsCertifiedKey,
  type TlsListenOptions,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  enc,
  logText,
  portOf,
  test,
  within,
  withLogs,
} from "./_helpers.ts";
import { peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;

/** A streams TLS server that answers each client with the name it asked for. */
async function sniServer(tls: TlsListenOptions): Promise<Server> {
  return abortOnDispose(
    await startServer(
      async (reader, writer) => {
        const name = writer.getExtraInfo("serverHostname");
        const alpn = writer.getExtraInfo("alpnProtocol");
        writer.write(enc(`${name} ${alpn}\n`));
        await reader.read();
        writer.close();
      },
      "127.0.0.1",
      0,
      { tls },
    ),
  );
}

/**
 * Connects asking for `name` and returns the CN of the certificate the
 * server chose and what the server says it saw.
 */
async function ask(
  server: Server,
  name: string,
  extra: { alpnProtocols?: string[]; insecureSkipVerify?: boolean } = {},
): Promise<[string | null, string]> {
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    tls: {
      serverHostname: name,
      ...(extra.insecureSkipVerify ? {} : { caCerts: [ca] }),
      ...extra,
    },
  });
  const heard = dec(await reader.readline()).trim();
  const cn = peerCn(writer);
  writer.close();
  await writer.waitClosed();
  return [cn, heard];
}

const sniCertificates = { "alpha.test": pki.alpha, "beta.test": pki.beta };

test("SNI: each name gets its own certificate; another name, or an address, gets the default", async () => {
  await using server = await sniServer({ cert, key, sniCertificates });
  assertEquals(await ask(server, "alpha.test"), [
    "alpha.test",
    "alpha.test null",
  ]);
  assertEquals(await ask(server, "beta.test"), ["beta.test", "beta.test null"]);
  assertEquals(await ask(server, "localhost"), ["localhost", "localhost null"]);
  // An IP address sends no SNI: the default certificate, no name.
  assertEquals(await ask(server, "127.0.0.1"), ["localhost", "null null"]);
  // Names are case-insensitive.
  assertEquals(await ask(server, "ALPHA.test"), [
    "alpha.test",
    "alpha.test null",
  ]);
});

test('SNI: getExtraInfo("serverHostname") tells the name on a server without SNI certificates too', async () => {
  await using server = await sniServer({ cert, key });
  assertEquals(await ask(server, "localhost"), ["localhost", "localhost null"]);
  assertEquals(await ask(server, "127.0.0.1"), ["localhost", "null null"]);
});

test("SNI: ALPN is negotiated as usual with the certificate chosen by name", async () => {
  await using server = await sniServer({
    cert,
    key,
    sniCertificates,
    alpnProtocols: ["h2", "aio/1"],
  });
  assertEquals(
    await ask(server, "beta.test", { alpnProtocols: ["aio/1"] }),
    ["beta.test", "beta.test aio/1"],
  );
  assertEquals(
    await ask(server, "alpha.test", { alpnProtocols: ["h2", "aio/1"] }),
    ["alpha.test", "alpha.test h2"],
  );
});

test("SNI: a wildcard entry matches one label", async () => {
  await using server = await sniServer({
    cert,
    key,
    sniCertificates: { "*.wild.test": pki.beta },
  });
  // The client skips verification: beta's certificate names beta.test only.
  const skip = { insecureSkipVerify: true };
  await withLogs(async () => {
    assertEquals((await ask(server, "a.wild.test", skip))[0], "beta.test");
    assertEquals((await ask(server, "a.b.wild.test", skip))[0], "localhost");
    assertEquals((await ask(server, "wild.test", skip))[0], "localhost");
  });
});

test("SNI: sniCallback picks the certificate at run time, and may wait; null means the default", async () => {
  const calls: string[] = [];
  await using server = await sniServer({
    cert,
    key,
    sniCertificates: { "beta.test": pki.beta }, // the map is asked first
    sniCallback: async (name) => {
      calls.push(name);
      await new Promise((r) => setTimeout(r, 20));
      return name === "alpha.test" ? pki.alpha : null;
    },
    alpnProtocols: ["aio/1"],
  });
  assertEquals(
    await ask(server, "alpha.test", { alpnProtocols: ["aio/1"] }),
    ["alpha.test", "alpha.test aio/1"],
  );
  assertEquals(await ask(server, "beta.test"), ["beta.test", "beta.test null"]);
  assertEquals(await ask(server, "localhost"), ["localhost", "localhost null"]);
  assertEquals(calls, ["alpha.test", "localhost"]);
  // A synchronous callback works the same.
  await using sync = await sniServer({
    cert,
    key,
    sniCallback: (name) => name === "beta.test" ? pki.beta : undefined,
  });
  assertEquals(await ask(sync, "beta.test"), ["beta.test", "beta.test null"]);
  assertEquals(await ask(sync, "localhost"), ["localhost", "localhost null"]);
});

test("SNI: a callback that throws, rejects, returns bad material or never answers fails only that handshake, logged", async () => {
  await withLogs(async (records) => {
    const mismatched: TlsCertifiedKey = {
      cert: pki.alpha.cert,
      key: pki.beta.key,
    };
    await using server = await sniServer({
      cert,
      key,
      sniCallback: (
        name,
      ): Promise<TlsCertifiedKey | null> | TlsCertifiedKey | null => {
        switch (name) {
          case "throws.test":
            throw new Error("no certificate for throws.test");
          case "rejects.test":
            return Promise.reject(new Error("lookup failed"));
          case "bad.test":
            return mismatched;
          case "notpem.test":
            return { cert: "alpha.pem", key: "alpha.key" };
          case "never.test":
            return new Promise<never>(() => {});
          default:
            return null;
        }
      },
    });
    const port = portOf(server);
    for (
      const name of ["throws.test", "rejects.test", "bad.test", "notpem.test"]
    ) {
      await assertRejects(
        () =>
          openConnection("127.0.0.1", port, {
            tls: { serverHostname: name, caCerts: [ca] },
            tlsHandshakeTimeout: 5000,
          }),
        Error,
        undefined,
        name,
      );
    }
    // The server keeps serving.
    assertEquals(await ask(server, "localhost"), [
      "localhost",
      "localhost null",
    ]);
    const text = () => records.map(logText).join("\n");
    const expected = [
      "no certificate for throws.test",
      "lookup failed",
      "the sniCallback() result.key does not match",
      "the sniCallback() result.cert must be PEM text",
    ];
    await within(
      (async () => {
        while (!expected.every((e) => text().includes(e))) {
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
      "the logged failures",
    ).catch((err) => {
      throw new Error(`${err.message}; the log:\n${text()}`);
    });
  });
  // A callback that never answers is cut by the handshake timeout.
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await createServer(() => new Protocol(), "127.0.0.1", 0, {
        tls: { cert, key, sniCallback: () => new Promise<never>(() => {}) },
        tlsHandshakeTimeout: 200,
      }),
    );
    const started = Date.now();
    await assertRejects(() =>
      openConnection("127.0.0.1", portOf(server), {
        tls: { serverHostname: "never.test", caCerts: [ca] },
      })
    );
    assert(Date.now() - started >= 190);
    assert(records.some((r) => logText(r).includes("TimedOut")));
  });
});

test("SNI with mutual TLS: the CAs for client certificates hold for every name", async () => {
  await using server = await sniServer({
    cert,
    key,
    sniCertificates,
    sniCallback: (name) => name === "late.test" ? pki.beta : null,
    caCerts: [ca],
    requestCert: true,
  });
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    tls: { serverHostname: "alpha.test", caCerts: [ca], ...pki.client },
  });
  assertEquals(dec(await reader.readline()), "alpha.test null\n");
  assertEquals(peerCn(writer), "alpha.test");
  writer.close();
  await writer.waitClosed();
  // A client certificate from another CA is refused for a name from the
  // callback too: the client never hears the server's protocol.
  await withLogs(async () => {
    const heard = await openConnection("127.0.0.1", portOf(server), {
      tls: {
        serverHostname: "late.test",
        insecureSkipVerify: true,
        ...pki.otherClient,
      },
    }).then(
      async ([reader, writer]) => {
        const line = await reader.readline().catch((err) => enc(`${err}`));
        writer.close();
        return dec(line);
      },
      (err) => `rejected: ${err}`,
    );
    assert(!heard.includes("late.test"), heard);
  });
});

test("SNI on the server's side of startTls", async () => {
  await using server = await startServer(
    async (reader, writer) => {
      await reader.readline();
      writer.write(enc("OK\n"));
      await writer.startTls({ cert, key, sniCertificates });
      writer.write(enc(`${writer.getExtraInfo("serverHostname")}\n`));
      await writer.drain();
      writer.close();
    },
    "127.0.0.1",
    0,
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.write(enc("STARTTLS\n"));
  assertEquals(dec(await reader.readline()), "OK\n");
  await writer.startTls({ serverHostname: "beta.test", caCerts: [ca] });
  assertEquals(peerCn(writer), "beta.test");
  assertEquals(dec(await reader.readline()), "beta.test\n");
  writer.close();
  await writer.waitClosed();
});

test("SNI options are checked: names, pairs and the callback's type", async () => {
  const tryServer = (tls: unknown) =>
    createServer(() => new Protocol(), "127.0.0.1", 0, {
      tls: tls as TlsListenOptions,
    });
  await assertRejects(
    () => tryServer({ cert, key, sniCertificates: ["alpha.test"] }),
    TypeError,
    "options.tls.sniCertificates must be an object of server names",
  );
  await assertRejects(
    () =>
      tryServer({
        cert,
        key,
        sniCertificates: { "alpha.test": pki.alpha.cert },
      }),
    TypeError,
    'options.tls.sniCertificates["alpha.test"] must be an object { cert, key }',
  );
  await assertRejects(
    () => tryServer({ cert, key, sniCertificates: { "a.*.test": pki.alpha } }),
    RangeError,
    "a server name must be a host name",
  );
  await assertRejects(
    () => tryServer({ cert, key, sniCallback: "alpha" }),
    TypeError,
    "options.tls.sniCallback must be a function",
  );
});

test("SNI: a ClientHello that arrives a few bytes at a time is still read whole", async () => {
  await using server = await sniServer({ cert, key, sniCertificates });
  // A proxy that passes the client's first bytes on 7 at a time.
  using proxy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const piping = (async () => {
    const client = await proxy.accept();
    const upstream = await Deno.connect({
      hostname: "127.0.0.1",
      port: portOf(server),
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const down = upstream.readable.pipeTo(client.writable).catch(() => {});
    const buf = new Uint8Array(65536);
    let sent = 0;
    try {
      for (let n; (n = await client.read(buf)) !== null;) {
        for (let off = 0; off < n; off += sent < 2048 ? 7 : n) {
          const end = sent < 2048 ? Math.min(n, off + 7) : n;
          await upstream.write(buf.slice(off, end));
          sent += end - off;
          if (sent < 2048) await new Promise((r) => setTimeout(r, 1));
        }
      }
      await upstream.closeWrite();
    } catch { /* the client or the server went */ }
    await down;
  })();
  const [reader, writer] = await openConnection(
    "127.0.0.1",
    (proxy.addr as Deno.NetAddr).port,
    { tls: { serverHostname: "alpha.test", caCerts: [ca] } },
  );
  assertEquals(dec(await reader.readline()), "alpha.test null\n");
  assertEquals(peerCn(writer), "alpha.test");
  writer.close();
  await writer.waitClosed();
  await within(piping, "the proxy done");
});
