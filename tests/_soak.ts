// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Soak run (issue 14): hundreds of concurrent clients against three echo
 * servers in one process (a `createServer` protocol echo, a `startServer`
 * streams echo, and the same streams echo over TLS), with random message
 * sizes from 1 B to 1 MiB (log-uniform), every echo checked byte for byte,
 * and faults injected all along: half-closes, resets (`resetAndDestroy()` on
 * a `node:net` socket, also under TLS, during the handshake or mid-transfer
 * with `node:tls` over that socket), aborts (`transport.abort()`), slow
 * readers (that first send until the server stops reading), clients that
 * connect and send nothing (to the TLS server also without a handshake), and
 * servers closed mid-load with `closeClients()` or `abortClients()` and
 * restarted on port 0.
 *
 * Afterwards the open descriptors and RSS are compared with a baseline taken
 * after a warm-up, and new servers must still accept and echo. Also checked:
 * no unhandled rejection or uncaught error, no session or close over
 * `hangMs`, no error no fault explains, a reset seen by the server as
 * `ConnectionReset` (or `BrokenPipe`), nothing served after `waitClosed()`,
 * and no error-level record from the module's logger.
 *
 * ```sh
 * deno run -A tests/_soak.ts --clients 300 --seconds 60 [--seed 42] [--json]
 * ```
 *
 * It prints the figures as a table (or JSON) and exits with 1 if a check
 * failed. `runSoak()` runs it from code; `soakProblems()` gives the verdict.
 *
 * @module
 */
import nodeNet from "node:net";
import nodeTls from "node:tls";
import nodeV8 from "node:v8";
import nodeVm from "node:vm";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  createConnection,
  createServer,
  openConnection,
  Protocol,
  type Server,
  startServer,
  type StreamReader,
  type StreamWriter,
  type Transport,
} from "../mod.ts";
import { tlsFiles } from "./_helpers.ts";
import { fdView, mallocTrim } from "./_proc.ts";

const HOST = "127.0.0.1";
const KiB = 1024;
const MiB = 1024 * KiB;

/** What to run. */
export interface SoakOptions {
  /** Concurrent client loops (idle connections come on top). Default 300. */
  clients?: number;
  /** How long to keep starting sessions, in seconds. Default 60. */
  seconds?: number;
  /** Stop starting sessions after this many in total (default: no limit). */
  sessions?: number;
  /** Seed of every random choice (sizes, scenarios, timings). Default 1. */
  seed?: number;
  /** Largest message, in bytes. Default 1 MiB. */
  maxSize?: number;
  /** Servers closed mid-load (alternately `closeClients()` and `abortClients()`). Default max(2, seconds / 10). */
  serverFaults?: number;
  /**
   * The most a slow reader sends before it starts reading (it stops earlier
   * once the server has stopped reading). Default 16 MiB: on loopback the
   * kernel's socket buffers take 1 to 11 MiB before the server's own write
   * buffer fills.
   */
  slowReaderMax?: number;
  /** A session, or a close, that takes longer than this is a hang (ms). Default 30,000. */
  hangMs?: number;
  /** How long to poll for descriptors to settle back to the baseline (ms). Default 3,000. */
  settleMs?: number;
  /**
   * Whether the process runs nothing but the soak. Then the descriptors are
   * awaited back to the baseline (for up to `settleMs`), and `gc()` (exposed
   * through node:v8 and node:vm when not given `--v8-flags=--expose-gc`) and
   * glibc's `malloc_trim(0)` (with `--allow-ffi`) run before RSS is
   * measured. Default true; turn it off in a process shared with other work,
   * such as `deno test --parallel`, where only the soak's own sockets are
   * awaited.
   */
  ownProcess?: boolean;
  /** Capture the module's LogTape records (configures LogTape for the run). Default true. */
  captureLogs?: boolean;
  /** Progress lines (every 5 s), for the CLI. */
  onProgress?: (line: string) => void;
}

/** What a run did and measured. */
export interface SoakFigures {
  seed: number;
  clients: number;
  seconds: number;
  maxSize: number;
  /** Wall time of the loaded phase, from the first client to the last server closed (ms). */
  durationMs: number;
  /** Wall time of the whole run, warm-up and checks included (ms). */
  totalMs: number;
  /** Client connections made (every kind: streams, protocol, node:net, raw). */
  connections: number;
  /** Sessions run, by scenario. */
  sessions: Record<string, number>;
  /** Echoes that completed, every one checked byte for byte. */
  echoes: number;
  /** Bytes of those echoes. */
  bytesEchoed: number;
  /** Bytes checked as an exact prefix of what was sent, in sessions cut short on purpose. */
  prefixBytesChecked: number;
  /** Faults injected, by kind. */
  faults: Record<FaultKind, number>;
  /** Sessions cut short by a server fault (expected; not an error). */
  interrupted: number;
  /** Resets whose server side reported `ConnectionReset` or `BrokenPipe`. */
  resetsReported: number;
  /**
   * Slow-reader stalls that ran to their end with the server still up (a
   * server fault may cut one short; it then proves nothing either way).
   */
  stalls: number;
  /** Of those stalls, the ones during which the server's write buffer went over its high watermark. */
  serverPaused: number;
  /** Wrong echoes (must be empty). */
  mismatches: string[];
  /** Errors no fault explains (must be empty). */
  unexpected: string[];
  /** Sessions or closes that did not finish within `hangMs` (must be empty). */
  hangs: string[];
  /** Unhandled rejections and uncaught errors (must be empty). */
  unhandled: string[];
  /** The module's log records by level, message and error class. */
  logs: Record<string, number>;
  /** Open descriptors of the process (`/proc/self/fd`). */
  fds: {
    before: number;
    peak: number;
    after: number;
    /** Sockets on the soak's ports still open after the run (must be 0). */
    soakSocketsAfter: number;
  };
  /**
   * Resident set size, MiB: before (after the warm-up), the peak, after the
   * run with a GC, and after that with `malloc_trim(0)` too (`after`; the
   * same as `afterGc` without `--allow-ffi`).
   */
  rssMiB: { before: number; peak: number; afterGc: number; after: number };
  /** Whether `gc()` could be called before measuring. */
  gc: boolean;
  /** Whether `malloc_trim(0)` ran before measuring (needs `--allow-ffi`). */
  mallocTrim: boolean;
  /** A new server of each kind accepted and echoed after the run. */
  postCheck: boolean;
}

/** Kinds of injected faults. */
export type FaultKind =
  | "halfClose"
  | "reset"
  | "resetTls"
  | "abort"
  | "slowReader"
  | "idle"
  | "idleNoHandshake"
  | "serverCloseClients"
  | "serverAbortClients";

const FAULT_KINDS: readonly FaultKind[] = [
  "halfClose",
  "reset",
  "resetTls",
  "abort",
  "slowReader",
  "idle",
  "idleNoHandshake",
  "serverCloseClients",
  "serverAbortClients",
];

type Kind = "protocol" | "streams" | "tls";
const KINDS: readonly Kind[] = ["protocol", "streams", "tls"];

type Scenario =
  | "echo"
  | "halfClose"
  | "slowReader"
  | "abort"
  | "reset"
  | "idle";
type TlsPhase = "handshake" | "established";
const SCENARIOS: readonly [Scenario, number][] = [
  ["echo", 40],
  ["halfClose", 12],
  ["slowReader", 12],
  ["abort", 12],
  ["reset", 14],
  ["idle", 10],
];

/**
 * The first session of client 0, 1, ...: every kind of fault against every
 * server it applies to, before the random mix.
 */
const FIRST_SESSIONS: readonly [Scenario, Kind, TlsPhase?][] = [
  // The first seven inject the seven kinds of client fault.
  ["halfClose", "protocol"],
  ["reset", "protocol"],
  ["reset", "tls", "established"],
  ["abort", "tls"],
  ["slowReader", "streams"],
  ["idle", "streams"],
  ["idle", "tls", "handshake"],
  ["echo", "tls"],
  ["reset", "tls", "handshake"],
  ["slowReader", "tls"],
  ["halfClose", "streams"],
  ["abort", "protocol"],
  ["idle", "tls", "established"],
  ["slowReader", "protocol"],
  ["reset", "streams"],
];

// ---- Randomness -------------------------------------------------------------

/** mulberry32: small, fast, seedable. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6D2B79F5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  /** Log-uniform integer in [lo, hi]. */
  logSize(lo: number, hi: number): number {
    const v = Math.exp(Math.log(lo) + this.next() * Math.log(hi / lo));
    return Math.max(lo, Math.min(hi, Math.floor(v)));
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    const total = items.reduce((n, [, w]) => n + w, 0);
    let r = this.next() * total;
    for (const [item, w] of items) {
      if ((r -= w) < 0) return item;
    }
    return items[items.length - 1]![0];
  }
}

/** `n` pseudo-random bytes from `seed` (xorshift32, 4 bytes a step). */
function payload(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = (seed >>> 0) || 0x9E3779B9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, n);
}

// ---- Errors ------------------------------------------------------------------

/** An echo that differs from what was sent. */
class MismatchError extends Error {
  override name = "MismatchError";
}

/** A session that ran over `hangMs`. */
class HangError extends Error {
  override name = "HangError";
}

/** The echo stopped short (EOF or loss before every byte came back). */
class ShortEchoError extends Error {
  override name = "ShortEchoError";
}

/**
 * What a connection should echo: the messages sent on it, in order. Checks
 * each received chunk against them byte for byte as it arrives.
 */
class Expected {
  #parts: Uint8Array[] = [];
  #part = 0;
  #off = 0;
  /** Bytes sent. */
  sent = 0;
  /** Bytes received and checked. */
  received = 0;
  constructor(readonly what: string) {}
  /** Adds a message sent. */
  add(msg: Uint8Array): void {
    this.#parts.push(msg);
    this.sent += msg.length;
  }
  /** Whether every byte sent came back. */
  get complete(): boolean {
    return this.received === this.sent;
  }
  /** Checks `chunk`, the next bytes received; throws `MismatchError`. */
  check(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      const part = this.#parts[this.#part];
      if (!part) {
        throw new MismatchError(
          `${this.what}: ${
            chunk.length - pos
          } bytes more than the ${this.sent} sent`,
        );
      }
      const n = Math.min(part.length - this.#off, chunk.length - pos);
      for (let i = 0; i < n; i++) {
        if (chunk[pos + i] !== part[this.#off + i]) {
          throw new MismatchError(
            `${this.what}: byte ${this.received + pos + i} of ${this.sent} is ${
              chunk[pos + i]
            }, sent ${part[this.#off + i]}`,
          );
        }
      }
      pos += n;
      this.#off += n;
      if (this.#off === part.length) {
        this.#parts[this.#part++] = new Uint8Array(0); // let it go
        this.#off = 0;
      }
    }
    this.received += chunk.length;
  }
  /** A `ShortEchoError` saying how far the echo got. */
  short(how: string): ShortEchoError {
    return new ShortEchoError(
      `${this.what}: ${how} after ${this.received} of ${this.sent} bytes`,
    );
  }
}

function isConnectionError(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.UnexpectedEof;
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/** Waits for `p`, or rejects with `signal.reason` first. `p` is always handled. */
function guard<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener("abort", onAbort);
      resolve(v);
    }, (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
}

/** Sleeps `ms`, or rejects early with `signal.reason`. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Runs `fn` with a signal that aborts with a `HangError` after `ms`. */
async function withDeadline<T>(
  ms: number,
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(
    () => ac.abort(new HangError(`${what}: not done after ${ms} ms`)),
    ms,
  );
  try {
    return await fn(ac.signal);
  } finally {
    clearTimeout(timer);
  }
}

// ---- Process measurements ----------------------------------------------------

/** RSS in MiB. */
function rssMiB(): number {
  return Deno.memoryUsage().rss / MiB;
}

/** `gc()`, exposed with `--v8-flags=--expose-gc` or through node:v8 and node:vm. */
function findGc(): (() => void) | undefined {
  const own = (globalThis as { gc?: () => void }).gc;
  if (typeof own === "function") return own;
  try {
    nodeV8.setFlagsFromString("--expose-gc");
    const gc = nodeVm.runInNewContext("gc") as unknown;
    return typeof gc === "function" ? gc as () => void : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Counts the module's log records in `counts`, by level, message and error
 * class. (A module-level function, so that the sink, which LogTape may keep
 * cached after `reset()`, holds nothing of the run.)
 */
async function captureLogs(counts: Record<string, number>): Promise<void> {
  await configure({
    sinks: {
      soak: (r: LogRecord) => {
        const { error, message, callback } = r.properties;
        const template = typeof r.rawMessage === "string"
          ? r.rawMessage
          : r.rawMessage.join("{}");
        let key = `${r.level}: ${
          template.replace(
            "{message}",
            typeof message === "string" ? message : "{message}",
          ).replace(
            "{callback}",
            typeof callback === "string" ? callback : "{callback}",
          )
        }`;
        if (error instanceof Error) {
          key += ` [${error.name}`;
          // Errors are rare: say which (numbers, such as ports, left out).
          if (r.level === "error" || r.level === "fatal") {
            key += `: ${error.message.replace(/\d+/g, "N").slice(0, 120)}`;
          }
          key += "]";
        }
        counts[key] = (counts[key] ?? 0) + 1;
      },
    },
    loggers: [
      { category: ["aio", "net"], lowestLevel: "debug", sinks: ["soak"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
}

/** Polls `measure` until it returns `want` or `ms` pass; returns the last value. */
async function settle(
  measure: () => Promise<number>,
  want: number,
  ms: number,
): Promise<number> {
  const end = Date.now() + ms;
  let value = await measure();
  while (value !== want && Date.now() < end) {
    await sleep(50);
    value = await measure();
  }
  return value;
}

// ---- Servers -------------------------------------------------------------------

/** What a server saw of one connection (looked up by the client's port). */
interface ServerConn {
  /**
   * How the connection ended: `"null"` or the error's class name. (Not the
   * error itself: V8's lazy stack trace keeps the frames' objects alive, the
   * transport and its read buffer among them.)
   */
  lost: PromiseWithResolvers<string>;
  /** Times the server's write buffer went over its high watermark. */
  pauses: number;
  /** The server's transport of the connection. */
  transport: Transport;
}

/** One server generation: replaced by a new one after a server fault. */
class Slot {
  server!: Server;
  port = 0;
  faulted = false;
  /** Set once `waitClosed()` has resolved: no connection may come after. */
  waited = false;
  readonly conns = new Map<number, ServerConn>();
  constructor(
    readonly kind: Kind,
    readonly gen: number,
    readonly report: (problem: string) => void,
  ) {}

  /** Registers a server-side connection from `peerPort`. */
  made(peerPort: number, transport: Transport): ServerConn {
    if (this.waited) {
      this.report(
        `${this.kind} server #${this.gen}: a connection (from port ${peerPort}) was made after waitClosed() resolved`,
      );
    }
    const conn: ServerConn = {
      lost: Promise.withResolvers(),
      pauses: 0,
      transport,
    };
    this.conns.set(peerPort, conn);
    return conn;
  }

  /** The server-side connection from `peerPort` ended with `exc`. */
  lost(peerPort: number, conn: ServerConn, exc: unknown): void {
    conn.lost.resolve(exc === null ? "null" : (exc as Error).name);
    if (this.conns.get(peerPort) === conn) this.conns.delete(peerPort);
  }
}

/** The protocol echo server, with flow control: pause reading while writing is paused. */
class FlowEcho extends Protocol {
  #transport?: Transport;
  #conn?: ServerConn;
  #port = 0;
  constructor(readonly slot: Slot) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#port = (transport.getExtraInfo("peername") as Deno.NetAddr).port;
    this.#conn = this.slot.made(this.#port, transport);
  }
  override dataReceived(data: Uint8Array): void {
    this.#transport!.write(data);
  }
  override pauseWriting(): void {
    this.#conn!.pauses++;
    this.#transport!.pauseReading();
  }
  override resumeWriting(): void {
    this.#transport!.resumeReading();
  }
  override connectionLost(exc: Error | null): void {
    if (this.#conn) this.slot.lost(this.#port, this.#conn, exc);
  }
}

/** The streams echo (tests/_helpers.ts `streamsEcho`), noting flow control and how it ended. */
async function streamsEchoHandler(
  slot: Slot,
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  const peer = writer.getExtraInfo("peername") as Deno.NetAddr;
  const conn = slot.made(peer.port, writer.transport);
  try {
    while (true) {
      const data = await reader.read(65536);
      if (data.length === 0) break;
      writer.write(data);
      const [, high] = writer.transport.getWriteBufferLimits();
      if (writer.transport.getWriteBufferSize() > high) conn.pauses++;
      await writer.drain();
    }
    writer.close();
    slot.lost(peer.port, conn, null);
  } catch (err) {
    slot.lost(peer.port, conn, err);
    // A peer that went away is routine; anything else goes to the library's
    // logger (and shows in the figures' logs).
    if (!isConnectionError(err)) throw err;
  }
}

// ---- Protocol client ------------------------------------------------------------

/** A client protocol that checks the echo as it arrives. */
class Collector extends Protocol {
  transport!: Transport;
  readonly expected: Expected;
  readonly lost = Promise.withResolvers<Error | null>();
  readonly eof = Promise.withResolvers<void>();
  #want = 0;
  #reached: PromiseWithResolvers<void> | null = null;
  #failed: Error | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** While set, reading pauses this long (ms) after every chunk. */
  slow: (() => number) | null = null;
  constructor(what: string) {
    super();
    this.expected = new Expected(what);
    this.eof.promise.catch(() => {});
  }
  /** Resolves once `n` bytes in all have come back (and checked). */
  atLeast(n: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.expected.received >= n) return Promise.resolve();
    this.#want = n;
    this.#reached = Promise.withResolvers();
    return this.#reached.promise;
  }
  /** Resolves once everything sent has come back. */
  all(): Promise<void> {
    return this.atLeast(this.expected.sent);
  }
  #fail(err: Error): void {
    this.#failed ??= err;
    this.#reached?.reject(this.#failed);
    this.#reached = null;
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Uint8Array): void {
    if (this.#failed) return;
    try {
      this.expected.check(data);
    } catch (err) {
      this.#fail(err as Error);
      return;
    }
    if (this.#reached && this.expected.received >= this.#want) {
      this.#reached.resolve();
      this.#reached = null;
    }
    if (this.slow && !this.expected.complete) {
      this.transport.pauseReading();
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.transport.resumeReading();
      }, this.slow());
    }
  }
  override eofReceived(): boolean {
    this.eof.resolve();
    if (!this.expected.complete) this.#fail(this.expected.short("EOF"));
    return false;
  }
  override connectionLost(exc: Error | null): void {
    clearTimeout(this.#timer);
    this.#fail(exc ?? this.expected.short("connection lost"));
    this.eof.resolve();
    this.lost.resolve(exc);
  }
}

// ---- The run ------------------------------------------------------------------------

interface Session {
  rng: Rng;
  signal: AbortSignal;
  slot: Slot;
  what: string;
  /** Closes what the session opened if it ends early. */
  cleanup: (() => void)[];
  /** On TLS: fault during the handshake, or once established (default: either). */
  tlsPhase?: TlsPhase;
}

interface Idle {
  slot: Slot;
  close(): Promise<void>;
}

type Stats = Omit<
  SoakFigures,
  | "seed"
  | "clients"
  | "seconds"
  | "maxSize"
  | "durationMs"
  | "totalMs"
  | "fds"
  | "rssMiB"
  | "gc"
  | "mallocTrim"
  | "postCheck"
  | "unhandled"
  | "logs"
>;

function newStats(): Stats {
  return {
    connections: 0,
    sessions: {},
    echoes: 0,
    bytesEchoed: 0,
    prefixBytesChecked: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<
      FaultKind,
      number
    >,
    interrupted: 0,
    resetsReported: 0,
    stalls: 0,
    serverPaused: 0,
    mismatches: [],
    unexpected: [],
    hangs: [],
  };
}

const MAX_LISTED = 20;
function note(list: string[], line: string): void {
  if (list.length < MAX_LISTED) list.push(line);
  else if (list.length === MAX_LISTED) list.push("... (more)");
}

/** Three servers, their clients, and the faults. */
class Soak {
  readonly stats = newStats();
  readonly slots = new Map<Kind, Slot>();
  /** Every port a soak server listened on (for the socket count). */
  readonly ports = new Set<number>();
  readonly #idle = new Set<Idle>();
  #gen = 0;
  #stopping = false;
  #started = 0;

  constructor(
    readonly maxSize: number,
    readonly hangMs: number,
    readonly idleMax: number,
    /** The most a slow reader sends before it starts reading. */
    readonly stallMax = 16 * MiB,
  ) {}

  async startServers(): Promise<void> {
    for (const kind of KINDS) this.slots.set(kind, await this.#startSlot(kind));
  }

  async #startSlot(kind: Kind): Promise<Slot> {
    const slot = new Slot(
      kind,
      ++this.#gen,
      (problem) => note(this.stats.unexpected, problem),
    );
    if (kind === "protocol") {
      slot.server = await createServer(() => new FlowEcho(slot), HOST, 0);
    } else {
      slot.server = await startServer(
        (reader, writer) => streamsEchoHandler(slot, reader, writer),
        HOST,
        0,
        kind === "tls"
          ? { tls: { cert: tlsFiles.cert, key: tlsFiles.key } }
          : {},
      );
    }
    slot.port = (slot.server.sockets[0]!.addr as Deno.NetAddr).port;
    this.ports.add(slot.port);
    return slot;
  }

  /** Closes the server of `kind` mid-load, then starts a new one on port 0. */
  async serverFault(
    kind: Kind,
    how: "closeClients" | "abortClients",
  ): Promise<void> {
    const old = this.slots.get(kind)!;
    old.faulted = true;
    old.server.close();
    if (how === "closeClients") old.server.closeClients();
    else old.server.abortClients();
    this.stats.faults[
      how === "closeClients" ? "serverCloseClients" : "serverAbortClients"
    ]++;
    this.slots.set(kind, await this.#startSlot(kind));
    await this.#waitClosed(old, `${kind} server after ${how}()`);
  }

  async #waitClosed(slot: Slot, what: string): Promise<void> {
    try {
      await withDeadline(
        this.hangMs,
        `waitClosed() of the ${what}`,
        (signal) => guard(slot.server.waitClosed(), signal),
      );
    } catch (err) {
      note(this.stats.hangs, describe(err));
      return;
    }
    slot.waited = true;
    // waitClosed() promises every connection gone.
    const open = [...slot.conns.values()].filter((c) =>
      !c.transport.isClosing()
    );
    if (open.length > 0) {
      note(
        this.stats.unexpected,
        `waitClosed() of the ${what} resolved with ${open.length} connection(s) still open`,
      );
    }
  }

  /** One client loop: sessions one after another until told to stop. */

  /** Resolves once every scripted first session (FIRST_SESSIONS) has ended. */
  readonly firstSessions: PromiseWithResolvers<void> = Promise.withResolvers();
  #firstLeft = FIRST_SESSIONS.length;

  /**
   * Counts the scripted first sessions of `clients` clients (fewer than
   * FIRST_SESSIONS when there are fewer clients).
   */
  expectFirstSessions(clients: number): void {
    this.#firstLeft = Math.min(clients, FIRST_SESSIONS.length);
    if (this.#firstLeft === 0) this.firstSessions.resolve();
  }

  #firstSessionDone(): void {
    if (--this.#firstLeft === 0) this.firstSessions.resolve();
  }

  async client(
    id: number,
    rng: Rng,
    limit: { deadline: number; sessions: number },
  ): Promise<void> {
    let first = true;
    while (
      !this.#stopping && Date.now() < limit.deadline &&
      this.#started < limit.sessions
    ) {
      this.#started++;
      // The first session of the first clients is set, so that even a
      // small run injects every kind of fault.
      const set = first ? FIRST_SESSIONS[id] : undefined;
      first = false;
      if (set) {
        try {
          await this.session(set[0], set[1], rng, set[2]);
        } finally {
          this.#firstSessionDone();
        }
      } else {
        await this.session(rng.weighted(SCENARIOS), rng.pick(KINDS), rng);
      }
    }
  }

  /** Runs one session with a hang watchdog, and files its outcome. */
  async session(
    scenario: Scenario,
    want: Kind,
    rng: Rng,
    tlsPhase?: TlsPhase,
  ): Promise<void> {
    // No half-close on TLS: that session goes to a plain server.
    const kind = scenario === "halfClose" && want === "tls"
      ? rng.pick(["protocol", "streams"] as const)
      : want;
    const slot = this.slots.get(kind)!;
    const api = scenario === "reset"
      ? "node:net"
      : scenario === "idle"
      ? "idle"
      : rng.bool()
      ? "streams"
      : "protocol";
    const what = `${scenario}/${api} -> ${kind} server #${slot.gen}`;
    this.stats.sessions[scenario] = (this.stats.sessions[scenario] ?? 0) + 1;
    const cleanup: (() => void)[] = [];
    try {
      await withDeadline(this.hangMs, what, async (signal) => {
        const s: Session = {
          rng,
          signal,
          slot,
          what,
          cleanup,
          ...(tlsPhase ? { tlsPhase } : {}),
        };
        switch (scenario) {
          case "reset":
            return await this.#reset(s);
          case "idle":
            return await this.#idleClient(s);
          default:
            return api === "streams"
              ? await this.#streamsClient(s, scenario)
              : await this.#protocolClient(s, scenario);
        }
      });
    } catch (err) {
      if (err instanceof MismatchError) {
        note(this.stats.mismatches, err.message); // it names the session
      } else if (err instanceof HangError) {
        note(this.stats.hangs, err.message);
      } else if (slot.faulted) {
        this.stats.interrupted++;
      } else {
        note(this.stats.unexpected, `${what}: ${describe(err)}`);
      }
    } finally {
      for (const fn of cleanup) {
        try {
          fn();
        } catch (err) {
          note(this.stats.unexpected, `${what}: cleanup: ${describe(err)}`);
        }
      }
    }
  }

  #tlsOptions(slot: Slot): {
    tls?: { caCerts: string[]; serverHostname: string };
  } {
    return slot.kind === "tls"
      ? { tls: { caCerts: [tlsFiles.ca], serverHostname: "localhost" } }
      : {};
  }

  #message(s: Session, lo: number): Uint8Array {
    return payload(
      s.rng.logSize(Math.min(lo, this.maxSize), this.maxSize),
      s.rng.int(1, 0xFFFFFFFF),
    );
  }

  #echoed(n: number): void {
    this.stats.echoes++;
    this.stats.bytesEchoed += n;
  }

  /**
   * The first phase of a slow reader: send messages without reading until
   * the pipeline is full (the server paused writing, its own write buffer
   * being full), or `stallMax` bytes (16 MiB at most).
   */
  async #stall(
    s: Session,
    transport: Transport,
    expected: Expected,
    localPort: number,
  ): Promise<void> {
    this.stats.faults.slowReader++;
    const paused = () => (s.slot.conns.get(localPort)?.pauses ?? 0) > 0;
    for (let i = 0; i < 64 && expected.sent < this.stallMax; i++) {
      const msg = this.#message(s, 256 * KiB);
      expected.add(msg);
      transport.write(msg);
      await sleep(1, s.signal);
      // Stalled once the server paused writing: its own buffer is full. (Our
      // buffer over 128 KiB alone says little on a loaded machine, where
      // our write loop may simply not have run yet.)
      if (paused()) break;
    }
    // All sent and nothing read: the server echoes into a client that does
    // not read, so its buffer fills once it has caught up with what the
    // kernel holds (a loaded machine may take a while; bounded well under
    // the hang watchdog).
    for (let waited = 0; !paused() && waited < 2000; waited += 10) {
      await sleep(10, s.signal);
    }
    await sleep(s.rng.int(10, 50), s.signal); // stay stalled a while
    // Counted here, at the end of the stall, not after the echo: a server
    // closed or aborted by a fault meanwhile drops its record of the
    // connection, and a stall it cut short says nothing about flow control.
    if (!s.slot.faulted) {
      this.stats.stalls++;
      if (paused()) this.stats.serverPaused++;
    }
  }

  /** Echo, half-close, slow reader or abort, on the streams API. */
  async #streamsClient(s: Session, scenario: Scenario): Promise<void> {
    const { rng, signal } = s;
    const [reader, writer] = await openConnection(HOST, s.slot.port, {
      ...this.#tlsOptions(s.slot),
      signal,
    });
    this.stats.connections++;
    s.cleanup.push(() => writer.transport.abort());
    const localPort = (writer.getExtraInfo("sockname") as Deno.NetAddr).port;
    const expected = new Expected(s.what);
    /** Reads and checks until `n` bytes in all have come back. */
    const readUpTo = async (n: number, slow = false) => {
      while (expected.received < n) {
        const chunk = await reader.read(
          Math.min(
            slow ? rng.int(4 * KiB, 64 * KiB) : 65536,
            n - expected.received,
          ),
          { signal },
        );
        if (chunk.length === 0) throw expected.short("EOF");
        expected.check(chunk);
        if (slow && rng.bool(0.25)) await sleep(rng.int(1, 4), signal);
      }
    };
    switch (scenario) {
      case "halfClose": {
        const msg = this.#message(s, 1);
        expected.add(msg);
        writer.write(msg);
        writer.writeEof();
        this.stats.faults.halfClose++;
        // Read the rest: every byte, then EOF.
        while (true) {
          const chunk = await reader.read(65536, { signal });
          if (chunk.length === 0) break;
          expected.check(chunk);
        }
        if (!expected.complete) throw expected.short("EOF");
        this.#echoed(msg.length);
        break;
      }
      case "abort": {
        const msg = this.#message(s, 16 * KiB);
        expected.add(msg);
        writer.write(msg);
        await readUpTo(rng.int(0, msg.length - 1));
        this.stats.prefixBytesChecked += expected.received;
        this.stats.faults.abort++;
        writer.transport.abort();
        // abort() loses the connection with no error.
        await writer.waitClosed({ signal });
        return;
      }
      case "slowReader": {
        await this.#stall(s, writer.transport, expected, localPort);
        await Promise.all([
          readUpTo(expected.sent, true),
          guard(writer.drain(), signal),
        ]);
        this.#echoed(expected.sent);
        break;
      }
      default: {
        for (let i = rng.int(1, 3); i > 0; i--) {
          const msg = this.#message(s, 1);
          expected.add(msg);
          const writing = this.#writeChunks(s, writer, msg);
          const reading = rng.bool(0.3)
            ? reader.readexactly(msg.length, { signal }).then((got) =>
              expected.check(got)
            )
            : readUpTo(expected.sent);
          await Promise.all([writing, reading]);
          this.#echoed(msg.length);
        }
        if (s.slot.kind !== "tls" && rng.bool(0.3)) {
          // Close politely: half-close, then the server's EOF.
          writer.writeEof();
          expected.check(await reader.read(-1, { signal }));
        }
      }
    }
    writer.close();
    await writer.waitClosed({ signal });
  }

  /** Writes `msg` in one to four pieces, draining sometimes. */
  async #writeChunks(
    s: Session,
    writer: StreamWriter,
    msg: Uint8Array,
  ): Promise<void> {
    const pieces = s.rng.int(1, 4);
    let off = 0;
    for (let i = 0; i < pieces; i++) {
      const end = i === pieces - 1 ? msg.length : s.rng.int(off, msg.length);
      writer.write(msg.subarray(off, end));
      off = end;
      if (s.rng.bool()) await guard(writer.drain(), s.signal);
    }
    await guard(writer.drain(), s.signal);
  }

  /** Echo, half-close, slow reader or abort, on the protocol API. */
  async #protocolClient(s: Session, scenario: Scenario): Promise<void> {
    const { rng, signal } = s;
    const [transport, client] = await createConnection(
      () => new Collector(s.what),
      HOST,
      s.slot.port,
      { ...this.#tlsOptions(s.slot), signal },
    );
    this.stats.connections++;
    s.cleanup.push(() => transport.abort());
    const localPort = (transport.getExtraInfo("sockname") as Deno.NetAddr).port;
    const expected = client.expected;
    switch (scenario) {
      case "halfClose": {
        const msg = this.#message(s, 1);
        expected.add(msg);
        transport.write(msg);
        transport.writeEof();
        this.stats.faults.halfClose++;
        await guard(client.all(), signal);
        await guard(client.eof.promise, signal); // the server closes after its echo
        if (!expected.complete) throw expected.short("EOF");
        this.#echoed(msg.length);
        break;
      }
      case "abort": {
        const msg = this.#message(s, 16 * KiB);
        expected.add(msg);
        transport.write(msg);
        await guard(client.atLeast(rng.int(0, msg.length - 1)), signal);
        this.stats.prefixBytesChecked += expected.received;
        this.stats.faults.abort++;
        transport.abort();
        const exc = await guard(client.lost.promise, signal);
        if (exc !== null) throw exc;
        return;
      }
      case "slowReader": {
        transport.pauseReading(); // not reading at all at first
        await this.#stall(s, transport, expected, localPort);
        client.slow = () => rng.int(1, 4);
        transport.resumeReading();
        await guard(client.all(), signal);
        this.#echoed(expected.sent);
        break;
      }
      default: {
        for (let i = rng.int(1, 3); i > 0; i--) {
          const msg = this.#message(s, 1);
          expected.add(msg);
          transport.write(msg);
          await guard(client.all(), signal);
          this.#echoed(msg.length);
        }
      }
    }
    if (scenario !== "halfClose") transport.close();
    const exc = await guard(client.lost.promise, signal);
    if (exc !== null) throw exc;
  }

  /**
   * A `node:net` client that sends a message, reads part of the echo and
   * resets (RST). Against the TLS server, half of them speak TLS over the
   * socket first (`node:tls`) and reset mid-transfer; the others send a few
   * plaintext bytes and reset during the handshake.
   */
  async #reset(s: Session): Promise<void> {
    const { rng, signal, slot } = s;
    const socket = nodeNet.connect(slot.port, HOST);
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    let error: Error | null = null;
    socket.on("error", (err: Error) => error = err);
    s.cleanup.push(() => socket.destroy());
    await guard(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("close", () => reject(error ?? new Error("closed")));
      }),
      signal,
    );
    this.stats.connections++;
    const localPort = socket.localPort!;
    let stream: nodeNet.Socket = socket;
    if (slot.kind === "tls") {
      if (
        (s.tlsPhase ?? (rng.bool() ? "handshake" : "established")) ===
          "handshake"
      ) {
        // Reset during the handshake.
        if (rng.bool()) socket.write(payload(rng.int(1, 200), rng.int(1, 1e9)));
        await sleep(rng.int(0, 5), signal);
        this.stats.faults.resetTls++;
        socket.resetAndDestroy();
        await guard(closed, signal);
        return;
      }
      const tlsSocket = nodeTls.connect({
        socket,
        servername: "localhost",
        ca: [tlsFiles.ca],
      });
      tlsSocket.on("error", (err: Error) => error = err);
      s.cleanup.push(() => tlsSocket.destroy());
      await guard(
        new Promise<void>((resolve, reject) => {
          tlsSocket.once("secureConnect", () => resolve());
          tlsSocket.once("close", () => reject(error ?? new Error("closed")));
        }),
        signal,
      );
      stream = tlsSocket;
    }
    const msg = this.#message(s, 16 * KiB);
    const expected = new Expected(`${s.what} (${msg.length} B)`);
    expected.add(msg);
    const upTo = rng.bool(0.2) ? 0 : rng.int(1, msg.length - 1);
    let failed = false;
    const reached = Promise.withResolvers<void>();
    if (upTo === 0) reached.resolve();
    stream.on("data", (chunk: Uint8Array) => {
      if (failed) return;
      try {
        expected.check(chunk);
      } catch (err) {
        failed = true;
        reached.reject(err);
        return;
      }
      if (expected.received >= upTo) reached.resolve();
    });
    stream.once(
      "close",
      () => reached.reject(error ?? expected.short("close")),
    );
    stream.write(msg);
    await guard(reached.promise, signal);
    const off = expected.received;
    // The server has seen this connection if some echo came back.
    const serverConn = off > 0 ? slot.conns.get(localPort) : undefined;
    this.stats.prefixBytesChecked += off;
    this.stats.faults[slot.kind === "tls" ? "resetTls" : "reset"]++;
    socket.resetAndDestroy();
    if (stream !== socket) stream.destroy();
    await guard(closed, signal);
    if (off === 0) return;
    if (!serverConn) {
      if (!slot.faulted) {
        throw new Error(`no server-side connection for port ${localPort}`);
      }
      return;
    }
    const exc = await guard(serverConn.lost.promise, signal);
    if (exc === "ConnectionReset" || exc === "BrokenPipe") {
      this.stats.resetsReported++;
    } else if (!slot.faulted) {
      throw new Error(
        `the server saw a reset connection end with ${exc}, not ConnectionReset`,
      );
    }
  }

  /** A client that connects and sends nothing, parked until the end of the run. */
  async #idleClient(s: Session): Promise<void> {
    const { rng, signal, slot } = s;
    if (this.#idle.size >= this.idleMax) {
      const oldest = this.#idle.values().next().value!;
      this.#idle.delete(oldest);
      await oldest.close();
    }
    if (
      slot.kind === "tls" &&
      (s.tlsPhase ?? (rng.bool() ? "handshake" : "established")) ===
        "handshake"
    ) {
      // Plain TCP to the TLS server: its handshake waits for a ClientHello
      // that never comes, until this client goes at the end of the run (or
      // a server fault closes it). Without a handshake timeout on the
      // server, nothing else would end it.
      const conn = await Deno.connect({
        hostname: HOST,
        port: slot.port,
        signal,
      });
      this.stats.connections++;
      this.stats.faults.idleNoHandshake++;
      this.#idle.add({
        slot,
        close: () => {
          conn.close();
          return Promise.resolve();
        },
      });
      return;
    }
    const [, writer] = await openConnection(HOST, slot.port, {
      ...this.#tlsOptions(slot),
      signal,
    });
    this.stats.connections++;
    this.stats.faults.idle++;
    this.#idle.add({
      slot,
      close: async () => {
        writer.close();
        try {
          await withDeadline(
            this.hangMs,
            "closing an idle client",
            (sig) => writer.waitClosed({ signal: sig }),
          );
        } catch (err) {
          if (err instanceof HangError) note(this.stats.hangs, err.message);
          else if (!slot.faulted) {
            note(this.stats.unexpected, `idle client: ${describe(err)}`);
          }
        }
      },
    });
  }

  /** Stops new sessions. */
  stop(): void {
    this.#stopping = true;
  }

  /** Closes the idle clients, then the servers, waiting for each. */
  async shutdown(): Promise<void> {
    const idle = [...this.#idle];
    this.#idle.clear();
    await Promise.all(idle.map((i) => i.close()));
    for (const slot of this.slots.values()) slot.server.close();
    for (const slot of this.slots.values()) {
      await this.#waitClosed(slot, `${slot.kind} server`);
    }
  }
}

/**
 * New servers of each kind accept and echo (two echo sessions each, messages
 * up to 128 KiB, streams or protocol clients), then close.
 */
async function postCheck(hangMs: number): Promise<string[]> {
  const soak = new Soak(128 * KiB, hangMs, 0, MiB);
  const problems: string[] = [];
  await soak.startServers();
  try {
    const rng = new Rng(7);
    for (const kind of KINDS) {
      for (let i = 0; i < 2; i++) await soak.session("echo", kind, rng);
    }
  } finally {
    await soak.shutdown();
  }
  const { stats } = soak;
  problems.push(
    ...stats.mismatches,
    ...stats.unexpected,
    ...stats.hangs,
  );
  if (stats.echoes < 6) {
    problems.push(`only ${stats.echoes} of at least 6 echoes completed`);
  }
  return problems;
}

/**
 * Every scenario twice against every server, and a server fault, to load
 * what loads lazily before the baseline is taken. Returns what went wrong.
 */
async function warmUp(hangMs: number): Promise<string[]> {
  const soak = new Soak(16 * KiB, hangMs, 100, 256 * KiB);
  await soak.startServers();
  try {
    const sessions: Promise<void>[] = [];
    for (const [scenario] of SCENARIOS) {
      for (const kind of KINDS) {
        for (let i = 0; i < 2; i++) {
          sessions.push(
            soak.session(scenario, kind, new Rng(11 + sessions.length)),
          );
        }
      }
    }
    for (const [scenario, kind, phase] of FIRST_SESSIONS) {
      sessions.push(
        soak.session(scenario, kind, new Rng(11 + sessions.length), phase),
      );
    }
    await Promise.all(sessions);
    await soak.serverFault("protocol", "closeClients");
  } finally {
    await soak.shutdown();
  }
  const { stats } = soak;
  return [...stats.mismatches, ...stats.unexpected, ...stats.hangs];
}

/** Runs the soak and returns its figures (see {@linkcode soakProblems} for the verdict). */
export async function runSoak(options: SoakOptions = {}): Promise<SoakFigures> {
  const clients = options.clients ?? 300;
  const seconds = options.seconds ?? 60;
  const seed = options.seed ?? 1;
  const maxSize = options.maxSize ?? MiB;
  const serverFaults = options.serverFaults ??
    Math.max(2, Math.floor(seconds / 10));
  const hangMs = options.hangMs ?? 30_000;
  const slowReaderMax = options.slowReaderMax ?? 16 * MiB;
  const settleMs = options.settleMs ?? 3_000;
  const progress = options.onProgress;
  const t0 = performance.now();

  const unhandled: string[] = [];
  const onRejection = (e: PromiseRejectionEvent) => {
    e.preventDefault();
    note(unhandled, `unhandled rejection: ${describe(e.reason)}`);
  };
  const onError = (e: ErrorEvent) => {
    e.preventDefault();
    note(unhandled, `uncaught error: ${describe(e.error ?? e.message)}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);

  const logs: Record<string, number> = {};
  if (options.captureLogs ?? true) await captureLogs(logs);

  let soak: Soak | undefined;
  let durationMs = 0;
  let peakFds = 0;
  let peakRss = 0;
  let fdsBefore = 0;
  let fdsAfter = 0;
  let soakSocketsAfter = -1;
  let rssBefore = 0;
  let rssAfterGc = 0;
  let rssAfter = 0;
  let trimmed = false;
  let warm: string[] = [];
  let post: string[] = [];
  const ownProcess = options.ownProcess ?? true;
  const gc = ownProcess ? findGc() : undefined;
  const trim = () => ownProcess && mallocTrim();
  try {
    warm = await warmUp(hangMs);
    gc?.();
    trim();
    // Deno sets up its signal handling (a socket pair and a thread) some
    // 300 ms after it starts: take the baseline after that.
    await sleep(Math.max(100, 1000 - performance.now()));
    fdsBefore = (await fdView()).total;
    rssBefore = rssMiB();
    peakFds = fdsBefore;
    peakRss = rssBefore;

    soak = new Soak(
      maxSize,
      hangMs,
      Math.max(3, Math.ceil(clients / 5)),
      slowReaderMax,
    );
    const run = soak;
    await run.startServers();
    const start = Date.now();
    const deadline = start + seconds * 1000;
    let sampling: Promise<void> | null = null;
    let lastFds = fdsBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssMiB());
      sampling ??= fdView().then((v) => {
        lastFds = v.total;
        peakFds = Math.max(peakFds, v.total);
      }).finally(() => sampling = null);
    }, 200);
    let lastProgress = start;
    const progressTimer = progress
      ? setInterval(() => {
        const now = Date.now();
        if (now - lastProgress < 4900) return;
        lastProgress = now;
        const st = run.stats;
        progress(
          `${
            ((now - start) / 1000).toFixed(0)
          } s: ${st.connections} connections, ${st.echoes} echoes, ${
            (st.bytesEchoed / MiB).toFixed(0)
          } MiB, ${lastFds} fds, ${rssMiB().toFixed(0)} MiB RSS`,
        );
      }, 1000)
      : undefined;
    try {
      const rootRng = new Rng(seed);
      run.expectFirstSessions(clients);
      const chaos = (async () => {
        const order = rootRng.int(0, KINDS.length - 1);
        // The scripted first sessions inject every kind of client fault: a
        // server fault must not cut them short (a loaded machine runs them
        // slowly), so the first one waits for them, bounded by the run.
        await Promise.race([
          run.firstSessions.promise,
          sleep(Math.max(0, deadline - Date.now())),
        ]);
        for (let k = 0; k < serverFaults; k++) {
          const at = start + (k + 1) * seconds * 1000 / (serverFaults + 1);
          await sleep(Math.max(0, at - Date.now()));
          await run.serverFault(
            KINDS[(order + k) % KINDS.length]!,
            k % 2 === 0 ? "closeClients" : "abortClients",
          );
        }
      })();
      const limit = {
        deadline,
        sessions: options.sessions ?? Number.POSITIVE_INFINITY,
      };
      await Promise.all([
        chaos,
        ...Array.from(
          { length: clients },
          (_, id) => run.client(id, new Rng(seed * 7919 + id * 104729), limit),
        ),
      ]);
      run.stop();
      await run.shutdown();
    } finally {
      clearInterval(sampler);
      clearInterval(progressTimer);
      await sampling;
    }
    durationMs = Date.now() - start;

    post = await postCheck(hangMs);

    // Let the last closes reach the kernel, then measure.
    const ports = run.ports;
    soakSocketsAfter = await settle(
      async () => (await fdView(ports)).onPorts,
      0,
      settleMs,
    );
    gc?.();
    fdsAfter = await settle(
      async () => (await fdView()).total,
      fdsBefore,
      ownProcess ? settleMs : 0,
    );
    gc?.();
    rssAfterGc = rssMiB();
    trimmed = trim();
    rssAfter = rssMiB();
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
    if (options.captureLogs ?? true) await reset();
  }
  const stats = soak!.stats;
  for (const p of warm) note(stats.unexpected, `warm-up: ${p}`);
  for (const p of post) note(stats.unexpected, `post-run check: ${p}`);
  return {
    seed,
    clients,
    seconds,
    maxSize,
    durationMs,
    totalMs: Math.round(performance.now() - t0),
    ...stats,
    unhandled,
    logs,
    fds: {
      before: fdsBefore,
      peak: peakFds,
      after: fdsAfter,
      soakSocketsAfter,
    },
    rssMiB: {
      before: rssBefore,
      peak: peakRss,
      afterGc: rssAfterGc,
      after: rssAfter,
    },
    gc: gc !== undefined,
    mallocTrim: trimmed,
    postCheck: post.length === 0,
  };
}

/** How strict {@linkcode soakProblems} is. */
export interface SoakChecks {
  /**
   * Compare the process's descriptors and RSS with the baseline. Only
   * meaningful when nothing else runs in the process (not under
   * `deno test --parallel`, where test modules share one process).
   */
  process?: boolean;
  /** RSS growth allowed over the baseline, MiB. Default 64. */
  rssToleranceMiB?: number;
}

/** What is wrong with a run; empty when it passed. */
export function soakProblems(
  f: SoakFigures,
  checks: SoakChecks = {},
): string[] {
  const problems: string[] = [];
  for (const m of f.mismatches) problems.push(`wrong echo: ${m}`);
  for (const u of f.unexpected) problems.push(`unexpected: ${u}`);
  for (const h of f.hangs) problems.push(`hang: ${h}`);
  for (const u of f.unhandled) problems.push(u);
  if (!f.postCheck) problems.push("a new server did not accept and echo");
  if (f.fds.soakSocketsAfter !== 0) {
    problems.push(
      `${f.fds.soakSocketsAfter} sockets on the soak's ports still open`,
    );
  }
  if (f.echoes === 0) problems.push("no echo completed");
  // Peers that reset or abort are routine: the module logs them at debug
  // level (a failed TLS handshake, a dropped write: warning). An error-level
  // record means it met something it did not expect.
  for (const [key, n] of Object.entries(f.logs)) {
    if (key.startsWith("error:")) problems.push(`logged ${n}x: ${key}`);
  }
  if (f.stalls > 0 && f.serverPaused === 0) {
    problems.push("no slow reader made a server's write buffer fill up");
  }
  for (const kind of FAULT_KINDS) {
    if (f.faults[kind] === 0) problems.push(`no ${kind} fault was injected`);
  }
  if (checks.process) {
    if (f.fds.after !== f.fds.before) {
      problems.push(
        `open descriptors: ${f.fds.after} after, ${f.fds.before} before`,
      );
    }
    const tolerance = checks.rssToleranceMiB ?? 64;
    if (f.rssMiB.after - f.rssMiB.before > tolerance) {
      problems.push(
        `RSS grew by ${
          (f.rssMiB.after - f.rssMiB.before).toFixed(1)
        } MiB (tolerance ${tolerance} MiB)`,
      );
    }
  }
  return problems;
}

/** The figures as a small table. */
export function formatFigures(f: SoakFigures): string {
  const mib = (n: number) => `${n.toFixed(1)} MiB`;
  const rows: [string, string][] = [
    ["seed", String(f.seed)],
    ["clients (concurrent loops)", String(f.clients)],
    [
      "duration",
      `${
        (f.durationMs / 1000).toFixed(1)
      } s loaded (${f.seconds} s of new sessions), ${
        (f.totalMs / 1000).toFixed(1)
      } s in all`,
    ],
    ["connections made", String(f.connections)],
    [
      "sessions",
      Object.entries(f.sessions).map(([k, v]) => `${k} ${v}`).join(", "),
    ],
    ["echoes completed (all exact)", String(f.echoes)],
    [
      "bytes echoed",
      `${f.bytesEchoed} (${
        mib(f.bytesEchoed / MiB)
      }), max message ${f.maxSize} B`,
    ],
    ["prefix bytes checked before a fault", String(f.prefixBytesChecked)],
    [
      "faults injected",
      Object.entries(f.faults).map(([k, v]) => `${k} ${v}`).join(", "),
    ],
    ["sessions cut short by a server fault", String(f.interrupted)],
    ["resets the server saw as ConnectionReset", String(f.resetsReported)],
    [
      "slow readers that paused the server",
      `${f.serverPaused} of ${f.stalls} stalls (a server fault cut short ${
        f.faults.slowReader - f.stalls
      })`,
    ],
    [
      "descriptors before/peak/after",
      `${f.fds.before} / ${f.fds.peak} / ${f.fds.after} (soak sockets left: ${f.fds.soakSocketsAfter})`,
    ],
    [
      "RSS before/peak/after",
      `${mib(f.rssMiB.before)} / ${mib(f.rssMiB.peak)} / ${
        mib(f.rssMiB.after)
      } (gc: ${f.gc ? "yes" : "no"}, malloc_trim: ${
        f.mallocTrim ? `yes; ${mib(f.rssMiB.afterGc)} before it` : "no"
      })`,
    ],
    ["wrong echoes", String(f.mismatches.length)],
    ["unexpected errors", String(f.unexpected.length)],
    ["hangs", String(f.hangs.length)],
    ["unhandled rejections/errors", String(f.unhandled.length)],
    ["new server accepts and echoes after", f.postCheck ? "yes" : "NO"],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  const logs = Object.entries(f.logs).sort(([a], [b]) => a < b ? -1 : 1);
  if (logs.length > 0) {
    lines.push("module log records (count, level: message [error]):");
    for (const [key, n] of logs) lines.push(`${String(n).padStart(8)}  ${key}`);
  }
  return lines.join("\n");
}

function parseArgs(args: string[]): SoakOptions & { json: boolean } {
  const out: SoakOptions & { json: boolean } = { json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const v = Number(args[++i]);
      if (!Number.isFinite(v)) throw new RangeError(`${arg} needs a number`);
      return v;
    };
    switch (arg) {
      case "--clients":
        out.clients = value();
        break;
      case "--seconds":
        out.seconds = value();
        break;
      case "--sessions":
        out.sessions = value();
        break;
      case "--seed":
        out.seed = value();
        break;
      case "--max-size":
        out.maxSize = value();
        break;
      case "--server-faults":
        out.serverFaults = value();
        break;
      case "--hang-ms":
        out.hangMs = value();
        break;
      case "--slow-reader-max":
        out.slowReaderMax = value();
        break;
      case "--json":
        out.json = true;
        break;
      default:
        throw new RangeError(
          `unknown argument ${arg}; use --clients N --seconds S --seed X [--sessions N] [--max-size B] [--server-faults N] [--hang-ms MS] [--slow-reader-max B] [--json]`,
        );
    }
  }
  return out;
}

if (import.meta.main) {
  const { json, ...options } = parseArgs(Deno.args);
  const figures = await runSoak({
    ...options,
    ...(json ? {} : { onProgress: (line: string) => console.error(line) }),
  });
  const problems = soakProblems(figures, { process: true });
  if (json) {
    console.log(JSON.stringify({ figures, problems }));
  } else {
    console.log(formatFigures(figures));
    console.log(
      problems.length === 0
        ? "\nPASS"
        : `\nFAIL\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
  }
  Deno.exit(problems.length === 0 ? 0 : 1);
}
