// Copyright 2026 the @aio/net authors. MIT license.
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import nodeNet from "node:net";
import {
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
  Protocol,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
} from "../mod.ts";
import {
  abortOnDispose,
  boundHere,
  Echo,
  enc,
  needsCommand,
  passingHold,
  pathOf,
  portOf,
  Recorder,
  socketPath,
  streamsEcho,
  test,
  tlsFiles,
  withLogs,
} from "./_helpers.ts";

const { cert, key, ca } = tlsFiles;
/**
 * A loopback address of these tests' own: other tests, running at the same
 * time, bind port 0 on 127.0.0.1 and could be given a port just released
 * here.
 */
const HOST = "127.0.0.53";

/**
 * A free port below Linux's ephemeral range (32768 and up): port 0 would
 * pick from that range, where a client's connect or a port-0 bind of
 * another test (one on every interface, say) could take a port just
 * released here.
 */
function freePort(): number {
  while (true) {
    const port = 20000 + Math.floor(Math.random() * 12768);
    try {
      Deno.listen({ hostname: HOST, port }).close();
      return port;
    } catch (err) {
      if (!(err instanceof Deno.errors.AddrInUse)) throw err;
    }
  }
}

/** A kind of server whose address must be free again once it is closed. */
interface Kind {
  name: string;
  start(address?: string | number): Promise<Server>;
  /** Where the server listens: a port or a path. */
  address(server: Server): string | number;
  /** Echoes one message over a new connection, then closes it. */
  echo(server: Server): Promise<void>;
  /** Connects to `address` without any server: must be refused. */
  refused(address: string | number): Promise<Error>;
  /** Binds `address` with Deno directly, then closes the listener. */
  rebind(address: string | number): void;
}

/** Server-side connections not yet gone (for the servers made here). */
let serverSide = 0;
let serverSideGone = Promise.withResolvers<void>();
function track(): void {
  serverSide++;
}
function untrack(): void {
  if (--serverSide === 0) {
    serverSideGone.resolve();
    serverSideGone = Promise.withResolvers<void>();
  }
}

/** An echo protocol that counts itself in `serverSide`. */
class TrackedEcho extends Echo {
  constructor() {
    super();
    track();
  }
  override connectionLost(): void {
    untrack();
  }
}

/** The streams echo, counted in `serverSide`. */
async function trackedStreamsEcho(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  track();
  try {
    await streamsEcho(reader, writer);
    await writer.waitClosed();
  } finally {
    untrack();
  }
}

/**
 * Echoes one message over a new connection and closes it, then waits until
 * the server's side of it is gone too: the server then has no connection
 * left, so that `waitClosed()` has nothing to wait for but its listeners.
 */
async function echoOver(
  connect: () => Promise<
    [{ write(d: Uint8Array): void; close(): void }, Recorder]
  >,
): Promise<void> {
  const gone = serverSideGone.promise;
  const [transport, client] = await connect();
  transport.write(enc("ping"));
  await client.receivedAtLeast(4);
  transport.close();
  await client.lost.promise;
  await gone;
}

const tcpRefused = async (port: string | number): Promise<Error> => {
  assert(!boundHere("tcp", port as number), "still listening after close");
  for (let attempt = 0;; attempt++) {
    const err = await Deno.connect({ hostname: HOST, port: port as number })
      .then(
        (conn) => {
          conn.close();
          return new Error("connected");
        },
        (err: Error) => err,
      );
    if (
      err.message !== "connected" ||
      !passingHold("tcp", port as number, attempt)
    ) {
      return err;
    }
  }
};
const tcpRebind = (port: string | number) => {
  for (let attempt = 0;; attempt++) {
    try {
      Deno.listen({ hostname: HOST, port: port as number }).close();
      return;
    } catch (err) {
      if (
        !(err instanceof Deno.errors.AddrInUse) ||
        !passingHold("tcp", port as number, attempt)
      ) throw err;
    }
  }
};

const kinds: Kind[] = [
  {
    name: "TCP",
    start: (port) =>
      createServer(
        () => new TrackedEcho(),
        HOST,
        (port as number) ?? freePort(),
      ),
    address: portOf,
    echo: (server) =>
      echoOver(() =>
        createConnection(() => new Recorder(), HOST, portOf(server))
      ),
    refused: tcpRefused,
    rebind: tcpRebind,
  },
  {
    name: "TLS",
    start: (port) =>
      startServer(trackedStreamsEcho, HOST, (port as number) ?? freePort(), {
        tls: { cert, key },
      }),
    address: portOf,
    echo: (server) =>
      echoOver(() =>
        createConnection(() => new Recorder(), HOST, portOf(server), {
          tls: { caCerts: [ca], serverHostname: "localhost" },
        })
      ),
    refused: tcpRefused,
    rebind: tcpRebind,
  },
  {
    name: "Unix",
    start: (path) =>
      createUnixServer(
        () => new TrackedEcho(),
        (path as string) ?? socketPath(),
      ),
    address: pathOf,
    echo: (server) =>
      echoOver(() =>
        createUnixConnection(() => new Recorder(), pathOf(server))
      ),
    refused: (path) =>
      Deno.connect({ transport: "unix", path: path as string }).then(
        (conn) => {
          conn.close();
          return new Error("connected");
        },
        (err: Error) => err,
      ),
    rebind: (path) =>
      Deno.listen({ transport: "unix", path: path as string }).close(),
  },
];

/**
 * Checks, at once (no tick in between), that `address` can be bound again,
 * or that a connect to it is refused.
 */
async function assertReleased(
  kind: Kind,
  address: string | number,
  check: "rebind" | "refused",
) {
  if (check === "rebind") {
    kind.rebind(address);
    return;
  }
  const err = await kind.refused(address);
  if (kind.name === "Unix") {
    // The socket file is gone with the server.
    assertInstanceOf(err, Deno.errors.NotFound);
  } else {
    assertInstanceOf(err, Deno.errors.ConnectionRefused);
  }
}

/** `kind.start(address)`, through a child's passing hold (see `passingHold`). */
async function startAgain(
  kind: Kind,
  address: string | number,
): Promise<Server> {
  for (let attempt = 0;; attempt++) {
    try {
      return await kind.start(address);
    } catch (err) {
      if (
        !(err instanceof Deno.errors.AddrInUse) ||
        typeof address !== "number" ||
        !passingHold("tcp", address, attempt)
      ) throw err;
    }
  }
}

const checks = ["rebind", "refused"] as const;

/**
 * `kind.echo(server)`; if it fails, the server's connections are aborted
 * first, so that disposing of the server cannot hang on a client the failed
 * check left open.
 */
async function echoOrAbort(kind: Kind, server: Server): Promise<void> {
  try {
    await kind.echo(server);
  } catch (err) {
    server.abortClients();
    throw err;
  }
}

for (const kind of kinds) {
  for (const check of checks) {
    // A TCP "refused" check asks ss whether this process still listens.
    const options = {
      ignore: check === "refused" && kind.name !== "Unix" &&
        needsCommand("ss", "the ss command (iproute2)"),
    };
    test(
      `${kind.name}: after close() and waitClosed() the address is ${
        check === "rebind" ? "free to bind" : "refused"
      } at once`,
      options,
      async () => {
        for (let round = 0; round < 5; round++) {
          const server = await kind.start();
          const address = kind.address(server);
          try {
            await kind.echo(server); // the accept loop is waiting again
          } catch (err) {
            server.close();
            server.abortClients();
            throw err;
          }
          server.close();
          await server.waitClosed();
          await assertReleased(kind, address, check);
        }
      },
    );

    test(
      `${kind.name}: when an await using block ends, the address is ${
        check === "rebind" ? "free to bind" : "refused"
      } at once`,
      options,
      async () => {
        for (let round = 0; round < 5; round++) {
          let address: string | number;
          {
            await using server = await kind.start();
            await echoOrAbort(kind, server);
            address = kind.address(server);
          }
          await assertReleased(kind, address, check);
        }
      },
    );
  }

  test(`${kind.name}: a new server takes the address of one just closed, and serves`, async () => {
    const server = await kind.start();
    await echoOrAbort(kind, server);
    const address = kind.address(server);
    await server[Symbol.asyncDispose]();
    await using again = await startAgain(kind, address);
    assertEquals(kind.address(again), address);
    await echoOrAbort(kind, again);
  });
}

test("a server that never served releases its port at close", async () => {
  const server = await createServer(() => new Protocol(), HOST, 0, {
    startServing: false,
  });
  const port = portOf(server);
  server.close();
  await server.waitClosed();
  await assertReleased(kinds[0]!, port, "rebind");
});

test("clients that reset before they are accepted are skipped quietly, and the next client is served at once", async () => {
  await withLogs(async (records) => {
    const made = Promise.withResolvers<void>();
    class Served extends Protocol {
      override connectionMade(): void {
        made.resolve();
      }
    }
    // Not accepting yet: the resets wait in the backlog.
    await using server = abortOnDispose(
      await createServer(
        () => new Served(),
        "127.0.0.1",
        0,
        {
          startServing: false,
        },
      ),
    );
    const port = portOf(server);
    // Five clients connect (the kernel completes the handshake, unaccepted)
    // and reset (SO_LINGER 0).
    for (let i = 0; i < 5; i++) {
      const socket = nodeNet.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.resetAndDestroy();
      await new Promise((resolve) => socket.once("close", resolve));
    }
    await server.startServing();
    const started = performance.now();
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await made.promise;
    const waited = performance.now() - started;
    conn.close();
    // An accept error used to log at error level and pause accepting 100 ms each.
    assert(waited < 100, `served after ${waited.toFixed(0)} ms`);
    assertEquals(records.filter((r) => r.level === "error"), []);
  });
});
