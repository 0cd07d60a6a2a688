// Copyright 2026 the @aio/net authors. MIT license.
// Our streams echo after STARTTLS: accepts plain TCP, reads "STARTTLS\r\n",
// answers "OK\r\n", upgrades in place with writer.startTls (node:tls over
// the existing transport), then echoes as aio_streams.ts does. Needs --tls
// (the test certificate, see _tls.ts); the load clients speak it with their
// "starttls" argument.
import { startServer } from "../../mod.ts";
import { echoStreams } from "./_echo.ts";
import { tls } from "./_tls.ts";

if (!tls) throw new Error("aio_starttls.ts needs --tls (the certificate)");
const { cert, key } = tls;
const request = "STARTTLS\r\n";
const server = await startServer(
  async (reader, writer) => {
    const line = new TextDecoder().decode(await reader.readline());
    if (line !== request) {
      console.error(
        `aio_starttls: expected STARTTLS, got ${JSON.stringify(line)}`,
      );
      writer.close();
      return;
    }
    writer.write(new TextEncoder().encode("OK\r\n"));
    await writer.startTls({ cert, key });
    await echoStreams(reader, writer);
  },
  "127.0.0.1",
  0,
);
console.log((server.sockets[0]!.addr as Deno.NetAddr).port);
await server.serveForever();
