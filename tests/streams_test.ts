// Copyright 2026 the @aio/net authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import nodeNet from "node:net";
import {
  IncompleteReadError,
  openConnection,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  delay,
  digest,
  enc,
  logText,
  portOf,
  randomBytes,
  streamsEcho,
  test,
  tlsFiles,
  within,
  withLogs,
} from "./_helpers.ts";
import { bufferedBytes } from "../_stream_reader.ts";

/** A streams echo server: read(65536), write, drain, until EOF. */
function echoServer(): Promise<Server> {
  return startServer(
    streamsEcho,
    "127.0.0.1",
    0,
  );
}

/** Resolves with the next client's reader and writer. */
function nextClient(): {
  callback: (r: StreamReader, w: StreamWriter) => void;
  next: Promise<[StreamReader, StreamWriter]>;
} {
  const next = Promise.withResolvers<[StreamReader, StreamWriter]>();
  return { callback: (r, w) => next.resolve([r, w]), next: next.promise };
}

test("streams: 200 concurrent clients each get 256 KiB of random bytes echoed (digests compared)", async () => {
  await using server = abortOnDispose(
    await echoServer(),
  );
  const port = portOf(server);
  await Promise.all(Array.from({ length: 200 }, async () => {
    const payload = randomBytes(256 * 1024);
    const [reader, writer] = await openConnection("127.0.0.1", port);
    const received = reader.readexactly(payload.length);
    for (let off = 0; off < payload.length; off += 50_000) {
      writer.write(payload.subarray(off, off + 50_000));
      await writer.drain();
    }
    assertEquals(
      await digest(await within(received, "the echo")),
      await digest(payload),
    );
    writer.writeEof();
    assertEquals((await within(reader.read(), "the echo's EOF")).length, 0);
    assertEquals(reader.atEof(), true);
    writer.close(); // both halves are shut, but as in asyncio only close() ends it
    await writer.waitClosed();
  }));
});

test("streams: drain() holds a fast writer to a slow reader with bounded buffering", async () => {
  const total = 32 * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let maxBuffered = 0;
  let drains = 0;
  const done = Promise.withResolvers<void>();
  // A failed check below must not leave the server writing forever.
  await using server = abortOnDispose(
    await startServer(
      async (_reader, writer) => {
        for (let sent = 0; sent < total; sent += chunk.length) {
          writer.write(chunk);
          maxBuffered = Math.max(
            maxBuffered,
            writer.transport.getWriteBufferSize(),
          );
          await writer.drain();
          drains++;
        }
        writer.close();
        done.resolve();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    limit: 64 * 1024,
  });
  let got = 0;
  try {
    while (true) {
      const data = await within(reader.read(256 * 1024), `byte ${got} on`);
      if (data.length === 0) break;
      assert(data.every((b) => b === 7));
      got += data.length;
      if (got % (4 * 1024 * 1024) < data.length) await delay(2); // a slow reader
    }
  } catch (err) {
    writer.transport.abort();
    throw err;
  }
  await done.promise;
  assertEquals(got, total);
  assertEquals(drains, total / chunk.length);
  // Never more than the high watermark plus the one write before drain().
  assert(
    maxBuffered <= 64 * 1024 + chunk.length,
    `buffered ${maxBuffered} bytes`,
  );
  writer.close();
  await writer.waitClosed();
});

test("streams: the transport stops reading while the reader holds over 2 x limit and resumes below the limit", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  const limit = 16 * 1024;
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    limit,
  });
  const [, serverWriter] = await client.next;
  serverWriter.write(new Uint8Array(1024 * 1024));
  // Wait until the client stops reading.
  while (writer.transport.isReading()) await delay(1);
  await delay(20); // let a read in flight land
  const held = Deno.inspect(reader);
  assert(!writer.transport.isReading());
  // Drain below the limit: reading resumes.
  let got = 0;
  while (got < 1024 * 1024) got += (await reader.read(8 * 1024)).length;
  assertEquals(got, 1024 * 1024);
  assert(writer.transport.isReading(), `still paused after draining: ${held}`);
  serverWriter.close();
  writer.close();
  await writer.waitClosed();
});

test("streams: EOF mid-readexactly gives IncompleteReadError with the partial bytes", async () => {
  await using server = abortOnDispose(
    await startServer(
      (_reader, writer) => {
        writer.write(enc("abc"));
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const err = await reader.readexactly(10).then(() => null, (e) => e);
  assertInstanceOf(err, IncompleteReadError);
  assertEquals(dec(err.partial), "abc");
  assertEquals(err.expected, 10);
  assertEquals(reader.atEof(), true);
  assertEquals(await reader.readline(), new Uint8Array(0));
  writer.close();
  await writer.waitClosed();
});

test("streams: an aborted read keeps the buffered bytes and an immediate retry works", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const [, serverWriter] = await client.next;
  serverWriter.write(enc("partial line"));
  const controller = new AbortController();
  const pending = reader.readline({ signal: controller.signal });
  await delay(20);
  const reason = new Error("timed out");
  controller.abort(reason);
  assertStrictEquals(await pending.then(() => null, (e) => e), reason);
  const retry = reader.readline(); // no "already waiting" error
  serverWriter.write(enc(" done\n"));
  assertEquals(dec(await retry), "partial line done\n");
  serverWriter.close();
  writer.close();
  await writer.waitClosed();
});

test("streams: a second concurrent read on one reader throws at once", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const [, serverWriter] = await client.next;
  const first = reader.read(10);
  await assertRejects(() => reader.readline(), Error, "already waiting");
  serverWriter.write(enc("x"));
  assertEquals(dec(await first), "x");
  serverWriter.close();
  writer.close();
  await writer.waitClosed();
});

test("streams: a reset peer rejects the pending read with ConnectionReset and drain() too", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  const socket = nodeNet.connect(portOf(server), "127.0.0.1");
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const [reader, writer] = await client.next;
  const pending = reader.read();
  socket.resetAndDestroy();
  await assertRejects(() => pending, Deno.errors.ConnectionReset);
  assertInstanceOf(reader.exception(), Deno.errors.ConnectionReset);
  writer.write(enc("into the void")); // dropped, no throw
  await assertRejects(() => writer.drain(), Deno.errors.ConnectionReset);
  await assertRejects(() => writer.waitClosed(), Deno.errors.ConnectionReset);
});

test("streams: drain() after a clean close rejects with ConnectionReset; many concurrent drains settle", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const [serverReader, serverWriter] = await client.next;
  // Fill the buffer so drain() waits, with 10 callers at once.
  writer.write(new Uint8Array(8 * 1024 * 1024));
  const drains = Array.from({ length: 10 }, () => writer.drain());
  let got = 0;
  while (got < 8 * 1024 * 1024) {
    got += (await serverReader.read(1 << 20)).length;
  }
  await Promise.all(drains);
  writer.close();
  await writer.waitClosed();
  await assertRejects(() => writer.drain(), Deno.errors.ConnectionReset);
  assertEquals((await reader.read()).length, 0);
  serverWriter.close();
});

test("streams: a client callback that throws or rejects is logged and closes only that connection", async () => {
  await withLogs(async (records) => {
    let n = 0;
    await using server = abortOnDispose(
      await startServer(
        async (reader, writer) => {
          const which = n++;
          if (which === 0) throw new Error("sync failure");
          if (which === 1) {
            await reader.readline();
            throw new Error("async failure");
          }
          writer.write(await reader.readline());
          writer.close();
        },
        "127.0.0.1",
        0,
      ),
    );
    const port = portOf(server);
    const [r0, w0] = await openConnection("127.0.0.1", port);
    assertEquals((await r0.read()).length, 0);
    w0.close();
    await w0.waitClosed();
    const [r1, w1] = await openConnection("127.0.0.1", port);
    w1.write(enc("go\n"));
    assertEquals((await r1.read()).length, 0);
    w1.close();
    await w1.waitClosed();
    const [r2, w2] = await openConnection("127.0.0.1", port);
    w2.write(enc("fine\n"));
    assertEquals(dec(await r2.readline()), "fine\n");
    w2.close();
    await w2.waitClosed();
    const errors = records.filter((r) => r.level === "error").map(logText);
    assert(errors.some((t) => t.includes("sync failure")), errors.join("\n"));
    assert(errors.some((t) => t.includes("async failure")), errors.join("\n"));
  });
});

test("streams: waitClosed() takes a signal; await using closes the writer", async () => {
  const client = nextClient();
  await using server = abortOnDispose(
    await startServer(client.callback, "127.0.0.1", 0),
  );
  let serverReader: StreamReader;
  {
    const [, writer] = await openConnection("127.0.0.1", portOf(server));
    await using _disposed = writer;
    [serverReader] = await client.next;
    const reason = new Error("gave up");
    await assertRejects(
      () => writer.waitClosed({ signal: AbortSignal.abort(reason) }),
      Error,
      "gave up",
    );
    assertEquals(writer.isClosing(), false);
  }
  // Leaving the block closed the writer: the server side reads EOF.
  assertEquals((await serverReader.read()).length, 0);
  server.closeClients();
});

test("streams: the half-closed peer can still be written to (eofReceived keeps the write side open)", async () => {
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        const all = await reader.read(); // to EOF
        writer.write(enc(`got ${all.length} bytes`));
        await writer.drain();
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  assertEquals(writer.canWriteEof(), true);
  writer.write(new Uint8Array(12345));
  writer.writeEof();
  assertEquals(
    dec(await within(reader.read(), "the answer after our EOF")),
    "got 12345 bytes",
  );
  writer.close();
  await writer.waitClosed();
});

test("streams: bad arguments throw TypeError or RangeError before any I/O", async () => {
  await assertRejects(
    () => openConnection("127.0.0.1", 1, { limit: 0 }),
    RangeError,
    "limit",
  );
  await assertRejects(
    () => openConnection("127.0.0.1", -5),
    RangeError,
    "port",
  );
  await assertRejects(
    () => startServer(null as unknown as () => void, "127.0.0.1", 0),
    TypeError,
    "clientConnected",
  );
  await assertRejects(
    () => startServer(() => {}, "127.0.0.1", 0, { limit: -1 }),
    RangeError,
    "limit",
  );
  await using server = abortOnDispose(
    await echoServer(),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const bad = () => writer.write("text" as unknown as Uint8Array);
  try {
    bad();
    throw new Error("write(string) did not throw");
  } catch (err) {
    assertInstanceOf(err, TypeError);
  }
  writer.writelines([enc("ok")]);
  assertEquals(dec(await reader.readexactly(2)), "ok");
  assertEquals(
    Deno.inspect(writer),
    `StreamWriter { open, peer=127.0.0.1:${portOf(server)}, buffered=0 }`,
  );
  writer.close();
  await writer.waitClosed();
});

// ---- What must wait or fail (issue 17) ------------------------------------

test("streams: a drain() waiting when the peer resets rejects with the connection's error", async () => {
  // A peer that accepts and reads nothing, then closes with our bytes
  // unread in its buffer: the kernel answers with a reset.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const [reader, writer] = await openConnection(
    "127.0.0.1",
    listener.addr.port,
  );
  const peer = await accepted;
  listener.close();
  writer.write(new Uint8Array(32 * 1024 * 1024)); // far more than the kernel holds
  let settled = false;
  const drained = writer.drain().then(
    () => null,
    (err) => err,
  ).finally(() => (settled = true));
  await delay(20); // a negative check: writing is paused, drain() waits
  assertEquals(settled, false);
  peer.close();
  const err = await within(drained, "drain() after the reset");
  assert(
    err instanceof Deno.errors.ConnectionReset ||
      err instanceof Deno.errors.BrokenPipe,
    `drain() settled with ${err}`,
  );
  assertStrictEquals(reader.exception(), err);
  assertStrictEquals(await writer.waitClosed().then(() => null, (e) => e), err);
  await assertRejects(() => reader.read(), Error);
});

test("streams: drain() right after close() waits for connectionLost and rejects with ConnectionReset", async () => {
  await using server = abortOnDispose(await echoServer());
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.close(); // nothing buffered: the connection is lost on the next turn
  await assertRejects(() => writer.drain(), Deno.errors.ConnectionReset);
  assertEquals((await reader.read()).length, 0);
  await writer.waitClosed();
});

test("streams: drain() rejects with the exception set on the reader, as asyncio's does", async () => {
  await using server = abortOnDispose(await echoServer());
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  const boom = new Error("bad frame");
  reader.setException(boom);
  writer.write(enc("x"));
  assertStrictEquals(await writer.drain().then(() => null, (e) => e), boom);
  writer.close();
  await writer.waitClosed();
});

test("streams: startTls refuses while even one unread byte is in the reader, and the byte stays readable", async () => {
  const { ca } = tlsFiles;
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        writer.write(enc("OK\r\n!")); // the go-ahead, and one byte too many
        writer.write(await reader.read(100)); // whatever comes next, then close
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  assertEquals(dec(await reader.readline()), "OK\r\n");
  // One write of five bytes is one read on loopback: "!" is in the reader.
  assert(
    Deno.inspect(reader).startsWith("StreamReader { 1 bytes,"),
    Deno.inspect(reader),
  );
  const err = await writer.startTls({ caCerts: [ca] }).then(
    () => null,
    (e) => e,
  );
  assertInstanceOf(err, Error);
  assert(err.message.includes("1 unread bytes"), err.message);
  assertEquals(dec(await reader.read(1)), "!");
  writer.write(enc("still plain"));
  assertEquals(dec(await reader.read()), "still plain");
  writer.close();
  await writer.waitClosed();
});

test("streams: a startTls signal that aborts before the handshake closes the connection and rejects with the reason", async () => {
  const { ca } = tlsFiles;
  const client = nextClient();
  const server = await startServer(client.callback, "127.0.0.1", 0);
  try {
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    const [serverReader] = await client.next;
    const controller = new AbortController();
    const reason = new Error("changed my mind");
    const pending = writer.startTls({
      caCerts: [ca],
      signal: controller.signal,
    });
    controller.abort(reason); // while the TLS engine loads
    assertStrictEquals(await pending.then(() => null, (e) => e), reason);
    assertEquals(writer.isClosing(), true);
    assertStrictEquals(await reader.read().then(() => null, (e) => e), reason);
    // The server sees the connection end.
    await within(
      serverReader.read().catch(() => new Uint8Array(0)),
      "the end of the server's side",
    );
  } finally {
    server.close();
    server.abortClients();
    await server.waitClosed();
  }
});

test("streams: a startTls signal that aborts after the handshake leaves the connection alone", async () => {
  const { cert, key, ca } = tlsFiles;
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        if (dec(await reader.readline()) !== "STARTTLS\r\n") {
          return writer.close();
        }
        writer.write(enc("OK\r\n"));
        await writer.startTls({ cert, key });
        await streamsEcho(reader, writer);
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  writer.write(enc("STARTTLS\r\n"));
  assertEquals(dec(await reader.readline()), "OK\r\n");
  const controller = new AbortController();
  await writer.startTls({ caCerts: [ca], signal: controller.signal });
  controller.abort(new Error("too late to matter"));
  writer.write(enc("still encrypted\n"));
  assertEquals(
    dec(await within(reader.readline(), "the echo after the abort")),
    "still encrypted\n",
  );
  assertEquals(writer.isClosing(), false);
  writer.close();
  await writer.waitClosed();
});

// ---- A large limit and a slow consumer (issue 26) ---------------------------

test("streams: with a 1 MiB limit, a consumer slower than the data that keeps every view gets every byte in order", async () => {
  // Far more unread than a few reads' worth: every fresh buffer the
  // transport reads into must have room for the unread bytes put in front.
  const total = 4 * 1024 * 1024;
  const byteAt = (i: number) =>
    i % 101 === 100 ? 0x0a : 0x41 + ((i * 7 + Math.floor(i / 101)) % 26);
  const data = new Uint8Array(total);
  for (let i = 0; i < total; i++) data[i] = byteAt(i);
  await using server = abortOnDispose(
    await startServer(
      async (_reader, writer) => {
        writer.write(data);
        await writer.drain();
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server), {
    limit: 1024 * 1024,
  });
  try {
    const kept: Uint8Array[] = [];
    let got = 0;
    let maxUnread = 0;
    for (let i = 1; got < total; i++) {
      const part = i % 2 ? await reader.readline() : await reader.read(3000);
      assert(part.length > 0, `EOF after ${got} bytes`);
      for (let k = 0; k < part.length; k++) {
        if (part[k] !== data[got + k]) {
          assertEquals(part[k], data[got + k], `byte ${got + k}`);
        }
      }
      kept.push(part);
      got += part.length;
      if (i % 16 === 0) {
        maxUnread = Math.max(maxUnread, bufferedBytes(reader));
        await delay(0); // a slow consumer: the data keeps coming meanwhile
      }
    }
    assertEquals((await reader.read()).length, 0);
    assert(maxUnread > 256 * 1024, `at most ${maxUnread} bytes were unread`);
    // Every view handed out still holds its bytes.
    let at = 0;
    for (const part of kept) {
      for (let k = 0; k < part.length; k++) {
        if (part[k] !== data[at + k]) {
          assertEquals(part[k], data[at + k], `kept view, byte ${at + k}`);
        }
      }
      at += part.length;
    }
  } finally {
    writer.close();
  }
  await writer.waitClosed();
});
