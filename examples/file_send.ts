// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Sends a file over TCP with web streams: the sender pipes the file into
 * `writer.writable` (whose `close()` half-closes), the receiver pipes
 * `reader.readable` into the destination file and answers with how many
 * bytes it wrote. Flow control holds both ways: a slow disk or network
 * slows the pipe instead of filling memory.
 *
 * Run both ends in one process:
 *   deno run --allow-net --allow-read --allow-write examples/file_send.ts SOURCE DEST
 * or each on its own:
 *   deno run --allow-net --allow-write examples/file_send.ts receive DEST [--port 8889]
 *   deno run --allow-net --allow-read examples/file_send.ts send SOURCE [--host 127.0.0.1] [--port 8889]
 *
 * @module
 */
import {
  openConnection,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import { parseExampleArgs, stopSignal } from "./_support.ts";

/** Starts a server that writes what each client sends into `dest`. */
export async function receive(
  dest: string,
  host: string,
  port: number,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startServer(
    async (reader: StreamReader, writer: StreamWriter) => {
      const file = await Deno.open(dest, {
        write: true,
        create: true,
        truncate: true,
      });
      await reader.readable.pipeTo(file.writable); // closes the file at EOF
      const { size } = await Deno.stat(dest);
      console.log(`receiver: wrote ${size} bytes to ${dest}`);
      writer.write(new TextEncoder().encode(`${size}\n`));
      writer.close();
    },
    host,
    port,
    signal ? { signal } : {},
  );
  const addr = server.sockets[0]!.addr as Deno.NetAddr;
  console.log(`receiver: listening on ${addr.hostname}:${addr.port}`);
  return server;
}

/** Sends `source` to a receiver and returns how many bytes it wrote. */
export async function send(
  source: string,
  host: string,
  port: number,
): Promise<number> {
  const [reader, writer] = await openConnection(host, port);
  const file = await Deno.open(source);
  await file.readable.pipeTo(writer.writable); // then half-closes
  const { size } = await Deno.stat(source);
  console.log(`sender: sent ${size} bytes from ${source}`);
  const written = Number(new TextDecoder().decode(await reader.readline()));
  console.log(`sender: the receiver wrote ${written} bytes`);
  await writer.waitClosed();
  return written;
}

/** The command-line entry point. */
export async function main(args: string[]): Promise<void> {
  const { host, port, rest } = parseExampleArgs(args, {
    host: "127.0.0.1",
    port: 8889,
  });
  const [mode, path, other] = rest;
  if (mode === "receive" && path) {
    await using server = await receive(path, host, port, stopSignal());
    await server.serveForever();
  } else if (mode === "send" && path) {
    await send(path, host, port);
  } else if (mode && path && !other) {
    // SOURCE DEST: both ends in this process, on a free port.
    await using server = await receive(path, "127.0.0.1", 0);
    const { port } = server.sockets[0]!.addr as Deno.NetAddr;
    const written = await send(mode, "127.0.0.1", port);
    if (written !== (await Deno.stat(mode)).size) Deno.exit(1);
  } else {
    console.error(
      "usage: file_send.ts SOURCE DEST | receive DEST [--port N] | send SOURCE [--host H] [--port N]",
    );
    Deno.exit(2);
  }
}

if (import.meta.main) await main(Deno.args);
