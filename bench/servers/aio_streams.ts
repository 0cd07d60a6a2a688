// Copyright 2026 the @aio/net authors. MIT license.
// Our streams echo: read(65536), write, drain; over TLS with --tls.
import { startServer } from "../../mod.ts";
import { echoStreams } from "./_echo.ts";
import { serverOptions } from "./_tls.ts";
const server = await startServer(
  echoStreams,
  "127.0.0.1",
  0,
  serverOptions,
);
console.log((server.sockets[0]!.addr as Deno.NetAddr).port);
await server.serveForever();
