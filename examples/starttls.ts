// Copyright 2026 the @aio/net authors. MIT license.
/**
 * STARTTLS, the way SMTP, IMAP and PostgreSQL upgrade a plain connection to
 * TLS: a toy mail-like line protocol whose server greets, answers `EHLO`,
 * and on `STARTTLS` says "go ahead" and upgrades in place with
 * `writer.startTls({ cert, key })`; the client upgrades its side with
 * `writer.startTls({ caCerts })` and says `EHLO` again, now encrypted.
 *
 * Run the server: deno run --allow-net --allow-read examples/starttls.ts server --cert server.pem --key server.key [--port 8587]
 * Run the client: deno run --allow-net --allow-read examples/starttls.ts client --ca ca.pem [--host localhost] [--port 8587]
 *
 * Test certificates: `bash tests/fixtures/tls/make_certs.sh` makes a throwaway CA and a
 * certificate for localhost (the tests' own fixtures are in that folder).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  openConnection,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import { parseOptions, setupLogging, stopSignal } from "./_support.ts";

const log = getLogger(["main"]);
const enc = (text: string) => new TextEncoder().encode(text);
const dec = (data: Uint8Array) => new TextDecoder().decode(data);

/** Whether the writer's connection is encrypted. */
function security(writer: StreamWriter): string {
  return writer.canWriteEof() ? "plain" : "TLS";
}

/** Serves one client: greeting, then one reply per command line. */
function handler(cert: string, key: string) {
  const slog = getLogger(["server"]);
  return async (reader: StreamReader, writer: StreamWriter): Promise<void> => {
    writer.write(enc("220 aio.example ready\r\n"));
    for await (const raw of reader) {
      const line = dec(raw).trimEnd();
      slog.debug(`received ${JSON.stringify(line)} (${security(writer)})`);
      const [verb = "", ...args] = line.split(" ");
      switch (verb.toUpperCase()) {
        case "EHLO":
          writer.write(
            enc(`250 hello ${args.join(" ")}, over ${security(writer)}\r\n`),
          );
          break;
        case "STARTTLS":
          if (!writer.canWriteEof()) {
            writer.write(enc("503 already speaking TLS\r\n"));
            break;
          }
          writer.write(enc("220 go ahead\r\n"));
          // Right after the go-ahead, before awaiting anything else.
          await writer.startTls({ cert, key });
          slog.debug("upgraded to TLS");
          break;
        case "QUIT":
          writer.write(enc("221 bye\r\n"));
          await writer.drain();
          writer.close();
          return;
        default:
          writer.write(enc("500 what?\r\n"));
      }
      await writer.drain();
    }
    writer.close();
  };
}

/** Starts the server and logs where it listens. */
export async function serve(
  host: string,
  port: number,
  cert: string,
  key: string,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startServer(handler(cert, key), host, port, {
    ...(signal ? { signal } : {}),
  });
  log.debug(
    `starting up on ${host} port ${
      (server.sockets[0]!.addr as Deno.NetAddr).port
    } (STARTTLS)`,
  );
  return server;
}

/** Greets, upgrades with STARTTLS, greets again, quits. */
export async function run(
  host: string,
  port: number,
  ca: string,
): Promise<void> {
  const clog = getLogger(["client"]);
  const [reader, writer] = await openConnection(host, port);
  const ask = async (command: string): Promise<string> => {
    writer.write(enc(`${command}\r\n`));
    clog.debug(`sent ${JSON.stringify(command)} (${security(writer)})`);
    const reply = dec(await reader.readline()).trimEnd();
    clog.debug(`reply ${JSON.stringify(reply)}`);
    return reply;
  };
  clog.debug(
    `greeting ${JSON.stringify(dec(await reader.readline()).trimEnd())}`,
  );
  await ask("EHLO client.example");
  if (!(await ask("STARTTLS")).startsWith("220")) {
    throw new Error("the server refused STARTTLS");
  }
  await writer.startTls({ caCerts: [ca] });
  clog.debug(`upgraded to TLS, certificate checked against ${host}`);
  await ask("EHLO client.example");
  await ask("QUIT");
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) }).catch(
    () => {},
  );
}

/** `server --cert F --key F` or `client --ca F`. */
export async function main(
  args: string[],
  signal?: AbortSignal,
): Promise<void> {
  const [mode, ...restArgs] = args;
  const { opts } = parseOptions(restArgs);
  const host = opts.get("host") ?? "localhost";
  const port = Number(opts.get("port") ?? 8587);
  if (mode === "server") {
    const cert = await Deno.readTextFile(opts.get("cert") ?? "server.pem");
    const key = await Deno.readTextFile(opts.get("key") ?? "server.key");
    const server = await serve(host, port, cert, key, signal ?? stopSignal());
    await server.serveForever();
    log.debug("closing server");
  } else if (mode === "client") {
    const ca = await Deno.readTextFile(opts.get("ca") ?? "ca.pem");
    await run(host, port, ca);
  } else {
    throw new TypeError(
      `Usage: starttls.ts server|client [options], got ${JSON.stringify(mode)}`,
    );
  }
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
