// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Runs every example as a user would (`deno run` in a subprocess), against
 * its server on a free port, and checks the transcript and the exit code.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import {
  ClientSession,
  MalformedResponseError,
} from "../examples/http_client.ts";
import { digest, randomBytes, socketPath, test } from "./_helpers.ts";

const root = new URL("../", import.meta.url);
/** Each test runs `deno` in subprocesses, which may type-check first: more time. */
const SUBPROCESS = { deadline: 45_000 };
/**
 * How long an example may run before it is killed: a hung example then
 * fails its test with its transcript (and a killed exit code), before the
 * test's deadline.
 */
const EXAMPLE_MS = 10_000;
/** How long a server example may take to exit after SIGTERM before SIGKILL. */
const STOP_MS = 10_000;
const NET = ["--allow-net"];
const UNIX = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];

/** Runs an example to completion. */
async function runExample(
  file: string,
  perms: string[],
  args: string[],
): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, `examples/${file}`, ...args],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(EXAMPLE_MS),
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout) + dec.decode(stderr) };
}

/** A server example running in a subprocess. */
class ServerProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  #text = "";
  readonly #done: Promise<void>;
  #ready = Promise.withResolvers<RegExpMatchArray>();

  constructor(file: string, perms: string[], args: string[], ready: RegExp) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...perms, `examples/${file}`, ...args],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.#text += chunk;
        const match = this.#text.match(ready);
        if (match) this.#ready.resolve(match);
      }
    };
    this.#done = Promise.all([
      collect(this.#child.stdout),
      collect(this.#child.stderr),
    ]).then(() => {
      this.#ready.reject(
        new Error(`server exited before it was ready:\n${this.#text}`),
      );
    });
  }

  /** Resolves with the match of the ready line. */
  get ready(): Promise<RegExpMatchArray> {
    return this.#ready.promise;
  }

  /**
   * Stops the server with SIGTERM (SIGKILL if it has not exited
   * {@linkcode STOP_MS} later); returns its exit code and transcript.
   */
  async stop(): Promise<{ code: number; out: string }> {
    try {
      this.#child.kill("SIGTERM");
    } catch { /* already gone */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_MS);
    });
    await Promise.race([this.#child.status, stuck]);
    clearTimeout(timer);
    try {
      this.#child.kill("SIGKILL");
    } catch { /* exited */ }
    const status = await this.#child.status;
    await this.#done;
    return { code: status.code, out: this.#text };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

test(
  "examples: the protocol echo client runs three times against the protocol echo server",
  SUBPROCESS,
  async () => {
    await using server = new ServerProcess("echo_server_protocol.ts", NET, [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ], /starting up on 127\.0\.0\.1 port (\d+)/);
    const port = (await server.ready)[1]!;
    for (let i = 0; i < 3; i++) {
      const { code, out } = await runExample("echo_client_protocol.ts", NET, [
        "--host",
        "127.0.0.1",
        "--port",
        port,
      ]);
      assertEquals(code, 0, out);
      assertStringIncludes(out, "main: waiting for client to complete");
      assertStringIncludes(
        out,
        `echo_client: connecting to 127.0.0.1 port ${port}`,
      );
      assertStringIncludes(out, 'echo_client: sending "This is the message. "');
      assertStringIncludes(out, 'echo_client: sending "in parts."');
      const echoed = [...out.matchAll(/echo_client: received "(.*)"/g)].map((
        m,
      ) => m[1]).join("");
      assertEquals(echoed, "This is the message. It will be sent in parts.");
      assertStringIncludes(out, "echo_client: received EOF");
    }
    const { code, out } = await server.stop();
    assertEquals(code, 0, out);
    assertEquals(out.match(/: connection accepted/g)?.length, 3);
    assertEquals(out.match(/: received EOF/g)?.length, 3);
    assertEquals(out.match(/EchoServer_127\.0\.0\.1_\d+: closing/g)?.length, 3);
    assertStringIncludes(out, "main: closing server");
  },
);

test(
  "examples: the protocol echo client sends the parts given on the command line",
  SUBPROCESS,
  async () => {
    await using server = new ServerProcess("echo_server_protocol.ts", NET, [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ], /port (\d+)/);
    const port = (await server.ready)[1]!;
    const { code, out } = await runExample("echo_client_protocol.ts", NET, [
      "--host",
      "127.0.0.1",
      "--port",
      port,
      "ping ",
      "pong",
    ]);
    assertEquals(code, 0, out);
    const echoed = [...out.matchAll(/echo_client: received "(.*)"/g)].map((m) =>
      m[1]
    ).join("");
    assertEquals(echoed, "ping pong");
  },
);

test(
  "examples: the streams echo pair (read(128), drain())",
  SUBPROCESS,
  async () => {
    await using server = new ServerProcess("echo_server_streams.ts", NET, [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ], /port (\d+)/);
    const port = (await server.ready)[1]!;
    const long = "x".repeat(300); // more than one read(128)
    const { code, out } = await runExample("echo_client_streams.ts", NET, [
      "--host",
      "127.0.0.1",
      "--port",
      port,
      "a",
      long,
    ]);
    assertEquals(code, 0, out);
    assertStringIncludes(out, "echo_client: waiting for response");
    const echoed = [...out.matchAll(/echo_client: received "(.*)"/g)].map((m) =>
      m[1]
    ).join("");
    assertEquals(echoed, "a" + long);
    assertStringIncludes(out, "echo_client: closing");
    const stopped = await server.stop();
    assertEquals(stopped.code, 0, stopped.out);
    assertStringIncludes(stopped.out, "connection accepted");
    assert(
      (stopped.out.match(/echo_127\.0\.0\.1_\d+: received/g)?.length ?? 0) >= 3,
      stopped.out,
    );
  },
);

test(
  "examples: the TCP echo pair of the streams documentation",
  SUBPROCESS,
  async () => {
    await using server = new ServerProcess("tcp_echo_server.ts", NET, [
      "--port",
      "0",
    ], /Serving on 127\.0\.0\.1:(\d+)/);
    const port = (await server.ready)[1]!;
    const { code, out } = await runExample("tcp_echo_client.ts", NET, [
      "--port",
      port,
    ]);
    assertEquals(code, 0, out);
    assertEquals(out.trim().split("\n"), [
      'Send: "Hello World!"',
      'Received: "Hello World!"',
      "Close the connection",
    ]);
    const stopped = await server.stop();
    assertEquals(stopped.code, 0, stopped.out);
    assertStringIncludes(
      stopped.out,
      'Received "Hello World!" from 127.0.0.1:',
    );
    assertStringIncludes(stopped.out, 'Send: "Hello World!"');
  },
);

test(
  "examples: the Unix echo pair over a socket path",
  SUBPROCESS,
  async () => {
    const path = socketPath("example");
    await using server = new ServerProcess("unix_echo_server.ts", UNIX, [
      "--path",
      path,
    ], /starting up on (\S+)/);
    assertEquals((await server.ready)[1], path);
    const { code, out } = await runExample("unix_echo_client.ts", UNIX, [
      "--path",
      path,
    ]);
    assertEquals(code, 0, out);
    const echoed = [...out.matchAll(/echo_client: received "(.*)"/g)].map((m) =>
      m[1]
    ).join("");
    assertEquals(echoed, "This is the message. It will be sent in parts.");
    const stopped = await server.stop();
    assertEquals(stopped.code, 0, stopped.out);
    assertStringIncludes(stopped.out, "echo_unix: connection accepted");
    // The server removed its socket file on the way out.
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  },
);

/**
 * Runs a TLS example pair: its server on a free port with the test
 * certificate, then its client trusting the test CA.
 */
async function runTlsPair(
  file: string,
  readyTag: string,
): Promise<{ client: string; server: string }> {
  const tls = "tests/fixtures/tls";
  const perms = ["--allow-net", "--allow-read"];
  await using server = new ServerProcess(
    file,
    perms,
    [
      "server",
      ...["--host", "127.0.0.1", "--port", "0"],
      ...["--cert", `${tls}/server.pem`, "--key", `${tls}/server.key`],
    ],
    new RegExp(`port (\\d+) \\(${readyTag}\\)`),
  );
  const port = (await server.ready)[1]!;
  const { code, out } = await runExample(file, perms, [
    "client",
    ...["--host", "localhost", "--port", port, "--ca", `${tls}/ca.pem`],
  ]);
  assertEquals(code, 0, out);
  const stopped = await server.stop();
  assertEquals(stopped.code, 0, stopped.out);
  return { client: out, server: stopped.out };
}

test(
  "examples: the TLS echo pair negotiates ALPN and echoes over TLS",
  SUBPROCESS,
  async () => {
    const { client, server } = await runTlsPair("tls_echo.ts", "TLS");
    assertStringIncludes(client, 'negotiated ALPN protocol "echo/1"');
    const echoed = [...client.matchAll(/echo_client: received "(.*)"/g)].map((
      m,
    ) => m[1]).join("");
    assertEquals(echoed, "This is the message. It will be sent in parts.");
    assertStringIncludes(server, "connection accepted");
  },
);

test(
  "examples: the STARTTLS pair upgrades mid-conversation on both sides",
  SUBPROCESS,
  async () => {
    const { client, server } = await runTlsPair("starttls.ts", "STARTTLS");
    const replies = [...client.matchAll(/client: reply "(.*)"/g)].map((m) =>
      m[1]
    );
    assertEquals(replies, [
      "250 hello client.example, over plain",
      "220 go ahead",
      "250 hello client.example, over TLS",
      "221 bye",
    ]);
    assertStringIncludes(
      server,
      'server: received "EHLO client.example" (TLS)',
    );
  },
);

test(
  "examples: deno task demo runs every pair and exits 0",
  SUBPROCESS,
  async () => {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["task", "demo"],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(EXAMPLE_MS),
    }).output();
    const out = new TextDecoder().decode(stdout) +
      new TextDecoder().decode(stderr);
    assertEquals(code, 0, out);
    assertEquals(out.match(/echo_client: received EOF/g)?.length, 3);
    assertStringIncludes(out, "=== Streams echo server and client");
    assertStringIncludes(out, "echo_unix: closing");
    assertStringIncludes(out, "=== done ===");
  },
);

/** A raw HTTP server that answers one request with `response`, then closes. */
function rawHttp(
  response: string,
): { url: string; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const buf = new Uint8Array(4096);
    let request = "";
    while (!request.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      request += new TextDecoder().decode(buf.subarray(0, n));
    }
    assertStringIncludes(request, "GET /path?q=1 HTTP/1.1\r\n");
    assertStringIncludes(request, "Connection: close\r\n");
    assertStringIncludes(request, `Host: 127.0.0.1:${listener.addr.port}\r\n`);
    await conn.write(new TextEncoder().encode(response));
    conn.close();
  })();
  return { url: `http://127.0.0.1:${listener.addr.port}/path?q=1`, done };
}

test(
  "examples: the HTTP client reads Content-Length, chunked and EOF-framed bodies",
  SUBPROCESS,
  async () => {
    const session = new ClientSession();
    {
      const server = rawHttp(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello",
      );
      const res = await session.get(server.url);
      await server.done;
      assertEquals([res.status, res.reason, res.headers.get("x-a")], [
        200,
        "OK",
        "1",
      ]);
      assertEquals(new TextDecoder().decode(res.body), "hello");
    }
    {
      const server = rawHttp(
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n",
      );
      const res = await session.get(server.url);
      await server.done;
      assertEquals(res.status, 201);
      assertEquals(
        new TextDecoder().decode(res.body),
        "Wikipedia in \r\n\r\nchunks.",
      );
    }
    {
      const server = rawHttp(
        "HTTP/1.0 404 Not Found\r\nServer: raw\r\n\r\nuntil the end",
      );
      const res = await session.get(server.url);
      await server.done;
      assertEquals(res.status, 404);
      assertEquals(new TextDecoder().decode(res.body), "until the end");
    }
  },
);

test(
  "examples: the HTTP client runs against Deno.serve from the command line",
  SUBPROCESS,
  async () => {
    const controller = new AbortController();
    const server = Deno.serve(
      {
        hostname: "127.0.0.1",
        port: 0,
        signal: controller.signal,
        onListen: () => {},
      },
      () => new Response("served by Deno\n", { headers: { "x-test": "yes" } }),
    );
    const { code, out } = await runExample("http_client.ts", NET, [
      `http://127.0.0.1:${server.addr.port}/`,
    ]);
    controller.abort();
    await server.finished;
    assertEquals(code, 0, out);
    assertStringIncludes(out, "HTTP 200 OK");
    assertStringIncludes(out, "x-test: yes");
    assertStringIncludes(out, "served by Deno");
  },
);

test(
  "examples: the HTTP client gives clear errors for bad URLs and malformed responses",
  SUBPROCESS,
  async () => {
    const session = new ClientSession();
    await assertRejects(
      () => session.get("not a url"),
      TypeError,
      "Invalid URL",
    );
    await assertRejects(
      () => session.get("https://127.0.0.1/"),
      TypeError,
      "only http: URLs",
    );
    for (
      const [response, message] of [
        ["SMTP ready\r\n\r\n", "Malformed status line"],
        ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "Malformed header line"],
        [
          "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
          "body ended after 5 of 10 bytes",
        ],
        [
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          "Malformed chunk size",
        ],
        ["HTTP/1.1 200 OK\r\n", "closed in the headers"],
      ]
    ) {
      const server = rawHttp(response!);
      const err = await session.get(server.url).then(() => null, (e) => e);
      await server.done;
      assertInstanceOf(err, MalformedResponseError);
      assertStringIncludes(err.message, message!);
    }
    const { code, out } = await runExample("http_client.ts", NET, [
      "ftp://example.invalid/",
    ]);
    assertEquals(code, 1);
    assertStringIncludes(out, "only http: URLs are supported");
  },
);

test(
  "examples: file_send pipes a file through writer.writable and reader.readable, byte for byte",
  SUBPROCESS,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "aio-net-file-" });
    try {
      const source = `${dir}/source.bin`;
      const dest = `${dir}/dest.bin`;
      const payload = randomBytes(5 * 1024 * 1024 + 17);
      await Deno.writeFile(source, payload);
      const { code, out } = await runExample("file_send.ts", [
        "--allow-net",
        "--allow-read",
        "--allow-write",
      ], [source, dest]);
      assertEquals(code, 0, out);
      assertStringIncludes(out, `sender: sent ${payload.length} bytes`);
      assertStringIncludes(out, `receiver: wrote ${payload.length} bytes`);
      assertStringIncludes(out, `the receiver wrote ${payload.length} bytes`);
      assertEquals(
        await digest(await Deno.readFile(dest)),
        await digest(payload),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

test(
  "examples: the UDP echo pair of the asyncio documentation",
  SUBPROCESS,
  async () => {
    await using server = new ServerProcess("udp_echo_server.ts", NET, [
      "--port",
      "0",
    ], /Serving on 127\.0\.0\.1:(\d+)/);
    const port = (await server.ready)[1]!;
    for (const words of [[], ["ping", "pong"]]) {
      const { code, out } = await runExample("udp_echo_client.ts", NET, [
        "--port",
        port,
        ...words,
      ]);
      assertEquals(code, 0, out);
      const message = words.length ? words.join(" ") : "Hello World!";
      assertEquals(out.trim().split("\n"), [
        `Send: ${message}`,
        `Received: ${message}`,
        "Close the socket",
        "Connection closed",
      ]);
    }
    const stopped = await server.stop();
    assertEquals(stopped.code, 0, stopped.out);
    const lines = stopped.out.trim().split("\n");
    assertEquals(lines.slice(0, 2), [
      "Starting UDP server",
      `Serving on 127.0.0.1:${port}`,
    ]);
    assertMatch(lines[2]!, /^Received "Hello World!" from 127\.0\.0\.1:\d+$/);
    assertMatch(lines[3]!, /^Send "Hello World!" to 127\.0\.0\.1:\d+$/);
    assertMatch(lines[4]!, /^Received "ping pong" from 127\.0\.0\.1:\d+$/);
    assertEquals(lines.length, 6);
  },
);

test(
  "examples: the UDP echo client gives up when no server answers (Deno reports no ICMP error)",
  SUBPROCESS,
  async () => {
    // Port 9 is the discard port: whatever listens there (if anything) never answers.
    const { code, out } = await runExample("udp_echo_client.ts", NET, [
      "--port",
      "9",
      "--timeout",
      "300",
    ]);
    assertEquals(code, 1, out);
    assertEquals(out.trim().split("\n"), [
      "Send: Hello World!",
      "No reply within 300 ms: is the server running?",
      "Connection closed",
    ]);
  },
);
