// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Runs a server file of `bench/servers/` unchanged, with two additions, so
 * that a benchmark can read where the server's RSS is
 * (`bench/burst_memory.ts`): on SIGUSR2 it runs V8's most thorough garbage
 * collection (`flavor: "last-resort"`, the one V8 runs before it gives up
 * on memory: it gives back the heap pages it emptied, which an ordinary
 * full collection may keep, as `tests/fixtures/burst_server.ts` does);
 * on SIGHUP it calls glibc's `malloc_trim(0)` through FFI, which gives the
 * system the free pages inside the malloc heap (glibc's `free` returns only
 * the free top of the heap). Needs `--v8-flags=--expose-gc` (and FFI, in
 * `-A`); the server's own arguments (`--tls`) may follow its path. Where
 * there is no glibc, SIGHUP says so on stderr and trims nothing.
 *
 * Usage: deno run -A --v8-flags=--expose-gc bench/_gc_wrapper.ts SERVER [ARGS]
 */
const [server] = Deno.args;
if (server === undefined) {
  throw new TypeError("_gc_wrapper.ts needs a server file");
}
const gc = (globalThis as {
  gc?: (
    options: { type: "major"; execution: "sync"; flavor: "last-resort" },
  ) => void;
}).gc;
if (gc === undefined) {
  throw new TypeError("_gc_wrapper.ts needs --v8-flags=--expose-gc");
}
Deno.addSignalListener(
  "SIGUSR2",
  () => gc({ type: "major", execution: "sync", flavor: "last-resort" }),
);
Deno.addSignalListener("SIGHUP", () => {
  try {
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    libc.symbols.malloc_trim(0n);
    libc.close();
  } catch (err) {
    console.error(`_gc_wrapper.ts: no malloc_trim here: ${err}`);
  }
});
await import(new URL(server, `file://${Deno.cwd()}/`).href);
