// Copyright 2026 the @aio/net authors. MIT license.
// Connections made elsewhere (connectAcceptedSocket, createConnection({ conn }),
// openConnection({ conn }), openAcceptedConnection), keep-alive and reusePort.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import nodeNet from "node:net";
import {
  type BaseProtocol,
  connectAcceptedSocket,
  createConnection,
  createServer,
  openAcceptedConnection,
  openConnection,
  Protocol,
  startServer,
} from "../mod.ts";
import {
  abortOnDispose,
  assertClosed,
  dec,
  digest,
  Echo,
  enc,
  nameOnlyTls,
  needsCommand,
  portOf,
  randomBytes,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  tlsFiles,
  within,
  withLogs,
} from "./_helpers.ts";

const { cert, key, ca, otherCa } = tlsFiles;

/** A listener of our own, and the connection it accepts for `connect`. */
async function acceptOne<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  connect: () => Promise<Deno.Conn>,
): Promise<[accepted: C, client: Deno.Conn]> {
  const accepted = listener.accept();
  const client = await connect();
  return [await accepted, client];
}

/** Echoes `payload` over `transport`/`client` and checks it byte for byte. */
async function echoCheck(
  transport: { write(d: Uint8Array): void; close(): void },
  client: Recorder,
  payload: Uint8Array,
): Promise<void> {
  transport.write(payload);
  await client.receivedAtLeast(payload.length);
  assertEquals(await digest(client.bytes()), await digest(payload));
}

test("connectAcceptedSocket serves a Deno.TcpConn from our own accept loop: EOF, flow control, a reset peer", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  // Echo over an adopted server-side connection, to a client of ours.
  const [accepted, raw] = await acceptOne(
    listener,
    () => Deno.connect({ hostname: "127.0.0.1", port }),
  );
  raw.close();
  const server = new Recorder();
  const [transport] = await connectAcceptedSocket(() => server, accepted);
  assertEquals(server.events, ["connectionMade"]);
  assertEquals(transport.getExtraInfo("socket"), accepted);
  assertEquals(await server.lost.promise, null); // the raw client left
  // Flow control: a peer that reads nothing pauses our writes.
  const silent = nodeNet.connect(port, "127.0.0.1");
  silent.pause();
  const conn = await listener.accept();
  const flow = new Recorder();
  const [t2] = await connectAcceptedSocket(() => flow, conn);
  const chunk = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 64 && !flow.events.includes("pauseWriting"); i++) {
    t2.write(chunk);
    await new Promise((r) => setTimeout(r, 5));
  }
  assert(flow.events.includes("pauseWriting"), flow.events.join());
  silent.resume();
  while (!flow.events.includes("resumeWriting")) {
    await new Promise((r) => setTimeout(r, 5));
  }
  // A reset peer gives connectionLost(ConnectionReset).
  silent.resetAndDestroy();
  assertInstanceOf(await flow.lost.promise, Deno.errors.ConnectionReset);
});

test("createConnection({ conn }) and connectAcceptedSocket run on both ends of a Unix socket", async () => {
  const path = socketPath("adopt");
  using listener = Deno.listen({ transport: "unix", path });
  const [accepted, dialled] = await acceptOne(
    listener,
    () => Deno.connect({ transport: "unix", path }),
  );
  const [, echo] = await connectAcceptedSocket(() => new Echo(), accepted);
  assert(echo instanceof Echo);
  const [transport, client] = await createConnection(() => new Recorder(), {
    conn: dialled,
  });
  assertEquals(transport.canWriteEof(), true);
  await echoCheck(transport, client, randomBytes(300_000));
  transport.close();
  assertEquals(await client.lost.promise, null);
});

test("a Deno.TlsConn made elsewhere runs on the transport, on either side", async () => {
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
    alpnProtocols: ["aio/1"],
  });
  const { port } = listener.addr as Deno.NetAddr;
  const [accepted, dialled] = await acceptOne(
    listener,
    () =>
      Deno.connectTls({
        hostname: "localhost",
        port,
        caCerts: [ca],
        alpnProtocols: ["aio/1"],
      }),
  );
  const [serverSide] = await connectAcceptedSocket(() => new Echo(), accepted);
  const [transport, client] = await createConnection(() => new Recorder(), {
    conn: dialled,
  });
  // Deno's TLS tells the ALPN protocol, not the rest.
  assertEquals(transport.getExtraInfo("alpnProtocol"), "aio/1");
  assertEquals(transport.getExtraInfo("tlsVersion"), null);
  assertEquals(transport.canWriteEof(), false);
  assertEquals(serverSide.canWriteEof(), false);
  await echoCheck(transport, client, randomBytes(200_000));
  transport.close();
  await client.lost.promise;
});

test("options.tls runs TLS over a plain adopted connection, the server's side and the client's", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const [accepted, dialled] = await acceptOne(
    listener,
    () => Deno.connect({ hostname: "127.0.0.1", port }),
  );
  const serving = connectAcceptedSocket(() => new Echo(), accepted, {
    tls: { cert, key },
  });
  const [transport, client] = await createConnection(() => new Recorder(), {
    conn: dialled,
    tls: { caCerts: [ca], serverHostname: "localhost" },
  });
  const [serverSide] = await serving;
  assertEquals(serverSide.getExtraInfo("tlsVersion"), "TLSv1.3");
  assertEquals(transport.getExtraInfo("tlsVersion"), "TLSv1.3");
  await echoCheck(transport, client, randomBytes(100_000));
  transport.close();
  await client.lost.promise;
});

test("streams over adopted connections: openAcceptedConnection on one end, openConnection({ conn }) on the other", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const [accepted, dialled] = await acceptOne(
    listener,
    () => Deno.connect({ hostname: "127.0.0.1", port }),
  );
  const [sReader, sWriter] = await openAcceptedConnection(accepted, {
    limit: 1024,
  });
  const echoing = streamsEcho(sReader, sWriter);
  const [reader, writer] = await openConnection({ conn: dialled });
  writer.write(enc("line\n"));
  assertEquals(dec(await reader.readline()), "line\n");
  writer.writeEof();
  assertEquals((await reader.read()).length, 0);
  await echoing;
  writer.close();
  await writer.waitClosed();
  await sWriter.waitClosed();
});

test("a wrong object instead of a Deno.Conn is a TypeError naming it, before anything else", async () => {
  const factory = (() => new Protocol()) as () => BaseProtocol;
  for (const bad of [null, 42, "conn", {}, { read() {} }]) {
    await assertRejects(
      () => connectAcceptedSocket(factory, bad as unknown as Deno.Conn),
      TypeError,
      "conn must be a Deno.Conn",
    );
    await assertRejects(
      () => createConnection(factory, { conn: bad as unknown as Deno.Conn }),
      TypeError,
      "options.conn must be a Deno.Conn",
    );
    await assertRejects(
      () => openAcceptedConnection(bad as unknown as Deno.Conn),
      TypeError,
      "conn must be a Deno.Conn",
    );
  }
  // TLS over a connection that speaks TLS already is refused, and the
  // connection, handed over, is closed rather than leaked.
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert,
    key,
  });
  const { port } = listener.addr as Deno.NetAddr;
  const [accepted, dialled] = await acceptOne(
    listener,
    () => Deno.connectTls({ hostname: "localhost", port, caCerts: [ca] }),
  );
  await assertRejects(
    () => connectAcceptedSocket(factory, accepted, { tls: { cert, key } }),
    TypeError,
    "already speaks TLS",
  );
  assertThrows(() => accepted.close(), Deno.errors.BadResource);
  dialled.close();
});

/** The keep-alive timer `ss` shows for the socket with local port `port`. */
async function keepAliveOn(localPort: number): Promise<boolean> {
  const out = await new Deno.Command("ss", {
    args: ["-tnoH", "state", "established", `( sport = :${localPort} )`],
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert(text.trim().length > 0, `no socket on port ${localPort}`);
  return text.includes("keepalive");
}

test(
  "keepAlive sets SO_KEEPALIVE on connects and on a server's connections; it is off by default",
  {
    ignore: needsCommand(
      "ss",
      "the ss command (iproute2), to read the keep-alive timer",
    ),
  },
  async () => {
    const made = Promise.withResolvers<number>();
    class Report extends Protocol {
      override connectionMade(transport: import("../mod.ts").Transport): void {
        made.resolve(
          (transport.getExtraInfo("peername") as Deno.NetAddr).port,
        );
      }
    }
    await using server = abortOnDispose(
      await createServer(
        () => new Report(),
        "127.0.0.1",
        0,
        {
          keepAlive: true,
        },
      ),
    );
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
      { keepAlive: true },
    );
    const local = (transport.getExtraInfo("sockname") as Deno.NetAddr).port;
    assertEquals(await made.promise, local);
    assert(await keepAliveOn(local), "the client's socket");
    assert(await keepAliveOn(portOf(server)), "the server's socket");
    transport.close();
    await client.lost.promise;
    // Without the option: no timer.
    const [plain, plainClient] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    assertEquals(
      await keepAliveOn((plain.getExtraInfo("sockname") as Deno.NetAddr).port),
      false,
    );
    plain.close();
    await plainClient.lost.promise;
    server.closeClients();
    // A wrong type is refused before connecting.
    await assertRejects(
      () =>
        openConnection("127.0.0.1", portOf(server), {
          keepAlive: "yes" as unknown as boolean,
        }),
      TypeError,
      "options.keepAlive",
    );
    await assertRejects(
      () =>
        startServer(() => {}, "127.0.0.1", 0, {
          keepAlive: 1 as unknown as boolean,
        }),
      TypeError,
      "options.keepAlive",
    );
  },
);

test("reusePort without --unstable-net fails with NotSupported naming the flag, instead of ending the process", async () => {
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", 0, { reusePort: true }),
    Deno.errors.NotSupported,
    "--unstable-net",
  );
  // reusePort: false is fine.
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      reusePort: false,
    }),
  );
  assert(portOf(server) > 0);
});

// ---- What an adoption takes, it closes (issue 25) --------------------------

/**
 * A connection accepted by our own listener (to hand over) and its peer,
 * whose reads show what the adoption did to it.
 */
async function acceptedPair(
  listener: Deno.Listener,
): Promise<[accepted: Deno.Conn, peer: Deno.Conn]> {
  const { port } = listener.addr as Deno.NetAddr;
  return await acceptOne(
    listener,
    () => Deno.connect({ hostname: "127.0.0.1", port }),
  );
}

/** Resolves with what the peer's next read gives: `null` at EOF, or the error. */
function peerEnd(peer: Deno.Conn): Promise<number | null | Error> {
  return within(
    peer.read(new Uint8Array(65536)).catch((err: Error) => err),
    "the peer's read",
  );
}

/** Reads until the connection ends: EOF (`null`) or the error; the bytes are dropped. */
async function peerToEnd(peer: Deno.Conn): Promise<null | Error> {
  while (true) {
    const n = await peerEnd(peer);
    if (typeof n !== "number") return n;
  }
}

/** The ways to adopt a connection, each with `signal` and, if given, `tls`. */
const adoptions: [
  string,
  (conn: Deno.Conn, signal: AbortSignal) => Promise<unknown>,
][] = [
  [
    "connectAcceptedSocket",
    (conn, signal) =>
      connectAcceptedSocket(() => new Protocol(), conn, { signal }),
  ],
  [
    "createConnection({ conn })",
    (conn, signal) => createConnection(() => new Protocol(), { conn, signal }),
  ],
  [
    "openConnection({ conn })",
    (conn, signal) => openConnection({ conn, signal }),
  ],
  [
    "openAcceptedConnection",
    (conn, signal) => openAcceptedConnection(conn, { signal }),
  ],
  [
    "connectAcceptedSocket with options.tls",
    (conn, signal) =>
      connectAcceptedSocket(() => new Protocol(), conn, {
        signal,
        tls: { cert, key },
      }),
  ],
  [
    "createConnection({ conn, tls })",
    (conn, signal) =>
      createConnection(() => new Protocol(), {
        conn,
        signal,
        tls: { caCerts: [ca], serverHostname: "localhost" },
      }),
  ],
];

test("a connection handed over with an already-aborted signal is closed by every adoption, which rejects with the reason", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (const [name, adopt] of adoptions) {
    const [accepted, peer] = await acceptedPair(listener);
    try {
      const reason = new Error(`${name}: aborted before it began`);
      const err = await adopt(accepted, AbortSignal.abort(reason)).then(
        () => null,
        (e) => e,
      );
      assertStrictEquals(err, reason, name);
      assertClosed(accepted, name);
      assertEquals(await peerEnd(peer), null, `${name}: the peer's EOF`);
    } finally {
      peer.close();
    }
  }
});

test("a signal that aborts the TLS handshake of an adopted connection closes it, on the client's side and on the server's", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // The client's side: the peer reads the ClientHello and never answers.
  {
    const [accepted, peer] = await acceptedPair(listener);
    try {
      const controller = new AbortController();
      const reason = new Error("no answer");
      const pending = createConnection(() => new Protocol(), {
        conn: accepted,
        signal: controller.signal,
        tls: { caCerts: [ca], serverHostname: "localhost" },
      }).then(() => null, (e) => e);
      const hello = await peerEnd(peer);
      assert(typeof hello === "number" && hello > 0, `ClientHello: ${hello}`);
      controller.abort(reason);
      assertStrictEquals(await within(pending, "the rejection"), reason);
      assertEquals(await peerToEnd(peer), null);
      assertClosed(accepted, "the client's side");
    } finally {
      peer.close();
    }
  }
  // The server's side: the peer never sends its ClientHello.
  {
    const [accepted, peer] = await acceptedPair(listener);
    try {
      const controller = new AbortController();
      const reason = new Error("no hello");
      const pending = connectAcceptedSocket(() => new Protocol(), accepted, {
        signal: controller.signal,
        tls: { cert, key },
      }).then(() => null, (e) => e);
      controller.abort(reason);
      assertStrictEquals(await within(pending, "the rejection"), reason);
      assertEquals(await peerToEnd(peer), null);
      assertClosed(accepted, "the server's side");
    } finally {
      peer.close();
    }
  }
});

test("a failed TLS handshake over an adopted connection closes it: a name the certificate lacks, a peer that is not TLS", async () => {
  await withLogs(async () => {
    using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    // The client's side, against a TLS server with the test certificate
    // (localhost, 127.0.0.1, ::1): another name is refused.
    await using server = abortOnDispose(
      await createServer(() => new Echo(), "127.0.0.1", 0, {
        tls: { cert, key },
      }),
    );
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: portOf(server),
    });
    const err = await createConnection(() => new Protocol(), {
      conn,
      tls: { caCerts: [ca], serverHostname: "not-localhost.example" },
    }).then(() => null, (e) => e);
    assertEquals(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", String(err));
    assertClosed(conn, "the client's side");
    // The server's side, against a peer that sends plain text.
    const [accepted, peer] = await acceptedPair(listener);
    try {
      await peer.write(enc("GET / HTTP/1.0\r\n\r\n"));
      const failed = await connectAcceptedSocket(
        () => new Protocol(),
        accepted,
        {
          tls: { cert, key },
        },
      ).then(() => null, (e) => e);
      assertInstanceOf(failed, Error);
      assertClosed(accepted, "the server's side");
      assert((await peerToEnd(peer)) !== undefined);
    } finally {
      peer.close();
    }
  });
});

test("a Deno.TlsConn whose handshake fails is closed by the adoption, which rejects", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert, key },
    }),
  );
  // Deno's TLS client does not trust the server's CA.
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port: portOf(server),
    caCerts: [otherCa],
  });
  const err = await createConnection(() => new Protocol(), { conn }).then(
    () => null,
    (e) => e,
  );
  assertInstanceOf(err, Error);
  assertClosed(conn, "the Deno.TlsConn");
});

test("a socket option that cannot be set fails the adoption, which closes the connection", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [accepted, peer] = await acceptedPair(listener);
  try {
    const boom = new Error("setsockopt refused");
    (accepted as Deno.TcpConn).setNoDelay = () => {
      throw boom;
    };
    const err = await connectAcceptedSocket(() => new Protocol(), accepted)
      .then(() => null, (e) => e);
    assertStrictEquals(err, boom);
    assertClosed(accepted, "the adopted connection");
    assertEquals(await peerEnd(peer), null);
  } finally {
    peer.close();
  }
});

test("a protocol factory that throws during an adoption closes the connection", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [accepted, peer] = await acceptedPair(listener);
  try {
    const boom = new Error("no protocol");
    const err = await connectAcceptedSocket(() => {
      throw boom;
    }, accepted).then(() => null, (e) => e);
    assertStrictEquals(err, boom);
    assertClosed(accepted, "the adopted connection");
    const end = await peerEnd(peer);
    assert(
      end === null || end instanceof Deno.errors.ConnectionReset,
      `${end}`,
    );
  } finally {
    peer.close();
  }
});

// ---- TLS over an adopted connection checks the name meant (issue 25) ------

test("TLS over an adopted connection checks the certificate against serverHostname, not the peer's address", async () => {
  // A certificate for the name localhost only: the address 127.0.0.1 fails.
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0, {
      tls: { cert: nameOnlyTls.cert, key: nameOnlyTls.key },
    }),
  );
  const port = portOf(server);
  const dial = () => Deno.connect({ hostname: "127.0.0.1", port });
  const [transport, client] = await createConnection(() => new Recorder(), {
    conn: await dial(),
    tls: { caCerts: [nameOnlyTls.ca], serverHostname: "localhost" },
  });
  await echoCheck(transport, client, enc("by name"));
  transport.close();
  await client.lost.promise;
  const [reader, writer] = await openConnection({
    conn: await dial(),
    tls: { caCerts: [nameOnlyTls.ca], serverHostname: "localhost" },
  });
  writer.write(enc("streams by name"));
  assertEquals(dec(await reader.readexactly(15)), "streams by name");
  writer.close();
  await writer.waitClosed();
  // Without serverHostname the peer's address is checked: refused here.
  const conn = await dial();
  const err = await createConnection(() => new Protocol(), {
    conn,
    tls: { caCerts: [nameOnlyTls.ca] },
  }).then(() => null, (e) => e);
  assertEquals(err?.code, "ERR_TLS_CERT_ALTNAME_INVALID", String(err));
  assertClosed(conn, "the refused connection");
});
