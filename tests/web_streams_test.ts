// Copyright 2026 the @aio/net authors. MIT license.
// reader.readable and writer.writable: the streams API as web streams.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import nodeNet from "node:net";
import { openConnection, startServer, type StreamWriter } from "../mod.ts";
import {
  abortOnDispose,
  dec,
  digest,
  enc,
  portOf,
  randomBytes,
  streamsEcho,
  test,
  tlsFiles,
  within,
} from "./_helpers.ts";

const { cert, key, ca } = tlsFiles;

/** A server that echoes, and the client's reader and writer. */
async function echoPair() {
  const server = abortOnDispose(
    await startServer(streamsEcho, "127.0.0.1", 0),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  return { server, reader, writer };
}

test("reader.readable is one byte stream per reader: a BYOB reader reads into its own buffer, EOF closes it", async () => {
  const { server, reader, writer } = await echoPair();
  await using _ = server;
  assertStrictEquals(reader.readable, reader.readable);
  writer.write(enc("hello, bytes"));
  writer.writeEof();
  const byob = reader.readable.getReader({ mode: "byob" });
  const mine = new Uint8Array(64);
  let got = "";
  let buffer: Uint8Array = mine;
  while (true) {
    const { value, done } = await within(byob.read(buffer), "a BYOB read");
    if (done) break;
    got += dec(value);
    buffer = new Uint8Array(value.buffer); // the same memory, handed back
  }
  assertEquals(got, "hello, bytes");
  byob.releaseLock();
  writer.close();
  await writer.waitClosed();
});

test("reader.readable pipes through TextDecoderStream, after a line read directly", async () => {
  const text = "première ligne\n" + "ünïcödé ".repeat(20_000);
  await using server = abortOnDispose(
    await startServer(
      (_reader, writer) => {
        writer.write(enc(text));
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  assertEquals(dec(await reader.readline()), "première ligne\n");
  let rest = "";
  for await (
    const part of reader.readable.pipeThrough(new TextDecoderStream())
  ) {
    rest += part;
  }
  assertEquals(rest, text.slice("première ligne\n".length));
  writer.close();
});

test("reader.readable errors with the connection's error when the peer resets", async () => {
  const accepted = Promise.withResolvers<nodeNet.Socket>();
  const peer = nodeNet.createServer((socket) => accepted.resolve(socket));
  await new Promise<void>((resolve) => peer.listen(0, "127.0.0.1", resolve));
  const port = (peer.address() as { port: number }).port;
  try {
    const [reader, writer] = await openConnection("127.0.0.1", port);
    const socket = await accepted.promise;
    socket.write("partial");
    const streamReader = reader.readable.getReader();
    assertEquals(dec((await streamReader.read()).value!), "partial");
    socket.resetAndDestroy();
    const err = await streamReader.read().then(() => null, (e) => e);
    assertInstanceOf(err, Deno.errors.ConnectionReset);
    await assertRejects(() => writer.waitClosed(), Deno.errors.ConnectionReset);
  } finally {
    await new Promise((resolve) => peer.close(resolve));
  }
});

test("a direct read or write while the web stream is locked is refused with an Error naming it", async () => {
  const { server, reader, writer } = await echoPair();
  await using _ = server;
  const streamReader = reader.readable.getReader();
  for (
    const call of [
      () => reader.read(1),
      () => reader.readline(),
      () => reader.readexactly(1),
      () => reader.readuntil("x"),
      () => reader.readInto(new Uint8Array(1)),
    ]
  ) {
    await assertRejects(call, Error, "reader.readable is locked");
  }
  const streamWriter = writer.writable.getWriter();
  assertThrows(
    () => writer.write(enc("x")),
    Error,
    "writer.writable is locked",
  );
  assertThrows(() => writer.writelines([]), Error, "writer.writable is locked");
  assertThrows(() => writer.writeEof(), Error, "writer.writable is locked");
  // Through the streams, the bytes still flow.
  await streamWriter.write(enc("via streams"));
  assertEquals(dec((await streamReader.read()).value!), "via streams");
  streamReader.releaseLock();
  streamWriter.releaseLock();
  // Unlocked, the direct calls work again.
  writer.write(enc("!"));
  assertEquals(dec(await reader.read(1)), "!");
  writer.close();
  await writer.waitClosed();
});

test("writer.writable: pipeTo of a file arrives byte for byte; close() half-closes and the reply still comes", async () => {
  const payload = randomBytes(5 * 1024 * 1024 + 123);
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeFile(path, payload);
    await using server = abortOnDispose(
      await startServer(
        async (reader, writer) => {
          const body = await reader.read(); // to EOF
          writer.write(enc(`${body.length} ${await digest(body)}`));
          writer.close();
        },
        "127.0.0.1",
        0,
      ),
    );
    const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
    using file = await Deno.open(path);
    await file.readable.pipeTo(writer.writable);
    assertEquals(writer.isClosing(), false); // half-closed, still reading
    assertEquals(
      dec(await reader.read()),
      `${payload.length} ${await digest(payload)}`,
    );
    // Both directions done: the connection closed itself.
    await writer.waitClosed();
    assertEquals(writer.isClosing(), true);
  } finally {
    await Deno.remove(path);
  }
});

test("writer.writable over TLS: close() closes the connection (TLS cannot half-close)", async () => {
  const got = Promise.withResolvers<string>();
  await using server = abortOnDispose(
    await startServer(
      async (reader) => {
        got.resolve(dec(await reader.read()));
      },
      "127.0.0.1",
      0,
      { tls: { cert, key } },
    ),
  );
  const [, writer] = await openConnection("localhost", portOf(server), {
    tls: { caCerts: [ca] },
  });
  const w = writer.writable.getWriter();
  await w.write(enc("over "));
  await w.write(enc("tls"));
  await w.close();
  assertEquals(await got.promise, "over tls");
  await writer.waitClosed();
});

test("writer.writable.abort() aborts the connection at once: what is buffered is dropped, not flushed, and the peer sees the end", async () => {
  // A peer that reads nothing: a graceful close could never finish.
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const [, writer] = await openConnection("127.0.0.1", listener.addr.port);
  const peer = await accepted;
  try {
    writer.write(new Uint8Array(32 * 1024 * 1024)); // far more than the kernel holds
    assert(writer.transport.getWriteBufferSize() > 0);
    await writer.writable.abort(new Error("stop"));
    assertEquals(writer.isClosing(), true);
    // Dropped at once, not flushed to a peer that does not read.
    assertEquals(writer.transport.getWriteBufferSize(), 0);
    await within(writer.waitClosed(), "the aborted connection's end");
    // The peer sees the end (after what the kernel had taken).
    const buf = new Uint8Array(1 << 20);
    let end: number | null | Error;
    do {
      end = await within(
        peer.read(buf).catch((e: Error) => e),
        "the peer's end",
      );
    } while (typeof end === "number");
    assert(
      end === null || end instanceof Deno.errors.ConnectionReset,
      `${end}`,
    );
  } finally {
    writer.transport.abort();
    peer.close();
  }
});

test("reader.readable.cancel() drops what is unread and what comes; the connection closes once the write side is done", async () => {
  const serverSide = Promise.withResolvers<StreamWriter>();
  const release = Promise.withResolvers<void>();
  await using server = abortOnDispose(
    await startServer(
      async (reader, writer) => {
        writer.write(new Uint8Array(200_000)); // more than the client will read
        await writer.drain();
        serverSide.resolve(writer);
        await reader.read(); // until the client's EOF
        await release.promise; // the server's side stays open meanwhile
        writer.close();
      },
      "127.0.0.1",
      0,
    ),
  );
  const [reader, writer] = await openConnection("127.0.0.1", portOf(server));
  try {
    const streamReader = reader.readable.getReader();
    assert((await streamReader.read()).value!.length > 0);
    await streamReader.cancel();
    const peer = await serverSide.promise;
    peer.write(new Uint8Array(100_000)); // dropped on arrival
    assertEquals(reader.atEof(), true);
    assertEquals(writer.isClosing(), false); // the write side is still open
    writer.write(enc("still writing"));
    await writer.writable.close(); // half-close: now both sides are done
    // The client closes by itself, while the server still holds its side.
    await within(writer.waitClosed(), "the client closing itself");
    assertEquals(writer.isClosing(), true);
  } finally {
    release.resolve();
    writer.transport.abort();
  }
});

/**
 * Runs `bench/pipe_rss.ts`-style piping in a process of its own, where RSS
 * means something (test modules share a process).
 */
async function pipeInOwnProcess(mib: number): Promise<Record<string, number>> {
  const script = `
import { openConnection, startServer } from "./mod.ts";
const MiB = 1024 * 1024;
const total = ${mib} * MiB;
let maxServerBuffered = 0, maxClientBuffer = 0, received = 0, bad = 0;
const done = Promise.withResolvers();
await using server = await startServer(async (reader, writer) => {
  // A slow reader: small reads with a pause every 4 MiB.
  const buf = new Uint8Array(64 * 1024);
  let n, next = 4 * MiB;
  while ((n = await reader.readInto(buf)) > 0) {
    for (let i = 0; i < n; i += 4096) if (buf[i] !== (((received + i) >> 16) & 255)) bad++;
    received += n;
    if (received >= next) { next += 4 * MiB; await new Promise((r) => setTimeout(r, 20)); }
  }
  writer.close();
  done.resolve();
}, "127.0.0.1", 0);
const [, writer] = await openConnection("127.0.0.1", server.sockets[0].addr.port);
const before = Deno.memoryUsage().rss;
let peak = before, sent = 0;
const source = new ReadableStream({
  pull(controller) {
    if (sent >= total) return controller.close();
    const chunk = new Uint8Array(64 * 1024).fill((sent >> 16) & 255);
    sent += chunk.length;
    maxClientBuffer = Math.max(maxClientBuffer, writer.transport.getWriteBufferSize());
    peak = Math.max(peak, Deno.memoryUsage().rss);
    controller.enqueue(chunk);
  },
}, { highWaterMark: 1 });
await source.pipeTo(writer.writable);
await done.promise;
console.log(JSON.stringify({ received, bad, maxClientBuffer, rssGrowthMiB: (peak - before) / MiB }));
`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: new URL("..", import.meta.url).pathname,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
    // A pipe that stalls is killed, and fails the test with its output.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

test(
  "pipeTo into writer.writable holds back for a slow reader: 256 MiB piped with bounded buffers and RSS",
  { deadline: 90_000 },
  async () => {
    const result = await pipeInOwnProcess(256);
    assertEquals(result.received, 256 * 1024 * 1024);
    assertEquals(result.bad, 0);
    // The write buffer stays near its high watermark (64 KiB) plus one chunk.
    assert(
      result.maxClientBuffer! <= 64 * 1024 + 64 * 1024,
      `write buffer reached ${result.maxClientBuffer}`,
    );
    assert(
      result.rssGrowthMiB! < 64,
      `RSS grew by ${result.rssGrowthMiB!.toFixed(1)} MiB`,
    );
  },
);
