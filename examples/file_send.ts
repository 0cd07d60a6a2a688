// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Sends a file over TCP with web streams: the sender pipes the file into
 * `writer.writable` (whose `close()` half-closes), the receiver pipes
 * `reader.readable` into the destination file and answers with how many
 * bytes it wrote, or `error: …` when it could not. Flow control holds both
 * ways: a slow disk or network slows the pipe instead of filling memory.
 * The sender exits with status 1 unless the receiver confirmed every byte.
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
      let reply: string;
      try {
        const file = await Deno.open(dest, {
          write: true,
          create: true,
          truncate: true,
        });
        await reader.readable.pipeTo(file.writable); // closes the file at EOF
        const { size } = await Deno.stat(dest);
        console.log(`receiver: wrote ${size} bytes to ${dest}`);
        reply = `${size}`;
      } catch (err) {
        console.error(`receiver: failed: ${(err as Error).message}`);
        reply = `error: ${(err as Error).message}`;
        // Read the rest to EOF, so that the sender gets the answer rather
        // than a reset (closing on unread bytes resets the connection).
        if (!reader.readable.locked) {
          while ((await reader.read(65536)).length > 0);
        }
      }
      writer.write(new TextEncoder().encode(`${reply}\n`));
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

/**
 * Sends `source` to a receiver and returns how many bytes it wrote; throws
 * unless the receiver confirmed every byte.
 */
export async function send(
  source: string,
  host: string,
  port: number,
): Promise<number> {
  const [reader, writer] = await openConnection(host, port);
  try {
    const file = await Deno.open(source);
    await file.readable.pipeTo(writer.writable); // then half-closes
    const { size } = await Deno.stat(source);
    console.log(`sender: sent ${size} bytes from ${source}`);
    const reply = new TextDecoder().decode(await reader.readline()).trim();
    if (!/^\d+$/.test(reply)) {
      throw new Error(
        `the receiver failed: ${reply || "it closed without an answer"}`,
      );
    }
    const written = Number(reply);
    console.log(`sender: the receiver wrote ${written} bytes`);
    if (written !== size) {
      throw new Error(`the receiver wrote ${written} of ${size} bytes`);
    }
    return written;
  } finally {
    writer.close();
    await writer.waitClosed().catch(() => {});
  }
}

/** Runs `send`, and exits with status 1 when it fails. */
async function sendOrExit(source: string, host: string, port: number) {
  try {
    await send(source, host, port);
  } catch (err) {
    console.error(`sender: ${(err as Error).message}`);
    Deno.exit(1);
  }
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
    await sendOrExit(path, host, port);
  } else if (mode && path && !other) {
    // SOURCE DEST: both ends in this process, on a free port.
    await using server = await receive(path, "127.0.0.1", 0);
    const { port } = server.sockets[0]!.addr as Deno.NetAddr;
    await sendOrExit(mode, "127.0.0.1", port);
  } else {
    console.error(
      "usage: file_send.ts SOURCE DEST | receive DEST [--port N] | send SOURCE [--host H] [--port N]",
    );
    Deno.exit(2);
  }
}

if (import.meta.main) await main(Deno.args);
