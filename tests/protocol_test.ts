// Copyright 2026 the @aio/net authors. MIT license.
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
  BufferedProtocol,
  createConnection,
  createServer,
  Protocol,
  type Server,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  delay,
  digest,
  Echo,
  enc,
  HAS_IPV6,
  logText,
  NEEDS_IPV6,
  nets,
  passingHold,
  portOf,
  randomBytes,
  Recorder,
  test,
  tlsFiles,
  within,
  withLogs,
} from "./_helpers.ts";

/** Waits for the server-side protocol of the next connection. */
function recorderServer(): {
  factory: () => Recorder;
  next: () => Promise<Recorder>;
  all: Recorder[];
} {
  const all: Recorder[] = [];
  const waiting: PromiseWithResolvers<Recorder>[] = [];
  return {
    all,
    factory: () => {
      const r = new Recorder();
      all.push(r);
      waiting.shift()?.resolve(r);
      return r;
    },
    next: () => {
      const w = Promise.withResolvers<Recorder>();
      waiting.push(w);
      return w.promise;
    },
  };
}

for (const net of nets) {
  test(`${net.name}: 50 concurrent clients each get their 128 KiB echoed byte for byte`, async () => {
    await using server = abortOnDispose(
      await net.server(() => new Echo()),
    );
    await Promise.all(Array.from({ length: 50 }, async () => {
      const payload = randomBytes(128 * 1024);
      const [transport, client] = await net.connect(
        server,
        () => new Recorder(),
      );
      // Several writes of odd sizes, so TCP splits and merges them its own way.
      for (let off = 0; off < payload.length; off += 10_007) {
        transport.write(payload.subarray(off, off + 10_007));
      }
      await client.receivedAtLeast(payload.length);
      assertEquals(await digest(client.bytes()), await digest(payload));
      transport.close();
      assertEquals(await client.lost.promise, null);
    }));
  });

  test(`${net.name}: callbacks come in order, each as often as the state machine says`, async () => {
    const srv = recorderServer();
    await using server = abortOnDispose(await net.server(srv.factory));
    const serverSide = srv.next();
    const [transport, client] = await net.connect(server, () => new Recorder());
    const remote = await serverSide;
    transport.write(enc("hello"));
    await remote.receivedAtLeast(5);
    transport.writeEof();
    await remote.lost.promise; // server: eofReceived returns false, so it closes
    await client.lost.promise;
    assertEquals(remote.events, [
      "connectionMade",
      "dataReceived",
      "eofReceived",
      "connectionLost",
    ]);
    assertEquals(client.events, [
      "connectionMade",
      "eofReceived",
      "connectionLost",
    ]);
    assertEquals(remote.lostWith, null);
    assertEquals(client.lostWith, null);
  });

  test(`${net.name}: half-close from the client: the server answers after the client's EOF`, async () => {
    class Summer extends Protocol {
      #t?: Transport;
      #n = 0;
      override connectionMade(t: Transport): void {
        this.#t = t;
      }
      override dataReceived(d: Uint8Array): void {
        this.#n += d.length;
      }
      override eofReceived(): boolean {
        this.#t!.write(enc(`got ${this.#n}`));
        this.#t!.close();
        return true;
      }
    }
    await using server = abortOnDispose(
      await net.server(() => new Summer()),
    );
    const [transport, client] = await net.connect(server, () => new Recorder());
    assertEquals(transport.canWriteEof(), true);
    transport.write(new Uint8Array(1000));
    transport.writeEof();
    assertThrows(
      () => transport.write(enc("x")),
      Error,
      "writeEof() was already called",
    );
    assertThrows(
      () => transport.writelines([enc("x")]),
      Error,
      "writeEof() was already called",
    );
    // The EOF goes once the 1000 bytes are written: the answer comes.
    await within(client.eof.promise, "the server's answer after our EOF");
    assertEquals(dec(client.bytes()), "got 1000");
    assertEquals(await client.lost.promise, null);
  });

  test(`${net.name}: half-close from the server: the client keeps writing after the server's EOF`, async () => {
    const srv = recorderServer();
    await using server = abortOnDispose(
      await net.server(srv.factory),
    );
    const serverSide = srv.next();
    const client = new Recorder();
    client.keepOpenOnEof = true;
    const [transport] = await net.connect(server, () => client);
    const remote = await serverSide;
    remote.transport!.write(enc("bye"));
    remote.transport!.writeEof();
    await within(client.eof.promise, "the server's EOF after its write");
    assertEquals(dec(client.bytes()), "bye");
    assertEquals(transport.isClosing(), false);
    assertEquals(transport.isReading(), false); // nothing more can come
    transport.write(enc("still here"));
    await remote.receivedAtLeast(10);
    assertEquals(dec(remote.bytes()), "still here");
    transport.close();
    assertEquals(await remote.lost.promise, null);
    assertEquals(await client.lost.promise, null);
  });

  test(`${net.name}: a 16 MiB write to a slow reader pauses and resumes the writer and stays bounded`, async () => {
    const total = 16 * 1024 * 1024;
    const payload = randomBytes(total);
    let maxBuffered = 0;
    class Producer extends Protocol {
      #t?: Transport;
      #off = 0;
      #paused = false;
      pauses = 0;
      resumes = 0;
      readonly done = Promise.withResolvers<void>();
      override connectionMade(t: Transport): void {
        this.#t = t;
        this.#pump();
      }
      override pauseWriting(): void {
        this.pauses++;
        this.#paused = true;
      }
      override resumeWriting(): void {
        this.resumes++;
        this.#paused = false;
        this.#pump();
      }
      #pump(): void {
        while (!this.#paused && this.#off < total) {
          this.#t!.write(payload.subarray(this.#off, this.#off + 32 * 1024));
          this.#off += 32 * 1024;
          maxBuffered = Math.max(maxBuffered, this.#t!.getWriteBufferSize());
        }
        if (this.#off >= total) this.done.resolve();
      }
    }
    let producer: Producer | undefined;
    await using server = abortOnDispose(
      await net.server(() => (producer = new Producer())),
    );
    const [transport, client] = await net.connect(server, () => new Recorder());
    // Read slowly: pause after every 1 MiB for a few milliseconds.
    let next = 1024 * 1024;
    while (client.received < total) {
      await within(
        client.receivedAtLeast(Math.min(next, total)),
        `${Math.min(next, total)} bytes`,
      );
      transport.pauseReading();
      assertEquals(transport.isReading(), false);
      await delay(5);
      transport.resumeReading();
      next += 1024 * 1024;
    }
    await producer!.done.promise;
    assertEquals(await digest(client.bytes()), await digest(payload));
    assert(producer!.pauses > 0, "pauseWriting was never called");
    assertEquals(producer!.pauses, producer!.resumes);
    // Bounded: the producer never queued more than the high watermark plus one write.
    assert(
      maxBuffered <= 64 * 1024 + 32 * 1024,
      `buffered up to ${maxBuffered} bytes`,
    );
    transport.close();
    await client.lost.promise;
  });

  test(`${net.name}: pauseReading holds data, even from a read in flight, and resumeReading delivers it in order`, async () => {
    const srv = recorderServer();
    await using server = abortOnDispose(await net.server(srv.factory));
    const serverSide = srv.next();
    const [transport, client] = await net.connect(server, () => new Recorder());
    const remote = await serverSide;
    // The client's read is in flight now; pausing must hold what it returns.
    transport.pauseReading();
    transport.pauseReading(); // idempotent
    remote.transport!.write(enc("one,"));
    remote.transport!.write(enc("two,"));
    remote.transport!.writeEof();
    await delay(50); // a negative check: nothing may arrive while paused
    assertEquals(client.received, 0);
    assertEquals(client.events, ["connectionMade"]);
    transport.resumeReading();
    await within(client.eof.promise, "the data and EOF after resumeReading()");
    assertEquals(dec(client.bytes()), "one,two,");
    await client.lost.promise;
    assertEquals(client.events, [
      "connectionMade",
      "dataReceived",
      "eofReceived",
      "connectionLost",
    ]);
    remote.transport!.close();
    await remote.lost.promise;
  });

  test(`${net.name}: close() flushes the buffer before connectionLost(null)`, async () => {
    const payload = randomBytes(4 * 1024 * 1024);
    const serverLost = Promise.withResolvers<Error | null>();
    class WriteAndClose extends Protocol {
      override connectionMade(t: Transport): void {
        t.write(payload);
        t.close();
        assertEquals(t.isClosing(), true);
        t.close(); // idempotent
      }
      override connectionLost(exc: Error | null): void {
        serverLost.resolve(exc);
      }
    }
    await using server = abortOnDispose(
      await net.server(() => new WriteAndClose()),
    );
    const [, client] = await net.connect(server, () => new Recorder());
    await client.lost.promise;
    assertEquals(await digest(client.bytes()), await digest(payload));
    assertEquals(client.events.at(-2), "eofReceived");
    assertEquals(await serverLost.promise, null);
  });

  test(`${net.name}: abort() drops the buffer and calls connectionLost(null) once`, async () => {
    const payload = new Uint8Array(64 * 1024 * 1024);
    const srv = recorderServer();
    await using server = abortOnDispose(
      await net.server(srv.factory),
    );
    const serverSide = srv.next();
    const client = new Recorder();
    const [transport] = await net.connect(server, () => client);
    transport.pauseReading(); // the client does not read, so the server's buffer fills
    const remote = await serverSide;
    remote.transport!.write(payload);
    assert(remote.transport!.getWriteBufferSize() > 0);
    remote.transport!.abort();
    remote.transport!.abort(); // idempotent
    assertEquals(remote.transport!.getWriteBufferSize(), 0);
    assertEquals(remote.transport!.isClosing(), true);
    assertEquals(await remote.lost.promise, null);
    transport.resumeReading();
    const exc = await client.lost.promise;
    assert(
      client.received < payload.length,
      `received all ${client.received} bytes despite abort()`,
    );
    assert(
      exc === null || exc instanceof Deno.errors.ConnectionReset,
      `unexpected ${exc}`,
    );
    assertEquals(remote.events.filter((e) => e === "connectionLost").length, 1);
  });

  test(`${net.name}: an exception in dataReceived closes only its own connection and reaches connectionLost`, async () => {
    const boom = new Error("boom");
    let lostWith: Error | null | undefined;
    class Faulty extends Protocol {
      #t?: Transport;
      override connectionMade(t: Transport): void {
        this.#t = t;
      }
      override dataReceived(d: Uint8Array): void {
        if (dec(d).includes("crash")) throw boom;
        this.#t!.write(d);
      }
      override connectionLost(exc: Error | null): void {
        lostWith = exc;
      }
    }
    await withLogs(async (records) => {
      await using server = abortOnDispose(
        await net.server(() => new Faulty()),
      );
      const [good, goodClient] = await net.connect(
        server,
        () => new Recorder(),
      );
      const [, badClient] = await net.connect(server, () => new Recorder());
      badClient.transport!.write(enc("crash"));
      await badClient.lost.promise;
      assertStrictEquals(lostWith, boom);
      assert(
        records.some((r) =>
          r.level === "error" && logText(r).includes("dataReceived")
        ),
        "the error was not logged",
      );
      // The other connection and the server carry on.
      good.write(enc("still echoing"));
      await goodClient.receivedAtLeast(13);
      assertEquals(dec(goodClient.bytes()), "still echoing");
      assertEquals(server.isServing(), true);
      const [third, thirdClient] = await net.connect(
        server,
        () => new Recorder(),
      );
      third.write(enc("new"));
      await thirdClient.receivedAtLeast(3);
      good.close();
      third.close();
      await goodClient.lost.promise;
      await thirdClient.lost.promise;
    });
  });

  test(`${net.name}: writes after the connection is lost are dropped, with a warning after the fifth`, async () => {
    await withLogs(async (records) => {
      await using server = abortOnDispose(
        await net.server(() => new Echo()),
      );
      const [transport, client] = await net.connect(
        server,
        () => new Recorder(),
      );
      transport.close();
      await client.lost.promise;
      for (let i = 0; i < 5; i++) transport.write(enc("late"));
      assertEquals(records.filter((r) => r.level === "warning").length, 0);
      transport.write(enc("late"));
      transport.writelines([enc("late")]);
      const warnings = records.filter((r) => r.level === "warning");
      assertEquals(warnings.length, 2);
      assert(logText(warnings[0]!).includes("closed transport"));
      assertEquals(transport.getWriteBufferSize(), 0);
    });
  });

  test(`${net.name}: waitClosed() waits for the server to close and every connection to go`, async () => {
    const server = await net.server(() => new Echo());
    const [transport, client] = await net.connect(server, () => new Recorder());
    let resolved = false;
    const closed = server.waitClosed().then(() => (resolved = true));
    server.close();
    assertEquals(server.isServing(), false);
    assertEquals(server.sockets.length, 0);
    // A round trip proves the open connection still works after close().
    transport.write(enc("ping"));
    await client.receivedAtLeast(4);
    assertEquals(resolved, false);
    transport.close();
    await closed;
    assertEquals(resolved, true);
    await server.waitClosed(); // resolves at once now
  });

  test(`${net.name}: closeClients() flushes and closes every connection; abortClients() drops`, async () => {
    const srv = recorderServer();
    const server = await net.server(srv.factory);
    const clients = await Promise.all(
      [1, 2, 3].map(() => net.connect(server, () => new Recorder())),
    );
    while (srv.all.length < 3) await delay(1);
    await Promise.all(srv.all.map((r) => r.made.promise));
    for (const r of srv.all) r.transport!.write(enc("last words"));
    server.close();
    server.closeClients();
    for (const [, c] of clients) {
      assertEquals(await c.lost.promise, null);
      assertEquals(dec(c.bytes()), "last words");
    }
    await server.waitClosed();

    const srv2 = recorderServer();
    const server2 = await net.server(srv2.factory);
    const serverSide = srv2.next();
    const [, c2] = await net.connect(server2, () => new Recorder());
    const remote = await serverSide;
    await remote.made.promise;
    remote.transport!.write(new Uint8Array(1024));
    server2.abortClients();
    assertEquals(remote.transport!.getWriteBufferSize(), 0);
    assertEquals(await remote.lost.promise, null);
    await c2.lost.promise;
    server2.close();
    await server2.waitClosed();
  });

  test(`${net.name}: a BufferedProtocol echo reads into the protocol's buffer`, async () => {
    const sizes: number[] = [];
    class BufferedEcho extends BufferedProtocol {
      #t?: Transport;
      readonly buf = new Uint8Array(1000);
      override connectionMade(t: Transport): void {
        this.#t = t;
      }
      override getBuffer(sizehint: number): Uint8Array {
        sizes.push(sizehint);
        return this.buf;
      }
      override bufferUpdated(n: number): void {
        this.#t!.write(this.buf.subarray(0, n));
      }
    }
    await using server = abortOnDispose(
      await net.server(() => new BufferedEcho()),
    );
    const payload = randomBytes(1024 * 1024);
    const [transport, client] = await net.connect(server, () => new Recorder());
    transport.write(payload);
    await client.receivedAtLeast(payload.length);
    assertEquals(await digest(client.bytes()), await digest(payload));
    assert(
      sizes.length >= 1024,
      "reads were not limited to the protocol's 1000-byte buffer",
    );
    // sizehint is the size the transport means to read: 4 KiB at first,
    // and a byte more for a read that may wait (after one that emptied the
    // socket). It grows only when a read fills that much, which a
    // 1000-byte buffer never lets it do.
    assert(
      sizes.every((s) => s === 4096 || s === 4097),
      `${new Set(sizes)}`,
    );
    transport.close();
    await client.lost.promise;
  });

  test(`${net.name}: getExtraInfo gives the addresses, the socket, and the default for unknown names`, async () => {
    await using server = abortOnDispose(
      await net.server(() => new Echo()),
    );
    const [transport, client] = await net.connect(server, () => new Recorder());
    const sock = transport.getExtraInfo("socket") as Deno.Conn;
    assertEquals(transport.getExtraInfo("peername"), sock.remoteAddr);
    assertEquals(transport.getExtraInfo("sockname"), sock.localAddr);
    assertEquals(transport.getExtraInfo("nonsense"), undefined);
    assertEquals(transport.getExtraInfo("nonsense", 42), 42);
    assertStrictEquals(transport.getProtocol(), client);
    transport.close();
    await client.lost.promise;
  });

  test(`${net.name}: a burst of 1,000 small writes reaches the socket in a handful of writes`, async () => {
    await using server = abortOnDispose(
      await net.server(() => new Echo()),
    );
    const [transport, client] = await net.connect(server, () => new Recorder());
    const sock = transport.getExtraInfo("socket") as Deno.Conn;
    let calls = 0;
    const original = sock.write.bind(sock);
    sock.write = (p: Uint8Array) => {
      calls++;
      return original(p);
    };
    for (let i = 0; i < 1000; i++) transport.write(enc(String(i % 10)));
    await client.receivedAtLeast(1000);
    assert(calls <= 3, `${calls} conn.write calls for 1,000 writes`);
    assertEquals(
      dec(client.bytes()),
      Array.from({ length: 1000 }, (_, i) => String(i % 10)).join(""),
    );
    transport.close();
    await client.lost.promise;
  });
}

test("a reset peer gives connectionLost(ConnectionReset), never an unhandled rejection", async () => {
  const srv = recorderServer();
  await using server = abortOnDispose(
    await createServer(srv.factory, "127.0.0.1", 0),
  );
  const serverSide = srv.next();
  const socket = nodeNet.connect(portOf(server), "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const remote = await serverSide;
  await remote.made.promise;
  socket.resetAndDestroy();
  const exc = await remote.lost.promise;
  assertInstanceOf(exc, Deno.errors.ConnectionReset);
  assertEquals(remote.events, ["connectionMade", "connectionLost"]);
});

test("writing to a reset peer gives connectionLost with the error, and later writes are dropped", async () => {
  const srv = recorderServer();
  await using server = abortOnDispose(
    await createServer(srv.factory, "127.0.0.1", 0),
  );
  const serverSide = srv.next();
  const socket = nodeNet.connect(portOf(server), "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const remote = await serverSide;
  await remote.made.promise;
  socket.resetAndDestroy();
  // Keep writing until the transport notices.
  while (!remote.lostWith && remote.events.at(-1) !== "connectionLost") {
    remote.transport!.write(new Uint8Array(1024));
    await delay(1);
  }
  const exc = await remote.lost.promise;
  assert(
    exc instanceof Deno.errors.ConnectionReset ||
      exc instanceof Deno.errors.BrokenPipe,
    `unexpected ${exc}`,
  );
  remote.transport!.write(new Uint8Array(1)); // no throw
});

test(
  "createServer on localhost binds 127.0.0.1 and ::1 on one port; no host binds every interface",
  {
    ignore: NEEDS_IPV6,
  },
  async () => {
    await using server = abortOnDispose(
      await createServer(() => new Echo(), "localhost", 0),
    );
    const addrs = server.sockets.map((l) => l.addr as Deno.NetAddr);
    assertEquals(addrs.map((a) => a.hostname).sort(), ["127.0.0.1", "::1"]);
    assertEquals(addrs[0]!.port, addrs[1]!.port);
    for (const host of ["127.0.0.1", "::1"]) {
      const [t, c] = await createConnection(
        () => new Recorder(),
        host,
        addrs[0]!.port,
      );
      t.write(enc(host));
      await c.receivedAtLeast(host.length);
      assertEquals(dec(c.bytes()), host);
      t.close();
      await c.lost.promise;
    }
    await using any = abortOnDispose(
      await createServer(() => new Echo(), undefined, 0),
    );
    assertEquals(any.sockets.length, 1);
    assertEquals((any.sockets[0]!.addr as Deno.NetAddr).hostname, "::");
    const [t, c] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(any),
    );
    t.write(enc("v4 on dual stack"));
    await c.receivedAtLeast(16);
    t.close();
    await c.lost.promise;
  },
);

test("createServer with a list binds each address; a failing one leaves nothing bound", async () => {
  // Two families where the machine has IPv6, two loopback addresses if not.
  const hosts = ["127.0.0.1", HAS_IPV6 ? "::1" : "127.0.0.3"];
  await using server = abortOnDispose(
    await createServer(() => new Echo(), hosts, 0),
  );
  assertEquals(
    server.sockets.map((l) => (l.addr as Deno.NetAddr).hostname),
    hosts,
  );
  // Take a free port on 127.0.0.2 (nothing else uses that address), then
  // fail on the second address (not a local one: no packet is sent).
  const probe = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const { port } = probe.addr;
  probe.close();
  await assertRejects(
    () => createServer(() => new Echo(), ["127.0.0.2", "192.0.2.1"], port),
    Deno.errors.AddrNotAvailable,
  );
  // The first listener was released again (and the sanitizer sees no leak).
  // A child process another test spawns meanwhile may hold a copy of it for
  // a moment (see passingHold).
  let again: Server | undefined;
  for (let attempt = 0; again === undefined; attempt++) {
    try {
      again = await createServer(() => new Echo(), "127.0.0.2", port);
    } catch (err) {
      if (
        !(err instanceof Deno.errors.AddrInUse) ||
        !passingHold("tcp", port, attempt)
      ) throw err;
    }
  }
  await using _again = abortOnDispose(again);
  assertEquals(again.sockets.length, 1);
});

test("startServing: false defers accepting; startServing() and serveForever() start it", async () => {
  const server = await createServer(() => new Echo(), "127.0.0.1", 0, {
    startServing: false,
  });
  assertEquals(server.isServing(), false);
  await server.startServing();
  assertEquals(server.isServing(), true);
  const forever = server.serveForever();
  await assertRejects(
    () => server.serveForever(),
    Error,
    "already being served forever",
  );
  const [t, c] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
  );
  t.write(enc("x"));
  await c.receivedAtLeast(1);
  t.close();
  await c.lost.promise;
  server.close();
  await forever;
  await assertRejects(
    () => server.serveForever(),
    Error,
    "the server is closed",
  );
  await assertRejects(
    () => server.startServing(),
    Error,
    "the server is closed",
  );
});

test("a server's signal closes it and ends serveForever()", async () => {
  const controller = new AbortController();
  const server = await createServer(() => new Echo(), "127.0.0.1", 0, {
    signal: controller.signal,
  });
  const forever = server.serveForever();
  controller.abort();
  await forever;
  assertEquals(server.isServing(), false);
  assertEquals(server.sockets.length, 0);
});

test("a refused connect rejects with ConnectionRefused and leaves nothing open", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  await assertRejects(
    () => createConnection(() => new Protocol(), "127.0.0.1", port),
    Deno.errors.ConnectionRefused,
  );
});

test("an aborted signal rejects createConnection with its reason", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  const reason = new Error("changed my mind");
  await assertRejects(
    () =>
      createConnection(() => new Protocol(), "127.0.0.1", portOf(server), {
        signal: AbortSignal.abort(reason),
      }),
    Error,
    "changed my mind",
  );
  // Aborted while connecting: the connection made meanwhile is closed again.
  const controller = new AbortController();
  const pending = createConnection(
    () => new Protocol(),
    "127.0.0.1",
    portOf(server),
    { signal: controller.signal },
  );
  controller.abort(reason);
  const err = await pending.then(() => null, (e) => e);
  assertStrictEquals(err, reason);
  server.close();
  await server.waitClosed();
});

test("connectionMade that throws rejects createConnection and calls connectionLost with the error", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  const boom = new Error("no thanks");
  const lost = Promise.withResolvers<Error | null>();
  class Refuser extends Protocol {
    override connectionMade(): void {
      throw boom;
    }
    override connectionLost(exc: Error | null): void {
      lost.resolve(exc);
    }
  }
  await withLogs(async () => {
    const err = await createConnection(
      () => new Refuser(),
      "127.0.0.1",
      portOf(server),
    ).then(() => null, (e) => e);
    assertStrictEquals(err, boom);
    assertStrictEquals(await lost.promise, boom);
  });
});

test("a protocol factory that throws on the server closes that connection only", async () => {
  let n = 0;
  await withLogs(async (records) => {
    await using server = abortOnDispose(
      await createServer(
        () => {
          if (n++ === 0) throw new Error("factory failed");
          return new Echo();
        },
        "127.0.0.1",
        0,
      ),
    );
    const [, first] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    await first.lost.promise;
    assert(
      records.some((r) =>
        r.level === "error" && logText(r).includes("Cannot serve")
      ),
    );
    const [t, second] = await createConnection(
      () => new Recorder(),
      "127.0.0.1",
      portOf(server),
    );
    t.write(enc("ok"));
    await second.receivedAtLeast(2);
    t.close();
    await second.lost.promise;
  });
});

test("watermarks: defaults, asyncio's derivation rules, and pauseWriting once per crossing", async () => {
  const srv = recorderServer();
  await using server = abortOnDispose(
    await createServer(srv.factory, "127.0.0.1", 0),
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
  );
  assertEquals(transport.getWriteBufferLimits(), [16384, 65536]);
  transport.setWriteBufferLimits(1000);
  assertEquals(transport.getWriteBufferLimits(), [250, 1000]);
  transport.setWriteBufferLimits(undefined, 100);
  assertEquals(transport.getWriteBufferLimits(), [100, 400]);
  transport.setWriteBufferLimits(500, 500);
  assertEquals(transport.getWriteBufferLimits(), [500, 500]);
  transport.setWriteBufferLimits();
  assertEquals(transport.getWriteBufferLimits(), [16384, 65536]);
  transport.setWriteBufferLimits(100, 10);
  transport.write(new Uint8Array(500));
  transport.write(new Uint8Array(500)); // still above: no second pauseWriting
  assertEquals(client.events.filter((e) => e === "pauseWriting").length, 1);
  while (!client.events.includes("resumeWriting")) await delay(1);
  assertEquals(client.events.filter((e) => e === "resumeWriting").length, 1);
  transport.close();
  await client.lost.promise;
});

test("bad arguments throw TypeError or RangeError naming the argument, and bind nothing", async () => {
  const notAFunction = 42 as unknown as () => BaseProtocol;
  await assertRejects(
    () => createServer(notAFunction, "127.0.0.1", 0),
    TypeError,
    "protocolFactory",
  );
  await assertRejects(
    () => createServer(() => new Echo(), 42 as unknown as string, 0),
    TypeError,
    "host",
  );
  await assertRejects(
    () =>
      createServer(() => new Echo(), ["127.0.0.1", 1 as unknown as string], 0),
    TypeError,
    "host[1]",
  );
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", -1),
    RangeError,
    "port",
  );
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", 65536),
    RangeError,
    "port",
  );
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", 1.5),
    RangeError,
    "port",
  );
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", "80" as unknown as number),
    TypeError,
    "port",
  );
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", 0, { backlog: 0 }),
    RangeError,
    "backlog",
  );
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, {
        signal: "x" as unknown as AbortSignal,
      }),
    TypeError,
    "signal",
  );
  await assertRejects(
    () =>
      createServer(() => new Echo(), "127.0.0.1", 0, 5 as unknown as object),
    TypeError,
    "options",
  );
  await assertRejects(
    () => createConnection(notAFunction, "127.0.0.1", 1),
    TypeError,
    "protocolFactory",
  );
  await assertRejects(
    () => createConnection(() => new Protocol(), "127.0.0.1", 99999),
    RangeError,
    "port",
  );
  await assertRejects(
    () => createConnection(() => new Protocol(), null as unknown as string, 1),
    TypeError,
    "host",
  );

  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    portOf(server),
  );
  assertThrows(
    () => transport.write("text" as unknown as Uint8Array),
    TypeError,
    "data must be a Uint8Array",
  );
  assertThrows(
    () => transport.writelines(["a"] as unknown as Uint8Array[]),
    TypeError,
    "list[0]",
  );
  assertThrows(
    () => transport.writelines(5 as unknown as Uint8Array[]),
    TypeError,
    "list",
  );
  assertThrows(() => transport.setWriteBufferLimits(1, 2), RangeError, "high");
  assertThrows(() => transport.setWriteBufferLimits(-1), RangeError, "high");
  assertThrows(
    () => transport.setWriteBufferLimits("1" as unknown as number),
    TypeError,
    "high",
  );
  assertThrows(
    () => transport.setProtocol(null as unknown as BaseProtocol),
    TypeError,
    "protocol",
  );
  // Nothing was lost by the bad calls: the connection still echoes.
  transport.writelines([enc("a"), enc("b")]);
  await client.receivedAtLeast(2);
  assertEquals(dec(client.bytes()), "ab");
  transport.close();
  await client.lost.promise;
});

test("a protocol factory returning a non-object rejects createConnection with TypeError", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  await assertRejects(
    () =>
      createConnection(
        () => undefined as unknown as Protocol,
        "127.0.0.1",
        portOf(server),
      ),
    TypeError,
    "protocolFactory must return",
  );
  server.close();
  await server.waitClosed();
});

test("setProtocol switches the protocol that receives data", async () => {
  await using server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  const first = new Recorder();
  const [transport] = await createConnection(
    () => first,
    "127.0.0.1",
    portOf(server),
  );
  transport.write(enc("a"));
  await first.receivedAtLeast(1);
  const second = new Recorder();
  transport.setProtocol(second);
  assertStrictEquals(transport.getProtocol(), second);
  transport.write(enc("b"));
  // The read in flight at setProtocol() delivers to the new protocol.
  await within(second.receivedAtLeast(1), "the new protocol's data");
  assertEquals(dec(second.bytes()), "b");
  assertEquals(dec(first.bytes()), "a");
  transport.close();
  await second.lost.promise;
});

test("Server and Transport show their state when inspected", async () => {
  // Whole strings: "not serving" contains "serving", "closed" and "closing"
  // share a prefix.
  const idle = await createServer(() => new Echo(), "127.0.0.1", 0, {
    startServing: false,
  });
  assertEquals(
    Deno.inspect(idle),
    `Server { not serving, sockets=[127.0.0.1:${
      portOf(idle)
    }], connections=0 }`,
  );
  idle.close();
  assertEquals(
    Deno.inspect(idle),
    "Server { closed, sockets=[], connections=0 }",
  );
  await idle.waitClosed();
  await using server: Server = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  const port = portOf(server);
  assertEquals(
    Deno.inspect(server),
    `Server { serving, sockets=[127.0.0.1:${port}], connections=0 }`,
  );
  const [transport, client] = await createConnection(
    () => new Recorder(),
    "127.0.0.1",
    port,
  );
  const peer = `peer=127.0.0.1:${port}`;
  assertEquals(
    Deno.inspect(transport),
    `Transport { open, ${peer}, buffered=0 }`,
  );
  transport.pauseReading();
  assertEquals(
    Deno.inspect(transport),
    `Transport { open, ${peer}, reading paused, buffered=0 }`,
  );
  transport.write(new Uint8Array(100)); // still being written at close()
  transport.close();
  assertEquals(
    Deno.inspect(transport),
    `Transport { closing, ${peer}, buffered=100 }`,
  );
  await client.lost.promise;
  assertEquals(
    Deno.inspect(transport),
    `Transport { closed, ${peer}, buffered=0 }`,
  );
});

// ---- Boundaries, and what must wait or fail (issue 17) ----------------------

/** A `Recorder` that notes the write buffer size at each flow-control call. */
class FlowRecorder extends Recorder {
  flow: string[] = [];
  readonly resumed = Promise.withResolvers<void>();
  override pauseWriting(): void {
    super.pauseWriting();
    this.flow.push(`pause at ${this.transport!.getWriteBufferSize()}`);
  }
  override resumeWriting(): void {
    super.resumeWriting();
    this.flow.push(`resume at ${this.transport!.getWriteBufferSize()}`);
    this.resumed.resolve();
  }
}

/**
 * A recording server and a client connection to it whose protocol is a
 * `FlowRecorder`; disposing it aborts the server's connections and closes it.
 */
async function flowPair() {
  const srv = recorderServer();
  const server = abortOnDispose(
    await createServer(srv.factory, "127.0.0.1", 0),
  );
  try {
    const serverSide = srv.next();
    const [transport, client] = await createConnection(
      () => new FlowRecorder(),
      "127.0.0.1",
      portOf(server),
    );
    return {
      serverSide,
      transport,
      client,
      [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
    };
  } catch (err) {
    await server[Symbol.asyncDispose]();
    throw err;
  }
}

test("pauseWriting comes when the buffer exceeds the high watermark, not when it reaches it", async () => {
  await using pair = await flowPair();
  const { serverSide, transport, client } = pair;
  transport.setWriteBufferLimits(100, 10);
  // Writes are asynchronous: what was just written is still buffered.
  transport.write(new Uint8Array(100)); // exactly the high watermark
  assertEquals(transport.getWriteBufferSize(), 100);
  assertEquals(client.flow, []);
  transport.write(new Uint8Array(1)); // one byte above it
  assertEquals(client.flow, ["pause at 101"]);
  await client.resumed.promise;
  const remote = await serverSide;
  await remote.receivedAtLeast(101);
  assertEquals(remote.received, 101);
  transport.close();
  await client.lost.promise;
});

test("resumeWriting comes as soon as the buffer falls to the low watermark", async () => {
  await using pair = await flowPair();
  const { serverSide, transport, client } = pair;
  // The socket takes at most 51 bytes per write: 101 buffered, then 50 (the
  // low watermark: resume here), then 0.
  const sock = transport.getExtraInfo("socket") as Deno.Conn;
  const original = sock.write.bind(sock);
  sock.write = (p: Uint8Array) => original(p.subarray(0, 51));
  transport.setWriteBufferLimits(100, 50);
  transport.write(randomBytes(101));
  assertEquals(client.flow, ["pause at 101"]);
  await client.resumed.promise;
  assertEquals(client.flow, ["pause at 101", "resume at 50"]);
  const remote = await serverSide;
  await remote.receivedAtLeast(101);
  assertEquals(remote.received, 101);
  transport.close();
  await client.lost.promise;
});

test("setWriteBufferLimits below what is already buffered pauses the protocol at once", async () => {
  await using pair = await flowPair();
  const { serverSide, transport, client } = pair;
  transport.write(new Uint8Array(1000)); // far below the default 64 KiB
  assertEquals(client.flow, []);
  transport.setWriteBufferLimits(500); // 1000 bytes buffered, over the new high
  assertEquals(client.flow, ["pause at 1000"]);
  await client.resumed.promise;
  assertEquals(client.flow.length, 2);
  const remote = await serverSide;
  await remote.receivedAtLeast(1000);
  transport.close();
  await client.lost.promise;
});

for (const net of nets) {
  test(`${net.name}: waitClosed() called after close() still waits for the open connections`, async () => {
    const server = await net.server(() => new Echo());
    const [transport, client] = await net.connect(server, () => new Recorder());
    transport.write(enc("ping")); // the echo proves the server has it
    await client.receivedAtLeast(4);
    server.close();
    transport.write(enc("pong")); // still served after close()
    await client.receivedAtLeast(8);
    let resolved = false;
    const closed = server.waitClosed().then(() => (resolved = true));
    transport.write(enc("!"));
    await client.receivedAtLeast(9);
    assertEquals(resolved, false);
    assertEquals(dec(client.bytes()), "pingpong!");
    transport.close();
    await within(closed, "waitClosed() after the last connection went");
    assertEquals(await client.lost.promise, null);
  });

  test(`${net.name}: serveForever() returns after close() only once the open connections are gone`, async () => {
    const server = await net.server(() => new Echo(), { startServing: false });
    let returned = false;
    const forever = server.serveForever().then(() => (returned = true));
    const [transport, client] = await net.connect(server, () => new Recorder());
    transport.write(enc("a"));
    await client.receivedAtLeast(1);
    server.close();
    transport.write(enc("b")); // a round trip after close(): still served
    await client.receivedAtLeast(2);
    assertEquals(returned, false);
    transport.close();
    await within(forever, "serveForever() after the last connection went");
    assertEquals(server.isServing(), false);
    await client.lost.promise;
  });
}

test("waitClosed() waits for a TLS connection still in its handshake", async () => {
  const { cert, key, ca } = tlsFiles;
  const srv = recorderServer();
  const server = await createServer(srv.factory, "127.0.0.1", 0, {
    tls: { cert, key },
  });
  const port = portOf(server);
  // A client that connects and never says hello...
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // ...and one after it: once its protocol is made on the server, the
    // silent one has been accepted (in order) and is in its handshake.
    const serverSide = srv.next();
    const [transport, client] = await createConnection(
      () => new Recorder(),
      "localhost",
      port,
      { tls: { caCerts: [ca] } },
    );
    const remote = await serverSide;
    transport.close();
    await client.lost.promise;
    await remote.lost.promise;
    server.close();
    let resolved = false;
    const closed = server.waitClosed().then(() => (resolved = true));
    await delay(50); // a negative check: the silent handshake holds it
    assertEquals(resolved, false);
    silent.close(); // its handshake fails: the last connection is gone
    await within(closed, "waitClosed() after the handshake failed");
  } finally {
    server.close();
    server.abortClients();
    try {
      silent.close();
    } catch {
      // closed above
    }
  }
});

test("a TLS transport closes at the peer's EOF even when eofReceived() returns true, with a warning", async () => {
  const { cert, key, ca } = tlsFiles;
  await withLogs(async (records) => {
    const srv = recorderServer();
    const server = await createServer(
      () => {
        const protocol = srv.factory();
        protocol.keepOpenOnEof = true; // TLS cannot half-close: ignored
        return protocol;
      },
      "127.0.0.1",
      0,
      { tls: { cert, key } },
    );
    try {
      const serverSide = srv.next();
      const [transport, client] = await createConnection(
        () => new Recorder(),
        "localhost",
        portOf(server),
        { tls: { caCerts: [ca] } },
      );
      const remote = await serverSide;
      transport.write(enc("bye"));
      await remote.receivedAtLeast(3);
      transport.close(); // the server reads EOF
      // It answers our close_notify with its own: no shutdown timeout.
      assertEquals(
        await within(client.lost.promise, "the client's connectionLost"),
        null,
      );
      assertEquals(
        await within(remote.lost.promise, "the server's connectionLost"),
        null,
      );
      assertEquals(remote.events, [
        "connectionMade",
        "dataReceived",
        "eofReceived",
        "connectionLost",
      ]);
      assert(
        records.some((r) =>
          r.level === "warning" && logText(r).includes("cannot half-close")
        ),
        "no warning was logged",
      );
    } finally {
      server.close();
      server.abortClients();
      await server.waitClosed();
    }
  });
});

test("ports 0 to 65535 pass the check; 65536 and -1 are refused with RangeError before Deno sees them", async () => {
  // 0 passes: a server binds a free port; a connect goes on to Deno (which
  // refuses port 0 with its own message).
  await using any = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  assert(portOf(any) > 0);
  const zero = await createConnection(() => new Recorder(), "127.0.0.1", 0)
    .then(() => null, (e) => e);
  assertInstanceOf(zero, Error);
  assert(!zero.message.startsWith("port must be"), zero.message);
  for (const port of [65536, -1]) {
    const message = `port must be an integer from 0 to 65535, got ${port}`;
    await assertRejects(
      () => createServer(() => new Echo(), "127.0.0.1", port),
      RangeError,
      message,
    );
    await assertRejects(
      () => createConnection(() => new Protocol(), "127.0.0.1", port),
      RangeError,
      message,
    );
  }
  // 65535 passes: the connect is tried (and refused: nothing listens there).
  const err = await createConnection(() => new Recorder(), "127.0.0.1", 65535)
    .then(async ([transport, client]) => {
      transport.close();
      await client.lost.promise;
      return null;
    }, (e) => e);
  assert(
    err === null || err instanceof Deno.errors.ConnectionRefused,
    `port 65535: ${err}`,
  );
});

test("reusePort lets a second server bind a port that a first one listens on", {
  deadline: 60_000,
}, async () => {
  // Deno takes reusePort only with --unstable-net (without it, the process
  // exits), which the test task does not pass: run it in a subprocess.
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code = `
    import { createConnection, createServer, Protocol } from ${
    JSON.stringify(mod)
  };
    class Echo extends Protocol {
      connectionMade(t) { this.t = t; }
      dataReceived(d) { this.t.write(d); }
    }
    class Client extends Protocol {
      got = Promise.withResolvers();
      dataReceived(d) { this.got.resolve(new TextDecoder().decode(d)); }
    }
    const opts = { reusePort: true };
    const first = await createServer(() => new Echo(), "127.0.0.1", 0, opts);
    const port = first.sockets[0].addr.port;
    const second = await createServer(() => new Echo(), "127.0.0.1", port, opts);
    const samePort = second.sockets[0].addr.port === port;
    const [t, c] = await createConnection(() => new Client(), "127.0.0.1", port);
    t.write(new TextEncoder().encode("shared"));
    const echoed = await c.got.promise;
    t.close();
    first.close();
    second.close();
    second.closeClients();
    first.closeClients();
    await Promise.all([first.waitClosed(), second.waitClosed()]);
    console.log(JSON.stringify({ samePort, echoed }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-net", "--ext=js", code],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  assertEquals(JSON.parse(new TextDecoder().decode(out.stdout)), {
    samePort: true,
    echoed: "shared",
  });
  // Without reusePort, the same bind fails (in this process: no flag needed).
  await using taken = abortOnDispose(
    await createServer(() => new Echo(), "127.0.0.1", 0),
  );
  await assertRejects(
    () => createServer(() => new Echo(), "127.0.0.1", portOf(taken)),
    Deno.errors.AddrInUse,
  );
});

test("a protocol factory that throws in createConnection closes the connection it made", async () => {
  const srv = recorderServer();
  const server = await createServer(srv.factory, "127.0.0.1", 0);
  try {
    const serverSide = srv.next();
    const boom = new Error("no protocol today");
    const err = await createConnection(
      () => {
        throw boom;
      },
      "127.0.0.1",
      portOf(server),
    ).then(() => null, (e) => e);
    assertStrictEquals(err, boom);
    // The server saw the connection come and go.
    const remote = await within(serverSide, "the server's connection");
    const exc = await within(
      remote.lost.promise,
      "the server's connectionLost",
    );
    assert(
      exc === null || exc instanceof Deno.errors.ConnectionReset,
      `unexpected ${exc}`,
    );
  } finally {
    server.close();
    server.abortClients();
    await server.waitClosed();
  }
});
