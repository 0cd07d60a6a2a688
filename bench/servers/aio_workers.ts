// Copyright 2026 the @aio/net authors. MIT license.
// Our Protocol echo from N Web Workers on one port (reusePort): the workers of
// examples/workers.ts. Linux only; run with
//   deno run --allow-net --allow-read=. --unstable-net bench/servers/aio_workers.ts [N]
// from the repository's root (N defaults to 2). Prints the port, as every
// server here does; docs/every-core.md has the measurement that uses it.
// Not pinned to one CPU like the servers of bench/echo.ts: it is meant to
// use several.
import { startWorkers } from "../../examples/workers.ts";

const workers = Number(Deno.args[0] ?? 2);
const pool = await startWorkers({ workers, host: "127.0.0.1", port: 0 });
console.log(pool.port);
const error = await pool.failed; // the workers keep the process alive until then
console.error(error.message);
Deno.exit(1);
