// Copyright 2026 the @aio/net authors. MIT license.
// STARTTLS: upgrading a plain connection in place, with both APIs, against
// our own server, Deno's own TLS stack and CPython's asyncio.
import { assert, assertEquals, assertRejects } from "@std/assert";
import {
  BufferedProtocol,
  createConnection,
  createServer,
  openConnection,
  openUnixConnection,
  Protocol,
  startServer,
  startTls,
  startUnixServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  concatBytes,
  dec,
  delay,
  digest,
  enc,
  logText,
  nameOnlyTls,
  needsCommand,
  pathOf,
  portOf,
  randomBytes,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  tlsFiles,
  tlsFixture,
  within,
  withLogs,
} from "./_helpers.ts";

const { cert, key, ca, otherCa } = tlsFiles;

/**
 * A server's side of STARTTLS: reads "STARTTLS\r\n", answers "OK\r\n",
 * upgrades, then echoes until EOF. Records what happened.
 */
function starttlsServer(
  log: string[],
  upgrade: Parameters<StreamWriter["startTls"]>[0] = { cert, key },
) {
  return async (reader: StreamReader, writer: StreamWriter) => {
    const before = dec(await reader.readline());
    log.push(`plain:${before}`);
    if (before !== "STARTTLS\r\n") return writer.close();
    writer.write(enc("OK\r\n"));
    try {
      await writer.startTls(upgrade);
    } catch (err) {
      log.push(`failed:${(err as Error).name}`);
      return;
    }
    log.push(`tls:${writer.getExtraInfo("alpnProtocol")}`);
    await streamsEcho(reader, writer);
  };
}

/** The client's side: plaintext before, STARTTLS, then the reader/writer. */
async function starttlsClient(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  writer.write(enc("STARTTLS\r\n"));
  assertEquals(dec(await reader.readline()), "OK\r\n");
}

/**
 * A `Recorder` client of a STARTTLS server on `port`: sends STARTTLS, waits
 * for the 4-byte go-ahead (kept in `client`), upgrades with `startTls`.
 */
async function upgradedRecorder(
  port: number,
): Promise<{ transport: Transport; client: Recorder }> {
  const [plain, client] = await createConnection(
    () => new Recorder(),
    "localhost",
    port,
  );
  plain.write(enc("STARTTLS\r\n"));
  await client.receivedAtLeast(4);
  const transport = await startTls(plain, client, { caCerts: [ca] });
  return { transport, client };
}

test("startTls: streams upgrade mid-stream on both sides; bytes before and after arrive intact", async () => {
  const log: string[] = [];
  await using server = abortOnDispose(
    await startServer(
      starttlsServer(log, { cert, key, alpnProtocols: ["imap"] }),
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("localhost", portOf(server));
  const plain = writer.transport;
  assertEquals(writer.canWriteEof(), true);
  await starttlsClient(reader, writer);
  await writer.startTls({ caCerts: [ca], alpnProtocols: ["imap"] });
  assert(writer.transport !== plain, "the writer kept the plain transport");
  assertEquals(writer.canWriteEof(), false);
  assertEquals(writer.getExtraInfo("alpnProtocol"), "imap");
  assertEquals(
    (writer.getExtraInfo("peername") as Deno.NetAddr).port,
    portOf(server),
  );
  // Large enough to cross the watermarks and many TLS records both ways.
  const payload = randomBytes(2_000_000);
  const echoed = (async () => {
    const parts: Uint8Array[] = [];
    let n = 0;
    while (n < payload.length) {
      const part = await reader.read(65536);
      assert(part.length > 0, "EOF before the whole echo");
      parts.push(part);
      n += part.length;
    }
    return parts;
  })();
  for (let off = 0; off < payload.length; off += 100_000) {
    writer.write(payload.subarray(off, off + 100_000));
    await writer.drain();
  }
  const got = concatBytes(await echoed);
  assertEquals(await digest(got), await digest(payload));
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
  await server.close();
  await server.waitClosed();
  assertEquals(log, ["plain:STARTTLS\r\n", "tls:imap"]);
});

test("startTls: the protocol API upgrades a BufferedProtocol client; callbacks are not repeated", async () => {
  const log: string[] = [];
  await using server = abortOnDispose(
    await startServer(starttlsServer(log), "127.0.0.1", 0),
  );

  class Client extends BufferedProtocol {
    readonly events: string[] = [];
    readonly buf = new Uint8Array(1000); // smaller than a TLS record
    readonly got: Uint8Array[] = [];
    readonly ok = Promise.withResolvers<void>();
    readonly lost = Promise.withResolvers<Error | null>();
    want = 0;
    readonly done = Promise.withResolvers<void>();
    override connectionMade(): void {
      this.events.push("connectionMade");
    }
    override getBuffer(): Uint8Array {
      return this.buf;
    }
    override bufferUpdated(n: number): void {
      this.got.push(this.buf.slice(0, n));
      const total = this.got.reduce((s, c) => s + c.length, 0);
      if (dec(this.got[0]!) === "OK\r\n" && total === 4) {
        this.got.length = 0;
        this.ok.resolve();
      } else if (total >= this.want && this.want > 0) this.done.resolve();
    }
    override connectionLost(exc: Error | null): void {
      this.events.push("connectionLost");
      this.lost.resolve(exc);
    }
  }
  const [plain, client] = await createConnection(
    () => new Client(),
    "127.0.0.1",
    portOf(server),
  );
  plain.write(enc("STARTTLS\r\n"));
  await client.ok.promise;
  const transport: Transport = await startTls(plain, client, {
    caCerts: [ca],
  });
  assertEquals(transport.getProtocol(), client);
  assertEquals(transport.canWriteEof(), false);
  const payload = randomBytes(50_000);
  client.want = payload.length;
  transport.write(payload);
  await client.done.promise;
  assertEquals(await digest(concatBytes(client.got)), await digest(payload));
  transport.close();
  assertEquals(await client.lost.promise, null);
  assertEquals(client.events, ["connectionMade", "connectionLost"]);
});

test("startTls: our server's side against Deno's own TLS client (Deno.startTls on a quiet connection)", async () => {
  const log: string[] = [];
  await using server = abortOnDispose(
    await startServer(starttlsServer(log), "127.0.0.1", 0),
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: portOf(server),
  });
  await conn.write(enc("STARTTLS\r\n"));
  const buf = new Uint8Array(4);
  let n = 0;
  while (n < 4) n += (await conn.read(buf.subarray(n)))!;
  assertEquals(dec(buf), "OK\r\n");
  const tls = await Deno.startTls(conn, {
    hostname: "localhost",
    caCerts: [ca],
  });
  await tls.write(enc("through rustls\n"));
  const back = new Uint8Array(64);
  const m = await tls.read(back);
  assertEquals(dec(back.subarray(0, m!)), "through rustls\n");
  tls.close();
  await server.close();
  await server.waitClosed();
  assertEquals(log, ["plain:STARTTLS\r\n", "tls:null"]);
});

// CPython's asyncio as the server: plain line, then start_tls, then echo.
const PYTHON_SERVER = `
import asyncio, ssl, sys
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    done = asyncio.Event()
    async def handle(reader, writer):
        line = await reader.readline()
        writer.write(b"OK " + line)
        await writer.drain()
        await writer.start_tls(ctx)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()
        done.set()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 20)
asyncio.run(main())
`;

/** Why the tests against CPython are skipped here, or false. */
const NEEDS_PYTHON = needsCommand(
  "python3",
  "python3 (CPython's asyncio is the peer)",
);

/** Runs a CPython script that prints its port, and `fn` against it. */
async function withPython(
  script: string,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const child = new Deno.Command("python3", {
    args: ["-c", script, tlsFixture("server.pem"), tlsFixture("server.key")],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  try {
    const { value } = await lines.read();
    await fn(Number.parseInt(value!, 10));
    assertEquals((await child.status).code, 0);
  } finally {
    // Cancelling the decoder's reader cancels the child's stdout under it.
    await lines.cancel().catch(() => {});
    try {
      child.kill();
    } catch { /* exited */ }
    await child.status;
  }
}

test("startTls: the client's side against CPython asyncio's start_tls", {
  ignore: NEEDS_PYTHON,
}, async () => {
  await withPython(PYTHON_SERVER, async (port) => {
    const [reader, writer] = await openConnection("localhost", port);
    writer.write(enc("STARTTLS\r\n"));
    assertEquals(dec(await reader.readline()), "OK STARTTLS\r\n");
    await writer.startTls({ caCerts: [ca] });
    const payload = randomBytes(300_000);
    writer.write(payload);
    const back = await within(reader.readexactly(payload.length), "the echo");
    assertEquals(await digest(back), await digest(payload));
    writer.close();
    await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
  });
});

test("startTls: a hostname mismatch or an unknown CA rejects; the reader fails; the server keeps serving", async () => {
  await withLogs(async (records) => {
    const log: string[] = [];
    await using server = abortOnDispose(
      await startServer(
        starttlsServer(log),
        "127.0.0.1",
        0,
      ),
    );
    const bad: [string, Parameters<StreamWriter["startTls"]>[0]][] = [
      ["ERR_TLS_CERT_ALTNAME_INVALID", {
        caCerts: [ca],
        serverHostname: "not-localhost.example",
      }],
      ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", { caCerts: [otherCa] }],
    ];
    for (const [code, options] of bad) {
      const [reader, writer] = await openConnection(
        "localhost",
        portOf(server),
      );
      await starttlsClient(reader, writer);
      const err = await assertRejects(() => writer.startTls(options));
      assertEquals((err as { code?: string }).code, code);
      assertEquals(writer.isClosing(), true);
      await assertRejects(() => reader.read(), Error);
      await assertRejects(() => writer.waitClosed());
    }
    // Still serving, and the upgrade works for a client that trusts it.
    const [reader, writer] = await openConnection("localhost", portOf(server));
    await starttlsClient(reader, writer);
    await writer.startTls({ caCerts: [ca] });
    writer.write(enc("still here\n"));
    assertEquals(dec(await reader.readline()), "still here\n");
    writer.close();
    await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
    await server.close();
    await server.waitClosed();
    assertEquals(log.filter((l) => l.startsWith("failed")).length, 2);
    assert(
      records.some((r) => logText(r).includes("TLS handshake failed")),
      records.map(logText).join("\n"),
    );
  });
});

test("startTls: unread plaintext in the reader refuses the upgrade and leaves the connection plain", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        await reader.readline();
        writer.write(enc("OK\r\nINJECTED\r\n"));
        writer.write(enc(dec(await reader.readline()).toUpperCase()));
        await writer.drain();
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.write(enc("STARTTLS\r\n"));
  assertEquals(dec(await reader.readline()), "OK\r\n");
  // One write is one read on loopback: the injected line is in the reader.
  assert(
    Deno.inspect(reader).startsWith("StreamReader { 10 bytes,"),
    Deno.inspect(reader),
  );
  await assertRejects(
    () => writer.startTls({ caCerts: [ca] }),
    Error,
    "unread bytes",
  );
  // Nothing was lost and the connection is still plain.
  assertEquals(dec(await reader.readline()), "INJECTED\r\n");
  writer.write(enc("plain\n"));
  assertEquals(dec(await reader.readline()), "PLAIN\n");
  assertEquals(writer.canWriteEof(), true);
  writer.close();
  await writer.waitClosed();
});

test("startTls: bad arguments and wrong states get clear errors", async () => {
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
  const [, writer] = await openConnection("127.0.0.1", portOf(server));
  await assertRejects(
    // @ts-expect-error: a wrong type on purpose
    () => writer.startTls({ caCerts: ca }),
    TypeError,
    "options.caCerts",
  );
  await assertRejects(
    () => writer.startTls({ serverSide: true }),
    TypeError,
    "options.cert",
  );
  await assertRejects(
    // @ts-expect-error: a wrong type on purpose
    () => startTls(null, new Protocol(), {}),
    TypeError,
    "transport",
  );
  await assertRejects(
    // @ts-expect-error: a wrong type on purpose
    () => writer.startTls("localhost"),
    TypeError,
    "options",
  );
  // Still usable after the refusals.
  assertEquals(writer.canWriteEof(), true);
  writer.close();
  await writer.waitClosed();
  await assertRejects(
    () => writer.startTls({ caCerts: [ca] }),
    Error,
    "closing",
  );

  // A connection that speaks TLS already.
  await using tlsServer = abortOnDispose(
    await createServer(
      () => new Protocol(),
      "127.0.0.1",
      0,
      { tls: { cert, key } },
    ),
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "localhost",
    portOf(tlsServer),
    { tls: { caCerts: [ca] } },
  );
  await assertRejects(
    () => startTls(transport, client, { caCerts: [ca] }),
    Error,
    "already speaks TLS",
  );
  transport.close();
  await client.lost.promise;
});

test("startTls: a signal aborts a handshake the peer never answers; a peer that closes mid-handshake rejects", async () => {
  // The server reads the ClientHello and says nothing.
  const silent = await createServer(() => new Recorder(), "127.0.0.1", 0);
  const [reader, writer] = await openConnection("127.0.0.1", portOf(silent));
  const reason = new Error("gave up");
  const ac = new AbortController();
  setTimeout(() => ac.abort(reason), 50);
  const err = await assertRejects(() =>
    writer.startTls({ caCerts: [ca], signal: ac.signal })
  );
  assertEquals(err, reason);
  assertEquals(writer.isClosing(), true);
  await assertRejects(() => reader.read(), Error);
  silent.close();
  await silent.waitClosed();

  // The server closes as soon as the ClientHello arrives.
  const closer = await createServer(
    () => {
      const p = new Recorder();
      p.dataReceived = () => p.transport!.close();
      return p;
    },
    "127.0.0.1",
    0,
  );
  const [, writer2] = await openConnection("127.0.0.1", portOf(closer));
  await assertRejects(() => writer2.startTls({ caCerts: [ca] }), Error);
  assertEquals(writer2.isClosing(), true);
  closer.close();
  await closer.waitClosed();
});

test("startTls: over a Unix socket, with serverHostname given (there is no host name to default to)", async () => {
  const log: string[] = [];
  await using server = abortOnDispose(
    await startUnixServer(
      starttlsServer(log),
      socketPath("starttls"),
    ),
  );
  const [reader, writer] = await openUnixConnection(pathOf(server));
  await starttlsClient(reader, writer);
  await assertRejects(
    () => writer.startTls({ caCerts: [ca] }),
    TypeError,
    "serverHostname",
  );
  await writer.startTls({ caCerts: [ca], serverHostname: "localhost" });
  writer.write(enc("over unix\n"));
  assertEquals(dec(await reader.readline()), "over unix\n");
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) });
  await server.close();
  await server.waitClosed();
  assertEquals(log, ["plain:STARTTLS\r\n", "tls:null"]);
});

test("startTls: flow control still holds after the upgrade (pauseWriting/resumeWriting reach the protocol)", async () => {
  // A server that upgrades and then reads nothing for a while.
  const release = Promise.withResolvers<void>();
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        await reader.readline();
        writer.write(enc("OK\r\n"));
        await writer.startTls({ cert, key });
        await release.promise;
        while ((await reader.read(65536)).length > 0) { /* discard */ }
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const { transport, client } = await upgradedRecorder(portOf(server));
  const chunk = new Uint8Array(64 * 1024);
  let sent = 0;
  try {
    // Write until the protocol is told to pause and stays paused: the peer
    // reads nothing, so the buffers fill.
    while (sent < 64 * 1024 * 1024) {
      transport.write(chunk);
      sent += chunk.length;
      await delay(0);
      if (client.events.at(-1) === "pauseWriting") break;
    }
    assertEquals(client.events.at(-1), "pauseWriting", `sent ${sent}`);
    assert(transport.getWriteBufferSize() > 0);
    await delay(50);
    assertEquals(client.events.at(-1), "pauseWriting");
    // The peer reads again: the buffer drains and the protocol resumes.
    release.resolve();
    const until = Date.now() + 5000;
    while (client.events.at(-1) !== "resumeWriting") {
      assert(Date.now() < until, "no resumeWriting 5 s after the peer read");
      await delay(5);
    }
  } catch (err) {
    transport.abort();
    throw err;
  } finally {
    release.resolve();
  }
  transport.close();
  await client.lost.promise;
});

test("startTls: a protocol callback that throws after the upgrade is logged and closes only its connection", async () => {
  await withLogs(async (records) => {
    const log: string[] = [];
    await using server = abortOnDispose(
      await startServer(starttlsServer(log), "127.0.0.1", 0),
    );
    const boom = new Error("boom in dataReceived");
    const connect = async (throws: boolean) => {
      const { transport, client } = await upgradedRecorder(portOf(server));
      if (throws) {
        client.dataReceived = () => {
          throw boom;
        };
      }
      return { transport, client };
    };
    const bad = await connect(true);
    const good = await connect(false);
    bad.transport.write(enc("echo me\n"));
    assertEquals(await bad.client.lost.promise, boom);
    assert(
      records.some((r) =>
        r.level === "error" && logText(r).includes("boom in dataReceived")
      ),
      records.map(logText).join("\n"),
    );
    // The other upgraded connection is unaffected.
    good.transport.write(enc("still fine\n"));
    await good.client.receivedAtLeast(4 + 11);
    assertEquals(dec(good.client.bytes()), "OK\r\nstill fine\n");
    good.transport.close();
    assertEquals(await good.client.lost.promise, null);
  });
});

// CPython again, resetting the connection (SO_LINGER 0) after the upgrade.
const PYTHON_RESETTER = `
import asyncio, socket, ssl, struct, sys
async def main():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    done = asyncio.Event()
    async def handle(reader, writer):
        await reader.readline()
        writer.write(b"OK\\r\\n")
        await writer.drain()
        await writer.start_tls(ctx)
        await reader.readline()
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        done.set()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.wait_for(done.wait(), 20)
    await asyncio.sleep(0.1)
asyncio.run(main())
`;

test(
  "startTls: a peer that resets after the upgrade gives connectionLost(err), not an unhandled rejection",
  {
    ignore: NEEDS_PYTHON,
  },
  async () => {
    await withPython(PYTHON_RESETTER, async (port) => {
      const { transport, client } = await upgradedRecorder(port);
      transport.write(enc("reset me\n"));
      const exc = await client.lost.promise;
      assert(
        exc instanceof Deno.errors.ConnectionReset,
        `connectionLost(${exc})`,
      );
      assertEquals(
        client.events.filter((e) => e === "connectionLost").length,
        1,
      );
      assertEquals(transport.isClosing(), true);
    });
  },
);

// ---- The name checked is the name meant (issue 25) -------------------------

test("startTls checks the certificate against the host name the connection was opened with, not the peer's address", async () => {
  // A certificate for the name localhost only: the address 127.0.0.1 fails.
  const log: string[] = [];
  await using server = abortOnDispose(
    await startServer(
      starttlsServer(log, { cert: nameOnlyTls.cert, key: nameOnlyTls.key }),
      "127.0.0.1",
      0,
    ),
  );
  const port = portOf(server);
  const caCerts = [nameOnlyTls.ca];
  // The protocol API, dialled by name.
  const [plain, client] = await createConnection(
    () => new Recorder(),
    "localhost",
    port,
  );
  plain.write(enc("STARTTLS\r\n"));
  await client.receivedAtLeast(4);
  const transport = await startTls(plain, client, { caCerts });
  transport.write(enc("by name\n"));
  await client.receivedAtLeast(4 + 8);
  assertEquals(dec(client.bytes()), "OK\r\nby name\n");
  transport.close();
  await client.lost.promise;
  // The streams API, dialled by name.
  const [reader, writer] = await openConnection("localhost", port);
  await starttlsClient(reader, writer);
  await writer.startTls({ caCerts });
  writer.write(enc("streams by name\n"));
  assertEquals(dec(await reader.readline()), "streams by name\n");
  writer.close();
  await writer.waitClosed();
  // Dialled by address, the address is what is checked: refused here.
  const [reader2, writer2] = await openConnection("127.0.0.1", port);
  await starttlsClient(reader2, writer2);
  const err = await writer2.startTls({ caCerts }).then(() => null, (e) => e);
  assertEquals(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", String(err));
  assertEquals(writer2.isClosing(), true);
});

test("startTls over a connection made elsewhere checks serverHostname when given, else the peer's address", async () => {
  const log: string[] = [];
  await using server = abortOnDispose(
    await startServer(
      starttlsServer(log, { cert: nameOnlyTls.cert, key: nameOnlyTls.key }),
      "127.0.0.1",
      0,
    ),
  );
  const dial = () =>
    Deno.connect({ hostname: "127.0.0.1", port: portOf(server) });
  const caCerts = [nameOnlyTls.ca];
  const [reader, writer] = await openConnection({ conn: await dial() });
  await starttlsClient(reader, writer);
  await writer.startTls({ caCerts, serverHostname: "localhost" });
  writer.write(enc("named\n"));
  assertEquals(dec(await reader.readline()), "named\n");
  writer.close();
  await writer.waitClosed();
  const [reader2, writer2] = await openConnection({ conn: await dial() });
  await starttlsClient(reader2, writer2);
  const err = await writer2.startTls({ caCerts }).then(() => null, (e) => e);
  assertEquals(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", String(err));
});
