// Copyright 2026 the @aio/net authors. MIT license.
/**
 * UDP: asyncio's datagram endpoints over Deno's `node:dgram`, loaded on
 * first use.
 *
 * The file has two parts, top to bottom:
 *
 * 1. the engine: loading `node:dgram`, and its errors mapped to Deno's
 *    classes;
 * 2. {@linkcode UdpTransport}, the one datagram transport, and
 *    {@linkcode openDatagramEndpoint}, the body of `createDatagramEndpoint`
 *    (resolving the addresses, then binding and connecting the socket).
 *
 * The contract (`DatagramProtocol`, `DatagramTransport`, the options and
 * address types) is in `_contract.ts`, and the checks of the options and
 * addresses are in `_checks.ts`.
 *
 * Why `node:dgram` and not `Deno.listenDatagram`: the latter needs the
 * `--unstable-net` flag and has no `connect`, no broadcast switch and no
 * way to pick a multicast interface. `node:dgram` needs no flag, but its
 * Deno port has gaps this module fills (measured in Deno 2.9.6):
 *
 * - `connect()` is simulated: the kernel socket stays unconnected, so the
 *   transport drops datagrams from anyone but the remote address itself,
 *   and no ICMP error (port unreachable) is ever reported;
 * - a burst of `send()`s on a new socket goes out in reverse order, so the
 *   transport sends one datagram at a time from its own FIFO queue, which
 *   is also its write buffer;
 * - every send error but `EMSGSIZE` comes back as `UNKNOWN`, so sizes are
 *   checked before sending and an `UNKNOWN` is diagnosed here (a missing
 *   permission, a broadcast address without `allowBroadcast`);
 * - a socket of either family binds an address of the other, and a missing
 *   `--allow-net` ends the process instead of failing the bind, so both are
 *   checked before binding;
 * - `reusePort` is silently ignored (and `Deno.listenDatagram` ignores it
 *   too), so `reusePort: true` is refused;
 * - a send completes at once, and while one send's callback starts the
 *   next, no socket in the process is polled, so a long queue pauses on a
 *   timer every few milliseconds to let the event loop poll them;
 * - a send that a close overtakes never calls back, so the socket is closed
 *   only once the send in flight is done.
 *
 * Failure has one path, the one of every transport (`_base_transport.ts`):
 * `fatalError(exc)` → `forceClose(exc)` → `release(exc)`, which closes the socket once the
 * send in flight (if any) is done, and calls `connectionLost` once the
 * socket is closed: nothing of the endpoint is left running by then.
 *
 * @module
 */
import type { RemoteInfo, Socket } from "node:dgram";
import {
  checkBytes,
  checkDatagramAddress,
  checkProtocolObject,
  checkString,
  toError,
} from "./_checks.ts";
import {
  BaseProtocol,
  type DatagramProtocol,
  type DatagramTransport,
} from "./_contract.ts";
import type {
  DatagramAddress,
  DatagramEndpointOptions,
  DatagramFamily,
} from "./_options.ts";
import { type ErrorWhen, TransportBase } from "./_base_transport.ts";
import { WriteFlow } from "./_flow_control.ts";
import { Lazy } from "./_lazy.ts";
import { logger, reportException } from "./_log.ts";
import { abortable } from "./_signal.ts";
import {
  familyName,
  familyOf,
  formatAddr,
  ipKey,
  ipVersion,
  isMulticast,
  MAX_DATAGRAM_IPV4,
  MAX_DATAGRAM_IPV6,
  overIPv4,
  parseIPv4,
} from "./_address.ts";
import { makeProtocol } from "./_conn.ts";

// =============================================================================
// 1. The engine: node:dgram and its errors
// =============================================================================

type Dgram = typeof import("node:dgram");
type Lookup = typeof import("node:dns/promises").lookup;

/** `node:dgram` and `node:dns`, loaded on first use (they cost ~7 MiB and ~20 ms to load). */
const engine = new Lazy<{ dgram: Dgram; lookup: Lookup }>(() =>
  Promise.all([import("node:dgram"), import("node:dns/promises")]).then((
    [dgram, dns],
  ) => ({ dgram: dgram.default, lookup: dns.lookup }))
);

/** An error as `node:dgram` and `node:dns` make them. */
interface EngineError extends Error {
  code?: string;
  syscall?: string;
}

/** Deno's class and a plain description for each error code the engine reports. */
const ERROR_CODES: Record<
  string,
  [new (message: string, options?: ErrorOptions) => Error, string]
> = {
  EADDRINUSE: [Deno.errors.AddrInUse, "address already in use"],
  EADDRNOTAVAIL: [
    Deno.errors.AddrNotAvailable,
    "address not available on this machine",
  ],
  ECONNREFUSED: [
    Deno.errors.ConnectionRefused,
    "connection refused (ICMP port unreachable)",
  ],
  EACCES: [Deno.errors.PermissionDenied, "permission denied"],
  EPERM: [Deno.errors.PermissionDenied, "operation not permitted"],
  ENOTFOUND: [Deno.errors.NotFound, "host name not found"],
  ENETUNREACH: [Deno.errors.NetworkUnreachable, "network unreachable"],
};

/**
 * Turns an engine error into Deno's class for its code (the engine's error
 * as `cause`, its code as `code`), or a plain `Error` for other codes.
 *
 * @param action What failed, for the message ("Cannot bind to …").
 */
function engineError(err: unknown, action: string): Error {
  const cause = toError(err) as EngineError;
  const code = typeof cause.code === "string" ? cause.code : undefined;
  let known = code === undefined ? undefined : ERROR_CODES[code];
  if (code === "EPERM" && cause.syscall === "getaddrinfo") {
    // Deno's node:dns reports a missing --allow-net as EPERM.
    known = [
      Deno.errors.NotCapable,
      "no permission to resolve it (--allow-net)",
    ];
  }
  const reason = known ? `${known[1]} (${code})` : cause.message;
  const exc = new (known?.[0] ?? Error)(`${action}: ${reason}`, { cause });
  if (code !== undefined) Object.assign(exc, { code });
  return exc;
}

/** `host:port` as Deno's net permissions spell it (`[::1]:53`). */
function permissionHost(hostname: string, port: number): string {
  return `${ipVersion(hostname) === 6 ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * Whether the process may use `hostname:port`; with `ask`, asking where
 * Deno would ask (before a bind, not after a send failed).
 */
function netPermitted(hostname: string, port: number, ask: boolean): boolean {
  const descriptor = {
    name: "net",
    host: permissionHost(hostname, port),
  } as const;
  let state = Deno.permissions.querySync(descriptor).state;
  if (state === "prompt" && ask) {
    state = Deno.permissions.requestSync(descriptor).state;
  }
  return state === "granted";
}

/** A `Deno.NetAddr` for a UDP address. */
function netAddr(hostname: string, port: number): Deno.NetAddr {
  return { transport: "udp", hostname, port };
}

/**
 * The error of a failed send. Deno's engine reports every failure but
 * `EMSGSIZE` as `UNKNOWN`, without the reason; for an `UNKNOWN` the likely
 * cause is found here: a missing permission for the address, else a
 * broadcast address (`255.255.255.255` or `a.b.c.255`) without
 * `allowBroadcast`, else none.
 */
function sendError(
  err: unknown,
  dest: DatagramAddress,
  allowBroadcast: boolean,
): Error {
  const where = `Cannot send a datagram to ${
    formatAddr(netAddr(dest.hostname, dest.port))
  }`;
  const cause = toError(err) as EngineError;
  if (cause.code !== "UNKNOWN") return engineError(cause, where);
  let exc: Error;
  if (!netPermitted(dest.hostname, dest.port, false)) {
    exc = new Deno.errors.NotCapable(
      `${where}: requires net access to "${
        permissionHost(dest.hostname, dest.port)
      }", run again with the --allow-net flag`,
      { cause },
    );
  } else if (!allowBroadcast && parseIPv4(dest.hostname)?.[3] === 255) {
    exc = new Deno.errors.PermissionDenied(
      `${where}: permission denied (a broadcast address needs allowBroadcast: true; Deno's engine reports only UNKNOWN)`,
      { cause },
    );
  } else {
    exc = new Error(`${where}: the engine reports no reason (UNKNOWN)`, {
      cause,
    });
  }
  return Object.assign(exc, { code: "UNKNOWN" });
}

/** Closes a `node:dgram` socket; resolves once it is closed (its `close` event). */
function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // closed already
    }
  });
}

/**
 * Waits for `event` on `socket`, or rejects with the mapped `error` event;
 * `start` starts what emits it (`bind`, `connect`).
 */
function socketEvent(
  socket: Socket,
  event: "listening" | "connect",
  start: () => void,
  action: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      socket.off(event, onDone);
      reject(engineError(err, action));
    };
    const onDone = () => {
      socket.off("error", onError);
      resolve();
    };
    socket.once("error", onError);
    socket.once(event, onDone);
    try {
      start();
    } catch (err) {
      socket.off("error", onError);
      socket.off(event, onDone);
      reject(engineError(err, action));
    }
  });
}

// =============================================================================
// 2. The transport, and opening an endpoint
// =============================================================================

/**
 * How long a queue sends back to back before it lets the event loop poll
 * the sockets, in milliseconds. In Deno 2.9 a send completes at once, and
 * while one send's callback starts the next, no socket is polled: no
 * endpoint in the process receives anything until the queue is empty
 * (3,000 queued datagrams held every receive back for 50 ms). A timer is
 * the one pause that reliably lets the sockets be polled (`setImmediate`,
 * a `MessageChannel` or work on another thread do not, or not under load);
 * it costs about a millisecond.
 */
const SEND_RUN_MS = 4;

/** A protocol of any kind, as the endpoint calls it. */
type AnyDatagramProtocol = BaseProtocol & {
  datagramReceived?(data: Uint8Array, addr: Deno.NetAddr): void;
  errorReceived?(exc: Error): void;
};

/** A datagram waiting to be sent; `dest` is `null` for the remote address. */
interface Outgoing {
  data: Uint8Array;
  dest: DatagramAddress | null;
}

/** A datagram that arrived before the protocol was there. */
type Early = [data: Uint8Array, rinfo: RemoteInfo];

/** A resolved address of the endpoint. */
interface Resolved {
  hostname: string;
  port: number;
  family: DatagramFamily;
}

/** How an endpoint's socket was set up. */
interface SocketSetup {
  family: DatagramFamily;
  /** The remote address, if any. */
  remote: Resolved | null;
  /** Whether the socket is connected to `remote` (not with `allowBroadcast`). */
  connected: boolean;
  allowBroadcast: boolean;
}

/** The one datagram transport, over a bound `node:dgram` socket. */
export class UdpTransport extends TransportBase implements DatagramTransport {
  readonly #socket: Socket;
  readonly #setup: SocketSetup;
  readonly #remoteKey: string | null;
  readonly #sockname: Deno.NetAddr;
  #protocol: AnyDatagramProtocol = new BaseProtocol();
  #early: Early[] | null;

  // Sending: the FIFO queue (from #head on) is the write buffer.
  #queue: (Outgoing | undefined)[] = [];
  #head = 0;
  #bufferSize = 0;
  #sending = false;
  /** When the current run of back-to-back sends began (-1: no run). */
  #runSince = -1;
  /** Whether a datagram is with the engine, its callback not yet come. */
  #inFlight = false;
  /** What to run once the datagram in flight is done, after the endpoint was lost. */
  #whenIdle: (() => void) | null = null;

  // Closing.
  #flow = new WriteFlow({
    getWriteBufferSize: () => this.#bufferSize,
    flowProtocol: () => this.#protocol,
    flowFailed: (exc, message) => this.fatalError(exc, message),
  });
  readonly #done = Promise.withResolvers<void>();

  /**
   * @param socket A bound (and, with `setup.connected`, connected) socket.
   * @param setup Its family and remote address.
   * @param early Datagrams that arrived before the transport was made.
   */
  constructor(socket: Socket, setup: SocketSetup, early: Early[]) {
    super();
    this.#socket = socket;
    this.#setup = setup;
    this.#remoteKey = setup.remote && ipKey(setup.remote.hostname);
    this.#early = early;
    const local = socket.address();
    this.#sockname = netAddr(local.address, local.port);
    socket.on("message", (data: Uint8Array, rinfo: RemoteInfo) => {
      this.#onMessage(data, rinfo);
    });
    socket.on("error", (err: Error) => this.#onError(err));
  }

  /** Resolves once `connectionLost` has run (the socket is closed by then). */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /**
   * Hands the endpoint to `protocol`: calls `connectionMade`, then delivers
   * what arrived meanwhile.
   *
   * @returns `null` once the protocol has been told, or the error that
   * `connectionMade` threw (the endpoint is then aborted).
   */
  start(protocol: DatagramProtocol): Error | null {
    this.#protocol = protocol;
    const exc = this.callConnectionMade(protocol);
    if (exc) return exc;
    const early = this.#early ?? [];
    this.#early = null;
    for (const [data, rinfo] of early) this.#onMessage(data, rinfo);
    return null;
  }

  // ---- Receiving -------------------------------------------------------------

  #onMessage(data: Uint8Array, rinfo: RemoteInfo): void {
    if (this.isClosing()) return;
    if (this.#early) {
      this.#early.push([data, rinfo]);
      return;
    }
    if (this.#setup.connected && !this.#fromPeer(rinfo)) {
      return; // the kernel would have dropped it on a connected socket
    }
    // A copy, as a plain Uint8Array of its own size: the engine's Buffer is
    // a view of 64 KiB, which a protocol that keeps it would keep whole.
    const owned = new Uint8Array(data.byteLength);
    owned.set(data);
    try {
      this.#protocol.datagramReceived?.(
        owned,
        netAddr(rinfo.address, rinfo.port),
      );
    } catch (err) {
      this.fatalError(toError(err), "Exception in datagramReceived()");
    }
  }

  /** Whether a datagram comes from the remote address (however either is written). */
  #fromPeer(rinfo: RemoteInfo): boolean {
    const remote = this.#setup.remote!;
    if (rinfo.port !== remote.port) return false;
    return rinfo.address === remote.hostname ||
      ipKey(rinfo.address) === this.#remoteKey;
  }

  /** An `error` event: a failed receive (`ECONNREFUSED` on a connected socket, in Node). */
  #onError(err: Error): void {
    if (this.lost) {
      logger.debug(
        "Error on a closed datagram endpoint ({sockname}): {error}",
        {
          sockname: formatAddr(this.#sockname),
          error: err,
        },
      );
      return;
    }
    const where = this.#setup.remote
      ? `Cannot receive from ${formatAddr(this.#peername()!)}`
      : "Cannot receive a datagram";
    this.#callErrorReceived(engineError(err, where));
  }

  #callErrorReceived(exc: Error): void {
    try {
      this.#protocol.errorReceived?.(exc);
    } catch (err) {
      this.fatalError(toError(err), "Exception in errorReceived()");
    }
  }

  // ---- Sending ---------------------------------------------------------------

  /** Queues one datagram. */
  sendto(data: Uint8Array, addr?: DatagramAddress): void {
    checkBytes(data, "data");
    const { family, remote } = this.#setup;
    let dest: DatagramAddress | null = null;
    if (addr !== undefined) {
      checkDatagramAddress(addr, "addr", false);
      if (remote) {
        throw new Error(
          `Cannot sendto() an address on an endpoint made with remoteAddr: its datagrams go to ${
            formatAddr(this.#peername()!)
          }; call sendto(data)`,
        );
      }
      if (
        family === "ipv4" && addr.hostname.includes(":") &&
        ipVersion(addr.hostname) === 6
      ) {
        throw new RangeError(
          `addr.hostname must not be an IPv6 address on an IPv4 endpoint, got ${addr.hostname}`,
        );
      }
      dest = { hostname: addr.hostname, port: addr.port };
    } else if (!remote) {
      throw new TypeError(
        "addr must be given: the endpoint has no remoteAddr to send to, got undefined",
      );
    }
    // Over IPv4 (an IPv4 endpoint, or an IPv4-mapped address) the IP header
    // counts against the 65,535 bytes; over IPv6 it does not.
    const v4 = family === "ipv4" || overIPv4((dest ?? remote!).hostname);
    const limit = v4 ? MAX_DATAGRAM_IPV4 : MAX_DATAGRAM_IPV6;
    if (data.length > limit) {
      throw new RangeError(
        `data is ${data.length} bytes, over the ${limit}-byte limit of a UDP datagram over ${
          v4 ? "IPv4" : "IPv6"
        }`,
      );
    }
    if (this.isClosing()) {
      this.writeDropped(
        "Dropped {count} datagrams sent to a closed datagram endpoint ({sockname})",
        { sockname: formatAddr(this.#sockname) },
      );
      return;
    }
    // new Uint8Array(view) copies, and makes a plain one of a Node Buffer.
    this.#queue.push({ data: new Uint8Array(data), dest });
    this.#bufferSize += data.length;
    if (!this.#sending) this.#sendNext();
    this.#flow.maybePause();
  }

  /**
   * Hands the next queued datagram to the engine; the next goes when its
   * callback comes. After {@linkcode SEND_RUN_MS} of sending back to back,
   * a timer lets the event loop poll the sockets first.
   */
  #sendNext(): void {
    const item = this.#queue[this.#head];
    if (item === undefined) {
      this.#queue = [];
      this.#head = 0;
      this.#sending = false;
      this.#runSince = -1;
      if (this.isClosing() && !this.lost) this.#finish(null);
      return;
    }
    this.#queue[this.#head++] = undefined;
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#sending = true;
    this.#inFlight = true;
    let called = false;
    const done = (err: Error | null) => {
      if (called) return;
      called = true;
      this.#inFlight = false;
      this.#sent(item, err);
    };
    const now = performance.now();
    if (this.#runSince < 0) this.#runSince = now;
    if (now - this.#runSince < SEND_RUN_MS) {
      this.#dispatch(item, done);
    } else {
      this.#runSince = -1;
      setTimeout(() => {
        if (this.lost) done(null); // aborted meanwhile: not sent
        else this.#dispatch(item, done);
      }, 0);
    }
  }

  #dispatch(item: Outgoing, done: (err: Error | null) => void): void {
    try {
      const { remote, connected } = this.#setup;
      if (item.dest) {
        this.#socket.send(item.data, item.dest.port, item.dest.hostname, done);
      } else if (connected) {
        this.#socket.send(item.data, done);
      } else {
        this.#socket.send(item.data, remote!.port, remote!.hostname, done);
      }
    } catch (err) {
      queueMicrotask(() => done(toError(err)));
    }
  }

  /** A send's callback: account for it, report its error, send the next. */
  #sent(item: Outgoing, err: Error | null): void {
    if (this.lost) {
      const whenIdle = this.#whenIdle;
      this.#whenIdle = null;
      whenIdle?.();
      return;
    }
    this.#bufferSize -= item.data.length;
    // #sending stays true through the callbacks: a sendto() there queues
    // behind the rest, and a close() there waits for the queue.
    if (err) {
      const { remote, allowBroadcast } = this.#setup;
      this.#callErrorReceived(
        sendError(err, item.dest ?? remote!, allowBroadcast),
      );
      if (this.lost) return;
    }
    if (this.#flow.paused) {
      this.#flow.maybeResume();
      if (this.lost) return;
    }
    this.#sendNext();
  }

  /** Bytes queued and not yet sent. */
  getWriteBufferSize(): number {
    return this.#bufferSize;
  }

  // ---- Multicast -------------------------------------------------------------

  /** Joins a multicast group. */
  addMembership(group: string, iface?: string): void {
    this.#membership("addMembership", group, iface);
  }

  /** Leaves a multicast group. */
  dropMembership(group: string, iface?: string): void {
    this.#membership("dropMembership", group, iface);
  }

  #membership(
    what: "addMembership" | "dropMembership",
    group: string,
    iface: string | undefined,
  ): void {
    checkString(group, "group");
    if (iface !== undefined) checkString(iface, "iface");
    const { family } = this.#setup;
    if (!isMulticast(group, family)) {
      throw new RangeError(
        `group must be an ${
          familyName(family)
        } multicast address, got ${group}`,
      );
    }
    if (iface !== undefined && family === "ipv4" && ipVersion(iface) !== 4) {
      throw new RangeError(
        `iface must be the IPv4 address of an interface, got ${iface}`,
      );
    }
    if (this.isClosing()) {
      throw new Error(`Cannot ${what}(): the endpoint is closing`);
    }
    try {
      this.#socket[what](group, iface);
    } catch (err) {
      throw engineError(
        err,
        `Cannot ${what === "addMembership" ? "join" : "leave"} ${group}${
          iface === undefined ? "" : ` on ${iface}`
        }`,
      );
    }
  }

  // ---- Closing ---------------------------------------------------------------

  /** Sends what is queued, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (!this.beginClose()) return;
    this.#early = null;
    if (!this.#sending) this.#finish(null);
  }

  /** Closes at once, dropping the queue; `connectionLost(null)` follows. */
  abort(): void {
    this.forceClose(null);
  }

  protected lostProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /** Reports an error with the endpoint's address. */
  protected reportError(exc: Error, message: string, when: ErrorWhen): void {
    reportException({
      message: `${message} (datagram endpoint ${formatAddr(this.#sockname)})${
        when === "lost" ? " after the endpoint was closed" : ""
      }`,
      exception: exc,
      transport: this,
      protocol: this.#protocol,
    });
  }

  /** A forced close: drop the queue, then close the socket. */
  protected release(exc: Error | null): void {
    this.#early = null;
    this.#queue = [];
    this.#head = 0;
    this.#bufferSize = 0;
    this.#closeSocket(exc);
  }

  /** The queue is sent after `close()`: close the socket. */
  #finish(exc: Error | null): void {
    if (this.markLost()) this.#closeSocket(exc);
  }

  /**
   * Closes the socket once the send in flight, if any, is done (the engine
   * drops the callback of a send that a close overtakes, and may leave its
   * operation running), then calls `connectionLost` once the socket is
   * closed: nothing of the endpoint is left running by then.
   */
  #closeSocket(exc: Error | null): void {
    const close = () => {
      void closeSocket(this.#socket).then(() => this.callConnectionLost(exc));
    };
    if (this.#inFlight) this.#whenIdle = close;
    else close();
  }

  protected override afterLost(): void {
    this.#done.resolve();
  }

  /** The watermarks as `[low, high]`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return this.#flow.limits();
  }

  /**
   * Sets the watermarks as asyncio does: `high` defaults to 64 KiB (or
   * `4 * low`), `low` to `high / 4`.
   */
  setWriteBufferLimits(high?: number, low?: number): void {
    this.#flow.setLimits(high, low);
  }

  // ---- Information -----------------------------------------------------------

  #peername(): Deno.NetAddr | undefined {
    const remote = this.#setup.remote;
    return remote ? netAddr(remote.hostname, remote.port) : undefined;
  }

  /** Endpoint details by name. */
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    switch (name) {
      case "sockname":
        return { ...this.#sockname };
      case "peername":
        return this.#peername() ?? defaultValue;
      case "socket":
        return this.#socket;
      default:
        return defaultValue;
    }
  }

  /** The protocol the endpoint calls. */
  getProtocol(): DatagramProtocol {
    return this.#protocol as DatagramProtocol;
  }

  /** Replaces the protocol. */
  setProtocol(protocol: DatagramProtocol): void {
    checkProtocolObject(protocol, "protocol");
    this.#protocol = protocol;
  }

  /** Shows the state that matters. */
  [Symbol.for("Deno.customInspect")](): string {
    const parts = [
      this.lost ? "closed" : this.isClosing() ? "closing" : "open",
      `sockname=${formatAddr(this.#sockname)}`,
    ];
    const peer = this.#peername();
    if (peer) parts.push(`peer=${formatAddr(peer)}`);
    if (this.#flow.paused) parts.push("writing paused");
    parts.push(`buffered=${this.#bufferSize}`);
    return `DatagramTransport { ${parts.join(", ")} }`;
  }
}

/** The addresses `addr` stands for, in `family` if given (a literal is itself). */
async function resolve(
  lookup: Lookup,
  addr: DatagramAddress,
  family: DatagramFamily | undefined,
  name: string,
): Promise<Resolved[]> {
  const literal = familyOf(addr.hostname);
  if (literal) return [{ ...addr, family: literal }];
  let found: { address: string; family: number }[];
  try {
    found = await lookup(addr.hostname, {
      all: true,
      family: family === undefined ? 0 : family === "ipv4" ? 4 : 6,
    });
  } catch (err) {
    throw engineError(err, `Cannot resolve ${name}.hostname ${addr.hostname}`);
  }
  return found.map((a) => ({
    hostname: a.address,
    port: addr.port,
    family: a.family === 6 ? "ipv6" as const : "ipv4" as const,
  }));
}

/** A local and a remote address of one family, to try in turn. */
interface Pair {
  family: DatagramFamily;
  local: Resolved;
  remote: Resolved | null;
}

/**
 * The (local, remote) pairs to try, as asyncio makes them: for each family
 * the addresses have, in the order they were resolved, the first local
 * and the first remote address of that family. A missing local address is
 * the family's wildcard on port 0.
 */
async function plan(
  lookup: Lookup,
  opts: DatagramEndpointOptions,
): Promise<Pair[]> {
  let family = opts.family;
  const locals = opts.localAddr &&
    await resolve(lookup, opts.localAddr, family, "options.localAddr");
  if (!family && locals && new Set(locals.map((a) => a.family)).size === 1) {
    family = locals[0]!.family;
  }
  const remotes = opts.remoteAddr &&
    await resolve(lookup, opts.remoteAddr, family, "options.remoteAddr");
  const order = (locals ?? remotes ?? []).map((a) => a.family);
  if (order.length === 0) order.push(family!);
  const pairs: Pair[] = [];
  for (const fam of new Set(order)) {
    const local = locals
      ? locals.find((a) => a.family === fam)
      : { hostname: fam === "ipv4" ? "0.0.0.0" : "::", port: 0, family: fam };
    const remote = remotes ? remotes.find((a) => a.family === fam) : null;
    if (local && remote !== undefined) {
      pairs.push({ family: fam, local, remote });
    }
  }
  if (pairs.length === 0) {
    throw new RangeError(
      `Cannot find a local and a remote address of one family: options.localAddr.hostname ${
        opts.localAddr!.hostname
      } is ${
        locals!.map((a) => a.hostname).join(", ")
      }, options.remoteAddr.hostname ${opts.remoteAddr!.hostname} is ${
        remotes!.map((a) => a.hostname).join(", ")
      }`,
    );
  }
  return pairs;
}

/**
 * Makes a socket for `pair`, binds it, sets `SO_BROADCAST` and connects
 * it as asked; datagrams that arrive meanwhile are kept in `early`. On
 * failure the socket is closed before the error is thrown.
 */
async function openSocket(
  dgram: Dgram,
  pair: Pair,
  opts: DatagramEndpointOptions,
  early: Early[],
): Promise<{ socket: Socket; detach: () => void }> {
  const { local, remote } = pair;
  const where = formatAddr(netAddr(local.hostname, local.port));
  // Deno's engine would end the process on a missing permission.
  if (!netPermitted(local.hostname, local.port, true)) {
    throw new Deno.errors.NotCapable(
      `Cannot bind a UDP endpoint to ${where}: requires net access to "${
        permissionHost(local.hostname, local.port)
      }", run again with the --allow-net flag`,
    );
  }
  const socket = dgram.createSocket({
    type: pair.family === "ipv4" ? "udp4" : "udp6",
    reuseAddr: opts.reuseAddr ?? false,
  });
  const onEarly = (data: Uint8Array, rinfo: RemoteInfo) => {
    early.push([data, rinfo]);
  };
  const onError = () => {}; // until the transport listens: errors come through socketEvent
  socket.on("message", onEarly);
  socket.on("error", onError);
  const signal = opts.signal;
  try {
    await abortable(
      socketEvent(
        socket,
        "listening",
        () => socket.bind({ address: local.hostname, port: local.port }),
        `Cannot bind a UDP endpoint to ${where}`,
      ),
      signal,
    );
    if (opts.allowBroadcast) {
      try {
        socket.setBroadcast(true);
      } catch (err) {
        throw engineError(err, "Cannot set SO_BROADCAST");
      }
    }
    if (remote && !opts.allowBroadcast) {
      await abortable(
        socketEvent(
          socket,
          "connect",
          () => socket.connect(remote.port, remote.hostname),
          `Cannot connect a UDP endpoint to ${
            formatAddr(netAddr(remote.hostname, remote.port))
          }`,
        ),
        signal,
      );
    }
  } catch (err) {
    socket.off("message", onEarly);
    await closeSocket(socket);
    throw err;
  }
  // The caller detaches these once the transport listens, in the same tick.
  const detach = () => {
    socket.off("message", onEarly);
    socket.off("error", onError);
  };
  return { socket, detach };
}

/** Whether a failure to open one address pair lets the next one be tried. */
function isOsError(err: unknown): boolean {
  return err instanceof Error && !(err instanceof Deno.errors.NotCapable) &&
    typeof (err as EngineError).code === "string";
}

/**
 * Resolves the addresses, binds (and connects) a socket, makes the
 * protocol and calls `connectionMade`: the body of
 * `createDatagramEndpoint`. Options are checked already.
 *
 * @returns The transport and protocol, once `connectionMade` has run.
 */
export async function openDatagramEndpoint<P extends DatagramProtocol>(
  protocolFactory: () => P,
  opts: DatagramEndpointOptions,
): Promise<[DatagramTransport, P]> {
  const signal = opts.signal;
  signal?.throwIfAborted();
  const { dgram, lookup } = await abortable(engine.get(), signal);
  const pairs = await abortable(plan(lookup, opts), signal);
  let opened: { socket: Socket; detach: () => void } | undefined;
  let pair: Pair | undefined;
  let early: Early[] = [];
  let firstError: unknown;
  for (pair of pairs) {
    early = [];
    try {
      opened = await openSocket(dgram, pair, opts, early);
      break;
    } catch (err) {
      if (signal?.aborted || !isOsError(err)) throw err;
      firstError ??= err;
    }
  }
  if (!opened || !pair) throw firstError;
  const remote = pair.remote;
  const transport = new UdpTransport(opened.socket, {
    family: pair.family,
    remote,
    connected: remote !== null && !opts.allowBroadcast,
    allowBroadcast: opts.allowBroadcast ?? false,
  }, early);
  opened.detach();
  let protocol: P;
  try {
    protocol = makeProtocol(protocolFactory);
  } catch (err) {
    transport.abort();
    await transport.done;
    throw err;
  }
  const failure = transport.start(protocol);
  if (failure) {
    await transport.done;
    throw failure;
  }
  return [transport, protocol];
}
