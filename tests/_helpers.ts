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

// ---- Registering tests ----------------------------------------------------------

/** How long a test may run before it fails as hung, unless it sets `deadline`. */
export const DEFAULT_DEADLINE_MS = 30_000;

/** A test body, as `Deno.test` takes it. */
export type TestFn = (t: Deno.TestContext) => void | Promise<void>;

/** What may be said of a test besides its name and body. */
export interface TestOptions {
  /** Milliseconds before the test fails as hung (default 30 s). */
  deadline?: number;
  /**
   * Why the test cannot run here (`ss` missing, no IPv6, …), or `false` to
   * run it. The reason is shown with the test's name.
   */
  ignore?: string | false;
}

/** A test as {@linkcode test} takes it in one object. */
export interface TestDefinition extends TestOptions {
  /** The test's name: a sentence. */
  name: string;
  fn: TestFn;
}

/**
 * Registers a test with a deadline: every test file registers its tests
 * this way. A test still running after its deadline fails with its name and
 * the time, instead of hanging the whole run (and a mutant then counts as
 * killed by a named test, not by the runner's timeout). The timer is cleared
 * as soon as the test settles, so the sanitizers never see it. A skipped test
 * (`ignore: "why"`) says why, after its name.
 */
export function test(name: string, fn: TestFn): void;
export function test(name: string, options: TestOptions, fn: TestFn): void;
export function test(definition: TestDefinition): void;
export function test(
  nameOrDefinition: string | TestDefinition,
  optionsOrFn?: TestOptions | TestFn,
  fn?: TestFn,
): void {
  const def: TestDefinition = typeof nameOrDefinition !== "string"
    ? nameOrDefinition
    : typeof optionsOrFn === "function"
    ? { name: nameOrDefinition, fn: optionsOrFn }
    : { name: nameOrDefinition, ...optionsOrFn, fn: fn! };
  const ms = def.deadline ?? DEFAULT_DEADLINE_MS;
  const skip = def.ignore || undefined;
  Deno.test({
    name: skip === undefined ? def.name : `${def.name} [skipped: ${skip}]`,
    ignore: skip !== undefined,
    fn: async (t) => {
      const run = (async () => await def.fn(t))();
      // Past the deadline the test has failed already; a late rejection
      // must not surface in another test.
      run.catch(() => {});
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `still running after its deadline of ${ms} ms (a hang?): ${def.name}`,
              ),
            ),
          ms,
        );
      });
      try {
        await Promise.race([run, hung]);
      } finally {
        clearTimeout(timer);
      }
    },
  });
}

const commands = new Map<string, boolean>();

/** Whether `command` can be run here (it is on PATH); asked once. */
export function hasCommand(command: string): boolean {
  let found = commands.get(command);
  if (found === undefined) {
    try {
      new Deno.Command(command, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      found = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      found = false;
    }
    commands.set(command, found);
  }
  return found;
}

/**
 * Why a test that runs `command` is skipped here (it is not installed), or
 * false: for {@linkcode TestDefinition.ignore}.
 *
 * @param what What the command is, for the reason ("the ss command (iproute2)").
 */
export function needsCommand(command: string, what: string): string | false {
  return !hasCommand(command) && `needs ${what}, which is not installed here`;
}

/** Whether ::1 can be bound here (a machine without IPv6 cannot). */
export const HAS_IPV6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

/** Why a test that needs ::1 is skipped here, or false. */
export const NEEDS_IPV6: string | false = !HAS_IPV6 &&
  "::1 cannot be bound here (no IPv6)";

// ---- Bytes and protocols ----------------------------------------------------------

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
    // A test that hung past its deadline inside withLogs never reset it.
    reset: true,
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
  if (!hasCommand("ss")) {
    throw new Error(
      "this check needs the ss command (iproute2), which is not installed here",
    );
  }
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
