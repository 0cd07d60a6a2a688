// Copyright 2026 the @aio/net authors. MIT license.
// `--tls` on an echo server's command line: serve TLS with the test
// certificate (tests/fixtures/tls, valid for localhost and 127.0.0.1).
// The server then needs --allow-read on that directory.
import type { TlsListenOptions } from "../../mod.ts";

const dir = new URL("../../tests/fixtures/tls/", import.meta.url);

/** The certificate and key to serve TLS with, or `undefined` without `--tls`. */
export const tls: TlsListenOptions | undefined = Deno.args.includes("--tls")
  ? {
    cert: Deno.readTextFileSync(new URL("server.pem", dir)),
    key: Deno.readTextFileSync(new URL("server.key", dir)),
  }
  : undefined;

/** The `tls` server option when `--tls` was given, else no options. */
export const serverOptions: { tls?: TlsListenOptions } = tls ? { tls } : {};
