// Copyright 2026 the @aio/net authors. MIT license.
/** Helpers shared by the test files. */
import { AssertionError } from "@std/assert";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  createConnection,
  createServer,
  createUnixConnection,
  createUnixServer,
  Protocol,
  type Server,
  type ServerOptions,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from "../mod.ts";
import type { BaseProtocol, ConnectOptions } from "../protocol.ts";

/** `n` random bytes (crypto.getRandomValues fills at most 64 KiB at a time). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/** Joins byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** SHA-256 of bytes, hex. */
export async function digest(data: Uint8Array): Promise<string> {
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** UTF-8 encode. */
export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
/** UTF-8 decode. */
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Waits `ms` milliseconds (only for checks that something does NOT happen). */
export const delay = (ms: number): Promise<void> =>
  new Promise((r) => setTimeout(r, ms));

/** The first listener's port. */
export function portOf(server: Server): number {
  return (server.sockets[0]!.addr as Deno.NetAddr).port;
}

/**
 * A protocol that records every callback, keeps every byte, and exposes
 * promises for the moments tests wait on.
 */
export class Recorder extends Protocol {
  events: string[] = [];
  chunks: Uint8Array[] = [];
  received = 0;
  transport?: Transport;
  lostWith: Error | null | undefined = undefined;
  readonly made = Promise.withResolvers<Transport>();
  readonly eof = Promise.withResolvers<void>();
  readonly lost = Promise.withResolvers<Error | null>();
  #want = 0;
  #got: PromiseWithResolvers<void> | null = null;
  keepOpenOnEof = false;

  override connectionMade(transport: Transport): void {
    this.events.push("connectionMade");
    this.transport = transport;
    this.made.resolve(transport);
  }
  override dataReceived(data: Uint8Array): void {
    if (this.events.at(-1) !== "dataReceived") this.events.push("dataReceived");
    this.chunks.push(data);
    this.received += data.length;
    if (this.#got && this.received >= this.#want) this.#got.resolve();
  }
  override eofReceived(): boolean {
    this.events.push("eofReceived");
    this.eof.resolve();
    return this.keepOpenOnEof;
  }
  override connectionLost(exc: Error | null): void {
    this.events.push("connectionLost");
    this.lostWith = exc;
    this.lost.resolve(exc);
  }
  override pauseWriting(): void {
    this.events.push("pauseWriting");
  }
  override resumeWriting(): void {
    this.events.push("resumeWriting");
  }
  /** Resolves once at least `n` bytes have arrived in total. */
  receivedAtLeast(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    this.#want = n;
    this.#got = Promise.withResolvers<void>();
    return this.#got.promise;
  }
  /** Everything received so far. */
  bytes(): Uint8Array {
    return concatBytes(this.chunks);
  }
}

/** A streams echo handler: read(65536), write, drain, until EOF, then close. */
export async function streamsEcho(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  while (true) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}

/** An echo protocol. */
export class Echo extends Protocol {
  #transport?: Transport;
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    this.#transport!.write(data);
  }
}

/** A network to run the same test over: TCP on loopback, or a Unix socket. */
export interface Net {
  name: string;
  server(factory: () => BaseProtocol, options?: ServerOptions): Promise<Server>;
  connect<P extends BaseProtocol>(
    server: Server,
    factory: () => P,
    options?: ConnectOptions,
  ): Promise<[Transport, P]>;
}

/** TCP on 127.0.0.1. */
export const tcp: Net = {
  name: "TCP",
  server: (factory, options) => createServer(factory, "127.0.0.1", 0, options),
  connect: (server, factory, options) =>
    createConnection(factory, "127.0.0.1", portOf(server), options),
};

/** Captures the module's log records while `fn` runs. */
export async function withLogs<T>(
  fn: (records: LogRecord[]) => Promise<T>,
): Promise<T> {
  const records: LogRecord[] = [];
  await configure({
    sinks: { test: (r) => records.push(r) },
    loggers: [
      { category: ["aio", "net"], lowestLevel: "debug", sinks: ["test"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    return await fn(records);
  } finally {
    await reset();
  }
}

/** The rendered text of a log record. */
export function logText(record: LogRecord): string {
  return record.message.map((part) =>
    typeof part === "string" ? part : Deno.inspect(part)
  ).join("");
}

let socketDir: string | undefined;
let socketCount = 0;

/** A fresh socket path in this process's temporary directory (removed at exit). */
export function socketPath(name = "test"): string {
  if (!socketDir) {
    socketDir = Deno.makeTempDirSync({ prefix: "aio-net-" });
    globalThis.addEventListener(
      "unload",
      () => Deno.removeSync(socketDir!, { recursive: true }),
    );
  }
  return `${socketDir}/${name}-${++socketCount}.sock`;
}

/** The path a Unix server listens on. */
export function pathOf(server: Server): string {
  return (server.sockets[0]!.addr as Deno.UnixAddr).path!;
}

/** A Unix socket in a temporary directory. */
export const unix: Net = {
  name: "Unix",
  server: (factory, options) => {
    const { backlog, startServing, signal } = options ?? {};
    return createUnixServer(factory, socketPath(), {
      ...(backlog !== undefined ? { backlog } : {}),
      ...(startServing !== undefined ? { startServing } : {}),
      ...(signal !== undefined ? { signal } : {}),
    });
  },
  connect: (server, factory, options) =>
    createUnixConnection(
      factory,
      pathOf(server),
      options?.signal ? { signal: options.signal } : {},
    ),
};

/** The networks every transport test runs over. */
export const nets: Net[] = [tcp, unix];

const tlsFixtures = new URL("./fixtures/tls/", import.meta.url);

/** The path of a TLS fixture file (`ca.pem`, `server.pem`, `server.key`, …). */
export function tlsFixture(name: string): string {
  return new URL(name, tlsFixtures).pathname;
}

/** The test certificate and key (for localhost, 127.0.0.1 and ::1), the CA that signed them, and an unrelated CA. */
export const tlsFiles = {
  cert: Deno.readTextFileSync(tlsFixture("server.pem")),
  key: Deno.readTextFileSync(tlsFixture("server.key")),
  ca: Deno.readTextFileSync(tlsFixture("ca.pem")),
  otherCa: Deno.readTextFileSync(tlsFixture("other_ca.pem")),
};

/**
 * A certificate for the name localhost only (no IP address), its key, and
 * the CA that signed it: a client that checks the peer's address
 * (127.0.0.1) instead of the name it means is refused.
 */
export const nameOnlyTls = {
  cert: Deno.readTextFileSync(tlsFixture("localhost_only.pem")),
  key: Deno.readTextFileSync(tlsFixture("localhost_only.key")),
  ca: Deno.readTextFileSync(tlsFixture("name_ca.pem")),
};

/**
 * Asserts that `conn` was closed already (by the library): closing it again
 * throws `BadResource`. If it was still open, this closes it (so that a
 * failing check leaks nothing) and fails.
 */
export function assertClosed(conn: { close(): void }, what: string): void {
  try {
    conn.close();
  } catch (err) {
    if (err instanceof Deno.errors.BadResource) return;
    throw err;
  }
  throw new AssertionError(`${what}: the connection was left open`);
}

/**
 * `promise`, or a rejection naming `what` once `ms` milliseconds have passed:
 * a guard that turns an event that never comes into a failure instead of a
 * hung test. It never waits for the event itself.
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 5000,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${what}: still pending after ${ms} ms`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `server`, whose `await using` disposal closes it and aborts its
 * connections before waiting: a test that fails with a connection still
 * open ends with its error instead of hanging in the cleanup.
 */
export function abortOnDispose(server: Server): Server {
  return Object.assign(server, {
    [Symbol.asyncDispose]: async () => {
      server.close();
      server.abortClients();
      await server.waitClosed();
    },
  });
}

/**
 * Whether this process still has a socket bound to `port` (TCP: listening),
 * asked without letting the event loop turn (a sync child process): a
 * socket that Deno releases only on a later tick is still seen.
 */
export function boundHere(transport: "tcp" | "udp", port: number): boolean {
  const out = new Deno.Command("ss", {
    args: [transport === "tcp" ? "-ltnpH" : "-lunpH", `sport = :${port}`],
  }).outputSync();
  return new TextDecoder().decode(out.stdout).includes(`pid=${Deno.pid},`);
}

/**
 * Whether a check that found `port` still taken just after we released it
 * should wait and try again (at most 5 times): yes when this process holds
 * no socket there any more. Other test files run in other threads of this
 * process, and some spawn child processes: a child holds copies of every
 * descriptor of ours until it execs, a socket just closed included
 * (measured: 342 of 22,230 rebinds failed while another thread spawned
 * processes, none without). The wait blocks, so that no tick of ours passes:
 * a socket that we ourselves release late is still caught.
 */
export function passingHold(
  transport: "tcp" | "udp",
  port: number,
  attempt: number,
): boolean {
  if (attempt >= 5 || boundHere(transport, port)) return false;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  return true;
}
