// Copyright 2026 the @aio/net authors. MIT license.
/** What the tls_*_test.ts files share: the fixtures, and a few small waits. */
import { tlsFiles, tlsFixture } from "./_helpers.ts";

const read = (name: string) => Deno.readTextFileSync(tlsFixture(name));

/**
 * Every TLS fixture (see tests/fixtures/tls/make_certs.sh): the server's
 * certificate for localhost, a second one for rotation, SNI certificates for
 * alpha.test and beta.test, a client certificate signed by the test CA and
 * one signed by the other CA.
 */
export const pki = {
  ...tlsFiles,
  server2: { cert: read("server2.pem"), key: read("server2.key") },
  alpha: { cert: read("alpha.pem"), key: read("alpha.key") },
  beta: { cert: read("beta.pem"), key: read("beta.key") },
  client: { cert: read("client.pem"), key: read("client.key") },
  otherClient: {
    cert: read("other_client.pem"),
    key: read("other_client.key"),
  },
};

/** What `getExtraInfo("peerCertificate")` holds, as far as the tests look. */
export interface PeerCertificate {
  subject: Record<string, string>;
  subjectaltname?: string;
  fingerprint256?: string;
}

/** The peer certificate's subject CN, or `null` without one. */
export function peerCn(
  source: { getExtraInfo(name: string): unknown },
): string | null {
  const peer = source.getExtraInfo("peerCertificate") as
    | PeerCertificate
    | null;
  return peer?.subject.CN ?? null;
}

/** Whether the `openssl` command runs here. */
export const hasOpenssl = await commandRuns("openssl", ["version"]);
/** Whether the `curl` command runs here. */
export const hasCurl = await commandRuns("curl", ["--version"]);

async function commandRuns(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}
