// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The streams echo pair (002) over TLS: a server with a certificate and key,
 * and a client that trusts the CA that signed it and offers ALPN.
 *
 * Run the server: deno run --allow-net --allow-read examples/tls_echo.ts server --cert server.pem --key server.key [--port 8443]
 * Run the client: deno run --allow-net --allow-read examples/tls_echo.ts client --ca ca.pem [--host localhost] [--port 8443] [part...]
 *
 * Test certificates: `bash tests/fixtures/tls/make_certs.sh` makes a throwaway CA and a
 * certificate for localhost (the tests' own fixtures are in that folder).
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { openConnection, type Server, startServer } from "../mod.ts";
import { echo } from "./echo_server_streams.ts";
import { parseOptions, setupLogging, show, stopSignal } from "./_support.ts";

const log = getLogger(["main"]);
const MESSAGES = ["This is the message. ", "It will be sent ", "in parts."];

/** Starts the TLS echo server and logs where it listens. */
export async function serve(
  host: string,
  port: number,
  cert: string,
  key: string,
  signal?: AbortSignal,
): Promise<Server> {
  const server = await startServer(echo, host, port, {
    tls: { cert, key, alpnProtocols: ["echo/1"] },
    ...(signal ? { signal } : {}),
  });
  log.debug(
    `starting up on ${host} port ${
      (server.sockets[0]!.addr as Deno.NetAddr).port
    } (TLS)`,
  );
  return server;
}

/**
 * Runs one exchange over TLS, trusting `ca`. TLS cannot half-close
 * (`canWriteEof()` is false), so the client reads back as many bytes as it
 * sent and then closes, instead of waiting for EOF.
 */
export async function run(
  host: string,
  port: number,
  ca: string,
  messages: string[] = MESSAGES,
): Promise<void> {
  const clog = getLogger(["echo_client"]);
  clog.debug(`connecting to ${host} port ${port} over TLS`);
  const [reader, writer] = await openConnection(host, port, {
    tls: { caCerts: [ca], alpnProtocols: ["echo/1"] },
  });
  clog.debug(
    `negotiated ALPN protocol ${
      JSON.stringify(writer.getExtraInfo("alpnProtocol"))
    }`,
  );
  let expected = 0;
  for (const msg of messages) {
    const data = new TextEncoder().encode(msg);
    writer.write(data);
    expected += data.length;
    clog.debug(`sending ${show(data)}`);
  }
  await writer.drain();
  clog.debug("waiting for response");
  while (expected > 0) {
    const data = await reader.read(128);
    if (data.length === 0) break;
    expected -= data.length;
    clog.debug(`received ${show(data)}`);
  }
  clog.debug("closing");
  writer.close();
  await writer.waitClosed({ signal: AbortSignal.timeout(5000) }).catch(
    () => {},
  );
  log.debug("closing");
}

/** `server --cert F --key F` or `client --ca F`. */
export async function main(
  args: string[],
  signal?: AbortSignal,
): Promise<void> {
  const [mode, ...restArgs] = args;
  const { opts, rest } = parseOptions(restArgs);
  const host = opts.get("host") ?? "localhost";
  const port = Number(opts.get("port") ?? 8443);
  if (mode === "server") {
    const cert = await Deno.readTextFile(opts.get("cert") ?? "server.pem");
    const key = await Deno.readTextFile(opts.get("key") ?? "server.key");
    const server = await serve(host, port, cert, key, signal ?? stopSignal());
    await server.serveForever();
    log.debug("closing server");
  } else if (mode === "client") {
    const ca = await Deno.readTextFile(opts.get("ca") ?? "ca.pem");
    await run(host, port, ca, rest.length > 0 ? rest : MESSAGES);
  } else {
    throw new TypeError(
      `Usage: tls_echo.ts server|client [options], got ${JSON.stringify(mode)}`,
    );
  }
}

if (import.meta.main) {
  await setupLogging();
  await main(Deno.args);
}
