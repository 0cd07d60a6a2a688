// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Runs a server file of `bench/servers/` unchanged, with one addition: on
 * SIGUSR2 it runs a full garbage collection, so that a benchmark can read
 * the server's RSS before and after one (`bench/burst_memory.ts`). Needs
 * `--v8-flags=--expose-gc`; the server's own arguments (`--tls`) may follow
 * its path.
 *
 * Usage: deno run -A --v8-flags=--expose-gc bench/_gc_wrapper.ts SERVER [ARGS]
 */
const [server] = Deno.args;
if (server === undefined) {
  throw new TypeError("_gc_wrapper.ts needs a server file");
}
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  throw new TypeError("_gc_wrapper.ts needs --v8-flags=--expose-gc");
}
Deno.addSignalListener("SIGUSR2", () => gc());
await import(new URL(server, `file://${Deno.cwd()}/`).href);
