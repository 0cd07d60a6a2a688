// Copyright 2026 the @aio/net authors. MIT license.
// Connections made elsewhere (connectAcceptedSocket, createConnection({ conn }),
// openConnection({ conn }), openAcceptedConnection), keep-alive and reusePort.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
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
  dec,
  digest,
  Echo,
  enc,
  portOf,
  randomBytes,
  Recorder,
  socketPath,
  streamsEcho,
  tlsFiles,
} from "./_helpers.ts";

const { cert, key, ca } = tlsFiles;

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

Deno.test("connectAcceptedSocket serves a Deno.TcpConn from our own accept loop: EOF, flow control, a reset peer", async () => {
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

Deno.test("createConnection({ conn }) and connectAcceptedSocket run on both ends of a Unix socket", async () => {
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

Deno.test("a Deno.TlsConn made elsewhere runs on the transport, on either side", async () => {
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

Deno.test("options.tls runs TLS over a plain adopted connection, the server's side and the client's", async () => {
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

Deno.test("streams over adopted connections: openAcceptedConnection on one end, openConnection({ conn }) on the other", async () => {
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

Deno.test("a wrong object instead of a Deno.Conn is a TypeError naming it, before anything else", async () => {
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

Deno.test("keepAlive sets SO_KEEPALIVE on connects and on a server's connections; it is off by default", async () => {
  const made = Promise.withResolvers<number>();
  class Report extends Protocol {
    override connectionMade(transport: import("../mod.ts").Transport): void {
      made.resolve(
        (transport.getExtraInfo("peername") as Deno.NetAddr).port,
      );
    }
  }
  await using server = await createServer(() => new Report(), "127.0.0.1", 0, {
    keepAlive: true,
  });
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
});

Deno.test("reusePort without --unstable-net fails with NotSupported naming the flag, instead of ending the process", async () => {
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", 0, { reusePort: true }),
    Deno.errors.NotSupported,
    "--unstable-net",
  );
  // reusePort: false is fine.
  await using server = await createServer(() => new Echo(), "127.0.0.1", 0, {
    reusePort: false,
  });
  assert(portOf(server) > 0);
});
