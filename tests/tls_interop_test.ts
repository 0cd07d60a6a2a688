// Copyright 2026 the @aio/net authors. MIT license.
// TLS against other stacks: openssl s_client/s_server and curl, on loopback,
// each bounded by a timeout. Without openssl or curl the tests are ignored
// and their names say why.
import { assert, assertEquals, assertMatch } from "@std/assert";
import {
  createServer,
  type ExceptionContext,
  openConnection,
  Protocol,
  type Server,
  setExceptionHandler,
  startServer,
  type TlsConnectOptions,
  type TlsListenOptions,
  type Transport,
} from "../mod.ts";
import {
  abortOnDispose,
  dec,
  enc,
  logText,
  portOf,
  test,
  tlsFixture,
  within,
  withLogs,
} from "./_helpers.ts";
import { hasCurl, hasOpenssl, peerCn, pki } from "./_tls_helpers.ts";

const { cert, key, ca } = pki;
/** How long any one openssl or curl run may take. */
const RUN_MS = 15_000;

/** A test that needs `tool`: ignored, and named so, where it is missing. */
function interop(
  tool: "openssl" | "curl",
  name: string,
  fn: () => Promise<void>,
): void {
  const present = tool === "openssl" ? hasOpenssl : hasOpenssl && hasCurl;
  test({
    name: `interop: ${name}`,
    ignore: present ? false : `${tool} is not installed`,
    fn,
  });
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command with `input` on its stdin, killed after `RUN_MS`. */
async function run(cmd: string, args: string[], input = ""): Promise<Ran> {
  const killer = new AbortController();
  const timer = setTimeout(() => killer.abort(), RUN_MS);
  try {
    const child = new Deno.Command(cmd, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: killer.signal,
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(enc(input)).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    return { code: out.code, stdout: dec(out.stdout), stderr: dec(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** `openssl s_client` to our server on 127.0.0.1, with the CA trusted. */
function sClient(server: Server, args: string[], input = ""): Promise<Ran> {
  return run("openssl", [
    "s_client",
    "-connect",
    `127.0.0.1:${portOf(server)}`,
    "-CAfile",
    tlsFixture("ca.pem"),
    "-verify_return_error",
    ...args,
  ], input);
}

/** An `openssl s_server` for one connection, on a port it picks. */
interface SServer extends AsyncDisposable {
  port: number;
  /** Everything it printed, once it has exited. */
  output: Promise<string>;
}

async function sServer(args: string[]): Promise<SServer> {
  const child = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      "127.0.0.1:0",
      "-naccept",
      "1",
      "-cert",
      tlsFixture("server.pem"),
      "-key",
      tlsFixture("server.key"),
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), RUN_MS);
  let text = "";
  const port = Promise.withResolvers<number>();
  const output = (async () => {
    const decoder = new TextDecoder();
    const [out, err] = await Promise.all([
      (async () => {
        for await (const chunk of child.stdout) {
          text += decoder.decode(chunk, { stream: true });
          const found = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(text);
          if (found) port.resolve(Number(found[1]));
        }
        return text;
      })(),
      new Response(child.stderr).text(),
    ]);
    await child.status;
    clearTimeout(timer);
    port.reject(new Error(`openssl s_server did not start:\n${out}\n${err}`));
    return out + err;
  })();
  return {
    port: await within(port.promise, "openssl s_server listening", RUN_MS),
    output,
    [Symbol.asyncDispose]: async () => {
      try {
        child.kill();
      } catch { /* it has exited */ }
      await output;
    },
  };
}

/** Greets each client with the CN of its certificate, then closes. */
class Greeter extends Protocol {
  override connectionMade(transport: Transport): void {
    transport.write(enc(`hello ${peerCn(transport)}\n`));
    transport.close();
  }
}

async function greeter(tls: TlsListenOptions): Promise<Server> {
  return abortOnDispose(
    await createServer(() => new Greeter(), "127.0.0.1", 0, { tls }),
  );
}

const mtls: TlsListenOptions = { cert, key, caCerts: [ca], requestCert: true };

interop(
  "openssl",
  "openssl s_client -cert/-key against our server requiring client certificates; without them it is refused",
  async () => {
    await withLogs(async (records) => {
      await using server = await greeter(mtls);
      const good = await sClient(server, [
        "-servername",
        "localhost",
        "-cert",
        tlsFixture("client.pem"),
        "-key",
        tlsFixture("client.key"),
        "-quiet",
      ]);
      assertEquals(good.stdout, "hello aio-net test client\n", good.stderr);
      const none = await sClient(server, [
        "-servername",
        "localhost",
        "-quiet",
      ]);
      assert(!none.stdout.includes("hello"), none.stdout);
      const untrusted = await sClient(server, [
        "-servername",
        "localhost",
        "-cert",
        tlsFixture("other_client.pem"),
        "-key",
        tlsFixture("other_client.key"),
        "-quiet",
      ]);
      assert(!untrusted.stdout.includes("hello"), untrusted.stdout);
      const refusals = records.filter((r) =>
        logText(r).includes("TLS handshake failed")
      );
      assertEquals(refusals.length, 2, records.map(logText).join("\n"));
    });
  },
);

interop(
  "openssl",
  "our client presents its certificate to openssl s_server -Verify 1; without one, openssl refuses it",
  async () => {
    const verify = [
      "-CAfile",
      tlsFixture("ca.pem"),
      "-Verify",
      "1",
      "-verify_return_error",
      "-rev",
    ];
    {
      await using peer = await sServer(verify);
      const [reader, writer] = await openConnection("127.0.0.1", peer.port, {
        tls: { serverHostname: "localhost", caCerts: [ca], ...pki.client },
      });
      writer.write(enc("hello\n"));
      assertEquals(dec(await reader.readline()), "olleh\n");
      writer.close();
      await writer.waitClosed().catch(() => {});
      const output = await peer.output;
      assertMatch(output, /Peer certificate: CN ?= ?aio-net test client/);
    }
    {
      await using peer = await sServer(verify);
      const heard = await openConnection("127.0.0.1", peer.port, {
        tls: { serverHostname: "localhost", caCerts: [ca] },
      }).then(
        async ([reader, writer]) => {
          writer.write(enc("hello\n"));
          const line = await reader.readline().then(dec, (err) => `${err}`);
          writer.close();
          await writer.waitClosed().catch(() => {});
          return line;
        },
        (err) => `rejected: ${err}`,
      );
      assert(!heard.includes("olleh"), heard);
      assertMatch(await peer.output, /certificate|alert|error/i);
    }
  },
);

interop(
  "curl",
  "curl --cert against our mutual-TLS HTTPS server; without --cert curl fails",
  async () => {
    await withLogs(async () => {
      await using server = abortOnDispose(
        await startServer(
          async (reader, writer) => {
            while ((await reader.readline()).length > 2) { /* headers */ }
            const body = `hello ${peerCn(writer)}\n`;
            writer.write(enc(
              `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n` +
                `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
            ));
            await writer.drain();
            writer.close();
          },
          "127.0.0.1",
          0,
          { tls: mtls },
        ),
      );
      const url = `https://127.0.0.1:${portOf(server)}/`;
      const common = [
        "-sS",
        "--max-time",
        "10",
        "--cacert",
        tlsFixture("ca.pem"),
      ];
      const good = await run("curl", [
        ...common,
        "--cert",
        tlsFixture("client.pem"),
        "--key",
        tlsFixture("client.key"),
        url,
      ]);
      assertEquals(good.code, 0, good.stderr);
      assertEquals(good.stdout, "hello aio-net test client\n");
      const none = await run("curl", [...common, url]);
      assert(none.code !== 0, `curl without a certificate: ${none.stdout}`);
      assert(!none.stdout.includes("hello"), none.stdout);
    });
  },
);

interop(
  "openssl",
  "openssl s_client -servername gets each name's certificate (alpha.test, beta.test), and the default without SNI",
  async () => {
    await using server = await greeter({
      cert,
      key,
      sniCertificates: { "alpha.test": pki.alpha, "beta.test": pki.beta },
    });
    for (const name of ["alpha.test", "beta.test"]) {
      const ran = await sClient(server, ["-servername", name]);
      assertMatch(ran.stdout, new RegExp(`subject=.*CN ?= ?${name}`));
      assertMatch(ran.stdout, /Verify return code: 0 \(ok\)/);
    }
    const none = await sClient(server, ["-noservername"]);
    assertMatch(none.stdout, /subject=.*CN ?= ?localhost/);
  },
);

interop(
  "openssl",
  "minVersion: openssl's TLS 1.2-only client and server are refused by TLSv1.3, and served over TLS 1.2 by default",
  async () => {
    await withLogs(async () => {
      // Our server, openssl's client.
      const versions: unknown[] = [];
      class Version extends Protocol {
        override connectionMade(transport: Transport): void {
          versions.push(transport.getExtraInfo("tlsVersion"));
          transport.write(enc("served\n"));
          transport.close();
        }
      }
      for (const minVersion of [undefined, "TLSv1.3"] as const) {
        const tls: TlsListenOptions = { cert, key };
        if (minVersion) tls.minVersion = minVersion;
        await using server = abortOnDispose(
          await createServer(() => new Version(), "127.0.0.1", 0, { tls }),
        );
        const ran = await sClient(server, [
          "-tls1_2",
          "-servername",
          "localhost",
          "-quiet",
        ]);
        assertEquals(ran.stdout.includes("served"), minVersion === undefined);
      }
      assertEquals(versions, ["TLSv1.2"]);
      // Our client, openssl's server.
      for (const minVersion of [undefined, "TLSv1.3"] as const) {
        await using peer = await sServer(["-tls1_2", "-rev"]);
        const tls: TlsConnectOptions = {
          serverHostname: "localhost",
          caCerts: [ca],
        };
        if (minVersion) tls.minVersion = minVersion;
        const result = await openConnection("127.0.0.1", peer.port, {
          tls,
          tlsHandshakeTimeout: 10_000,
        }).then(
          async ([reader, writer]) => {
            const version = writer.getExtraInfo("tlsVersion");
            writer.write(enc("abc\n"));
            const line = dec(await reader.readline());
            writer.close();
            await writer.waitClosed().catch(() => {});
            return `${version} ${line}`;
          },
          (err) => `rejected: ${err}`,
        );
        if (minVersion) assert(result.startsWith("rejected"), result);
        else assertEquals(result, "TLSv1.2 cba\n");
      }
    });
  },
);

interop(
  "openssl",
  "a client that refuses our certificate with an alert (openssl s_client trusting another CA) is reported by the server with its peer, over TLS 1.2 and 1.3",
  async () => {
    const seen: ExceptionContext[] = [];
    const previous = setExceptionHandler((context) => seen.push(context));
    try {
      await using server = abortOnDispose(
        await createServer(() => new Protocol(), "127.0.0.1", 0, {
          tls: { cert, key },
        }),
      );
      for (const version of ["-tls1_2", "-tls1_3"]) {
        const refused = await run("openssl", [
          "s_client",
          version,
          "-connect",
          `127.0.0.1:${portOf(server)}`,
          "-CAfile",
          tlsFixture("other_ca.pem"),
          "-verify_return_error",
        ]);
        assert(refused.code !== 0, refused.stderr);
      }
      const until = Date.now() + 5000;
      while (seen.length < 2 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assertEquals(seen.map((c) => c.message), [
        "TLS handshake failed: the client refused it",
        "TLS handshake failed: the client refused it",
      ]);
      for (const context of seen) {
        assertMatch(context.exception.message, /alert/i);
        assertMatch(context.peer!, /^127\.0\.0\.1:\d+$/);
        assertEquals(context.server, `127.0.0.1:${portOf(server)}`);
      }
    } finally {
      setExceptionHandler(previous);
    }
  },
);
