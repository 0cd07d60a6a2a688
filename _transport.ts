// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The transports. {@linkcode StreamTransport} holds what every transport does
 * the same way: the protocol, the write gate (`writeEof` state, dropped
 * writes and their warning), EOF handling, error logging, `getExtraInfo`
 * and the inspect string. Two transports build on it:
 *
 * - {@linkcode SocketTransport}, the one socket transport, over a
 *   `Deno.Conn` of any kind: TCP, Unix, or TLS from the start (a
 *   `Deno.TlsConn`, whose handshake is done before the transport is made).
 *   It uses `conn.read()`, `conn.write()` and `conn.closeWrite()` only
 *   (Deno's `readable`/`writable` close the whole connection at EOF, which
 *   would break half-close).
 * - `TlsTransport` in `_tls.ts`, the application's side of `startTls`: a
 *   TLS engine running over a `SocketTransport`.
 *
 * Failure has one path, shared with the UDP transport (`_base_transport.ts`):
 * `fatalError(exc)` → `forceClose(exc)` → `release(exc)` →
 * `callConnectionLost(exc)`, once, releasing the `Deno.Conn` in
 * `afterLost`. Every call into the protocol has its own `try`.
 *
 * @module
 */
import {
  checkByteList,
  checkBytes,
  checkProtocolObject,
  toError,
} from "./_checks.ts";
import { BaseProtocol, type Transport } from "./_contract.ts";
import { formatAddr } from "./_address.ts";
import { closeQuietly } from "./_conn.ts";
import {
  IdleTrim,
  MIN_READ,
  MORE_COMING,
  nextReadSize,
  QUIET_EXTRA,
  QUIET_READ,
  quietMemory,
  READ_WAIT,
  SHORT_RUNS,
  spareSlabs,
  TRIM_IDLE,
  type Trimmable,
} from "./_read_memory.ts";
import { type ErrorWhen, TransportBase } from "./_base_transport.ts";
import { WriteFlow } from "./_flow_control.ts";
import { isConnectionError, logger, reportException } from "./_log.ts";

/**
 * Writes are copied into reusable buffers of this size: Deno handles an
 * ArrayBuffer it has seen before much faster than a new one per write (a raw
 * echo loop loses ~30% when it writes a fresh copy each time).
 */
const WRITE_BUF = 64 * 1024;
/**
 * Small writes take a buffer of this size instead, so that 10,000
 * connections each writing a few bytes at once do not take 64 KiB each.
 */
const SMALL_WRITE_BUF = 4 * 1024;
/** Free write buffers by size, shared by all transports (idle ones hold none). */
const writePools = new Map<number, Uint8Array[]>([[WRITE_BUF, []], [
  SMALL_WRITE_BUF,
  [],
]]);
/**
 * Each size's pool keeps up to this many bytes of free buffers. A pool only
 * holds buffers that were all in use at once, so this bounds what a burst
 * leaves behind. It must cover every connection writing at once: with 64
 * small buffers, 100 connections echoing 1 KiB took a fresh buffer for a
 * third of their writes (56,562 of 171,102); with 4 MiB, 100 in all.
 */
const WRITE_POOL_BYTES = 4 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * How many microtasks a read issued right after a full quiet read may take
 * to complete and join it (see `#readAhead`). Deno completes a read of
 * bytes already in the socket within 2; the check itself adds one.
 */
const READ_AHEAD_HOPS = 4;

/** What a TLS transport knows about its session (`null` where unknown). */
export interface TlsInfo {
  /** The negotiated ALPN protocol, or `null`. */
  alpnProtocol: string | null;
  /** The protocol version, such as `"TLSv1.3"`. */
  tlsVersion: string | null;
  /** The cipher suite: its name and the TLS version that defines it. */
  cipher: { name: string; version: string } | null;
  /** The peer's certificate, as `node:tls` describes it, if it sent one. */
  peerCertificate: Record<string, unknown> | null;
}

/** The TLS information of a session whose details are not known (yet). */
export function unknownTls(alpnProtocol: string | null = null): TlsInfo {
  return {
    alpnProtocol,
    tlsVersion: null,
    cipher: null,
    peerCertificate: null,
  };
}

/** The names `getExtraInfo` answers from a {@linkcode TlsInfo}. */
const TLS_INFO_NAMES = new Set<string>([
  "alpnProtocol",
  "tlsVersion",
  "cipher",
  "peerCertificate",
]);

/** A protocol of any kind, as the transports call it. */
export type AnyProtocol = BaseProtocol & {
  dataReceived?(data: Uint8Array): void;
  eofReceived?(): unknown;
  getBuffer?(sizehint: number): Uint8Array;
  bufferUpdated?(nbytes: number): void;
  [READ_WAIT]?(): Promise<void> | null;
  [TRIM_IDLE]?(): void;
  [MORE_COMING]?(): void;
};

/** What a transport needs from whoever accepted it (a server). */
export interface TransportOwner {
  /** Called once the transport has called `connectionLost`. */
  detach(transport: StreamTransport): void;
  /** The server's listening addresses, for reports. */
  readonly name?: string;
}

/** Optional details of a socket transport. */
export interface TransportInit {
  /** The server that accepted the connection. */
  owner?: TransportOwner;
  /** Set on TLS connections (a handshaken `Deno.TlsConn`). */
  tls?: TlsInfo;
  /** The host name dialled, if this side dialled one. */
  host?: string;
  /** Milliseconds without a byte either way before the transport aborts. */
  idleTimeout?: number | undefined;
}

/**
 * What both transports share. Subclasses own reading, writing and closing;
 * they hand the bytes to send to {@linkcode StreamTransport.send}, call
 * {@linkcode StreamTransport.handleEof} at the peer's EOF and
 * {@linkcode StreamTransport.reportError} before they fail.
 */
export abstract class StreamTransport extends TransportBase
  implements Transport {
  #protocol!: AnyProtocol;
  /** Whether `#protocol` takes bytes by `getBuffer`: decided once per protocol. */
  #buffered = false;
  #tls: TlsInfo | null;
  #owner: TransportOwner | undefined;
  #eofWritten = false;
  #eofReceived = false;

  /**
   * @param protocol The protocol, or `null` when it is made later and given
   * to {@linkcode StreamTransport.start} (nothing is delivered until then).
   * @param tls The TLS session, or `null` on a plain connection.
   * @param owner The server that accepted the connection, if any.
   */
  constructor(
    protocol: BaseProtocol | null,
    tls: TlsInfo | null,
    owner: TransportOwner | undefined,
  ) {
    super();
    this.#use(protocol ?? new BaseProtocol());
    this.#tls = tls;
    this.#owner = owner;
  }

  /**
   * Hands the connection to `protocol`: calls `connectionMade`, then starts
   * delivering data.
   *
   * @returns `null` once the protocol has been told, or the error that
   * `connectionMade` threw (the transport is then aborted).
   */
  start(protocol: BaseProtocol): Error | null {
    this.#use(protocol);
    const exc = this.callConnectionMade(protocol);
    if (exc) return exc;
    if (!this.isClosing()) this.startReading();
    return null;
  }

  /** The TLS session, or `null` on a plain connection: the one "is it TLS?". */
  get tls(): TlsInfo | null {
    return this.#tls;
  }

  /** Records the TLS session once the handshake is done. */
  protected setTls(tls: TlsInfo): void {
    this.#tls = tls;
  }

  /** The protocol, typed for calling any callback. */
  protected get protocol(): AnyProtocol {
    return this.#protocol;
  }

  /** Whether the protocol takes bytes by `getBuffer`/`bufferUpdated`. */
  protected get buffered(): boolean {
    return this.#buffered;
  }

  /**
   * Hands `data` to the protocol by whichever API it has: `dataReceived` (a
   * copy unless `keepable`), or `getBuffer`/`bufferUpdated` as many times as
   * its buffers need. Callback errors propagate.
   */
  protected deliver(data: Uint8Array, keepable: boolean): void {
    const p = this.#protocol;
    if (!this.#buffered) {
      p.dataReceived!(keepable ? data : data.slice());
      return;
    }
    let off = 0;
    while (off < data.length) {
      const buf = getBufferFrom(p, data.length - off);
      const m = Math.min(buf.length, data.length - off);
      buf.set(data.subarray(off, off + m));
      off += m;
      p.bufferUpdated!(m);
    }
  }

  protected lostProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /** Whether `writeEof()` was called. */
  protected get eofWritten(): boolean {
    return this.#eofWritten;
  }

  /** Whether the peer's EOF has arrived. */
  protected get eofReceived(): boolean {
    return this.#eofReceived;
  }

  // ---- What subclasses provide ----------------------------------------------

  /** Starts delivering data to the protocol (after `start`). */
  protected abstract startReading(): void;
  /** Queues `parts` (`total > 0` bytes, already checked) for sending. */
  protected abstract send(parts: readonly Uint8Array[], total: number): void;
  /** Sends EOF once the buffer is flushed (`writeEof()` on a plain transport). */
  protected abstract shutdownWrite(): void;
  /** `"open"`, `"closing"`, `"closed"`, or another word for the inspect string. */
  protected abstract state(): string;
  /** The socket's own details: `"peername"`, `"sockname"`, `"socket"`. */
  protected abstract socketInfo(name: string, defaultValue: unknown): unknown;
  abstract getWriteBufferSize(): number;
  abstract getWriteBufferLimits(): [low: number, high: number];
  abstract setWriteBufferLimits(high?: number, low?: number): void;
  abstract close(): void;
  abstract abort(): void;
  abstract pauseReading(): void;
  abstract resumeReading(): void;
  abstract isReading(): boolean;

  // ---- Writing ---------------------------------------------------------------

  /** Queues a copy of `data` for sending. */
  write(data: Uint8Array): void {
    checkBytes(data, "data");
    if (this.#canQueue("write") && data.length > 0) {
      this.send([data], data.length);
    }
  }

  /** Queues the concatenation of `list` for sending. */
  writelines(list: Iterable<Uint8Array>): void {
    const [parts, total] = checkByteList(list);
    if (this.#canQueue("writelines") && total > 0) this.send(parts, total);
  }

  /** The checks `write` and `writelines` share; false when the data is to be dropped. */
  #canQueue(what: string): boolean {
    if (this.#eofWritten) {
      throw new Error(
        `Cannot ${what} to transport: writeEof() was already called`,
      );
    }
    if (!this.isClosing()) return true;
    this.writeDropped(
      "Dropped {count} writes to a closed transport (peer {peer})",
      { peer: this.#peer() },
    );
    return false;
  }

  /** Half-closes once the buffer is flushed. */
  writeEof(): void {
    if (this.#tls) {
      throw new Error(
        "Cannot writeEof(): a TLS transport cannot half-close (canWriteEof() is false)",
      );
    }
    if (this.isClosing() || this.#eofWritten) return;
    this.#eofWritten = true;
    this.shutdownWrite();
  }

  /** Whether `writeEof()` is supported (not on TLS). */
  canWriteEof(): boolean {
    return this.#tls === null;
  }

  // ---- Events for subclasses -------------------------------------------------

  /**
   * The peer's EOF: calls `eofReceived`, then closes unless it returned a
   * truthy value on a transport that can half-close.
   *
   * @returns The error `eofReceived` threw, to fail with, or `null`.
   */
  protected handleEof(): Error | null {
    this.#eofReceived = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      return toError(err);
    }
    if (keepOpen && this.#tls) {
      logger.warning(
        "eofReceived() returned true, but TLS cannot half-close: closing",
      );
    }
    if (!keepOpen || this.#tls) this.close();
    return null;
  }

  /**
   * Reports the error a transport is about to fail with. A peer going away
   * (reset, EOF, timeout) is logged at debug level, as asyncio does: the
   * protocol's `connectionLost(exc)` hears of it. So is a failed handshake
   * on a connection this side made or upgraded: its caller's promise rejects
   * with it. A server's failed handshake is a warning (junk, a plain client,
   * a silent one), except when the client refused it with a TLS alert (our
   * certificate, say): that is a setup to fix, reported as an exception,
   * as is anything else (a callback that threw) that nobody else hears of.
   */
  protected reportError(exc: Error, message: string, when: ErrorWhen): void {
    const peer = this.#peer();
    const server = this.#owner?.name;
    if (when === "handshake") {
      if (this.#owner !== undefined && /alert/i.test(exc.message)) {
        reportException({
          message: "TLS handshake failed: the client refused it",
          exception: exc,
          peer,
          transport: this,
          ...(server !== undefined ? { server } : {}),
        });
      } else {
        logger[this.#owner ? "warning" : "debug"](
          "TLS handshake failed (peer {peer}): {error}",
          { peer, error: exc },
        );
      }
      return;
    }
    if (when === "open" && isTlsProtocolError(exc)) {
      // A TLS alert or protocol error from the peer after the handshake
      // (a client refused by our requestCert, say): the peer's doing, as a
      // failed handshake is; connectionLost(exc) hears of it.
      logger[this.#owner ? "warning" : "debug"](
        "{message} (peer {peer}): {error}",
        { message, peer, error: exc },
      );
      return;
    }
    if (when === "open" && isConnectionError(exc)) {
      logger.debug("{message} (peer {peer}): {error}", {
        message,
        peer,
        error: exc,
      });
      return;
    }
    reportException({
      message: when === "lost"
        ? `${message} after the connection was lost`
        : message,
      exception: exc,
      peer,
      transport: this,
      protocol: this.#protocol,
      ...(server !== undefined ? { server } : {}),
    });
  }

  /** Tells the owner (a server) that the connection is gone. */
  protected override afterLost(): void {
    this.#owner?.detach(this);
  }

  // ---- Information -----------------------------------------------------------

  /** Connection details by name. */
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    if (TLS_INFO_NAMES.has(name)) {
      return this.#tls ? this.#tls[name as keyof TlsInfo] : defaultValue;
    }
    return this.socketInfo(name, defaultValue);
  }

  #peer(): string {
    const peer = this.socketInfo("peername", undefined) as
      | Deno.Addr
      | undefined;
    return peer ? formatAddr(peer) : "?";
  }

  /** The protocol the transport calls. */
  getProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /** Replaces the protocol. */
  setProtocol(protocol: BaseProtocol): void {
    checkProtocolObject(protocol, "protocol");
    this.#use(protocol);
  }

  /** Makes `protocol` the one called, and picks how it takes bytes. */
  #use(protocol: BaseProtocol): void {
    this.#protocol = protocol as AnyProtocol;
    this.#buffered = typeof this.#protocol.getBuffer === "function";
  }

  /** Shows the state that matters. */
  [Symbol.for("Deno.customInspect")](): string {
    const parts = [this.state(), `peer=${this.#peer()}`];
    if (!this.isReading() && !this.isClosing() && !this.#eofReceived) {
      parts.push("reading paused");
    }
    if (this.#eofReceived) parts.push("eof received");
    if (this.#eofWritten) parts.push("eof written");
    parts.push(`buffered=${this.getWriteBufferSize()}`);
    if (this.#tls) parts.push("tls");
    return `Transport { ${parts.join(", ")} }`;
  }
}

/** The transport of one `Deno.Conn`. */
export class SocketTransport extends StreamTransport implements Trimmable {
  #conn: Deno.Conn;
  /** The host name dialled, if this side dialled one (for `startTls`). */
  readonly host: string | undefined;

  // Reading: the memory follows the traffic (see `_read_memory.ts`).
  // Non-buffered protocols: reads land in a slab; the protocol gets a view
  // of the bytes read, which nothing writes again, and later reads fill the
  // rest. A quiet read (after one that emptied the socket) holds no slab:
  // it reads at most QUIET_READ into `#quietBuf`, whose bytes are then
  // copied into slab space; meanwhile the slab's free rest is with
  // `spareSlabs`, for any connection's next read.
  #slab: Uint8Array = EMPTY;
  #slabOff = 0;
  #readSize = MIN_READ;
  /** The last read emptied the socket: the next one may wait for long. */
  #quiet = true;
  #quietBuf: Uint8Array | null = null;
  /** When the pending quiet read began (`IdleTrim.now`), or -1. */
  quietSince = -1;
  /**
   * A quiet read that filled brought this much, offered less than the read
   * size: the next read is offered the rest (see `#restSize`), and the two
   * count as one read.
   */
  #restOf = 0;
  /** Bytes read since the last quiet read began (see `#quietSize`). */
  #run = 0;
  /**
   * Runs of reads of `QUIET_READ` bytes or less since the last longer one,
   * up to `SHORT_RUNS` (see `#quietSize`).
   */
  #shortRuns = SHORT_RUNS;
  /** A read `#readAhead` issued that the loop has yet to take, with its memory and protocol. */
  #ahead:
    | { read: Promise<number | null>; buf: Uint8Array; protocol: AnyProtocol }
    | null = null;
  #paused = false;
  #resume: PromiseWithResolvers<void> | null = null;

  // Writing: full buffers waiting in #queue, then the one being filled.
  #queue: Uint8Array[] = [];
  #fill: Uint8Array | null = null;
  #fillLen = 0;
  #bufferSize = 0;
  #writing = false;

  #flow = new WriteFlow({
    getWriteBufferSize: () => this.#bufferSize,
    flowProtocol: () => this.protocol,
    flowFailed: (exc, message) => this.fatalError(exc, message),
  });
  /** Whether the `Deno.Conn` was closed. */
  #closed = false;

  // Idle timeout (0: none). Reads and writes only set #moved (a store:
  // performance.now() costs ~90 ns a call); the one timer, firing every
  // quarter of the timeout, clears it and measures the silence from the
  // first check that found it clear, so it is never early and at most a
  // quarter late.
  #idleMs: number;
  #moved = false;
  #quietSince = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param conn The connection.
   * @param protocol Its protocol, or `null` to give it to `start` later.
   * @param init The owner, the host dialled, the TLS session of a `Deno.TlsConn`.
   */
  constructor(
    conn: Deno.Conn,
    protocol: BaseProtocol | null,
    init: TransportInit = {},
  ) {
    super(protocol, init.tls ?? null, init.owner);
    this.#conn = conn;
    this.host = init.host;
    this.#idleMs = init.idleTimeout ?? 0;
  }

  protected startReading(): void {
    IdleTrim.watch(this);
    if (this.#idleMs > 0) {
      this.#quietSince = performance.now();
      this.#idleTimer = setTimeout(() => this.#checkIdle(), this.#idleMs / 4);
    }
    void this.#readLoop();
  }

  /**
   * The idle timer fired: aborts with `TimedOut` if nothing has moved for
   * the whole timeout, else checks again a quarter of it later (or when
   * the rest of it is over).
   */
  #checkIdle(): void {
    this.#idleTimer = undefined;
    if (this.lost) return;
    const now = performance.now();
    if (this.#moved) {
      this.#moved = false;
      this.#quietSince = now; // bytes moved since the last check: not before
    }
    const left = this.#quietSince + this.#idleMs - now;
    if (left > 0) {
      this.#idleTimer = setTimeout(
        () => this.#checkIdle(),
        Math.min(Math.ceil(left), this.#idleMs / 4),
      );
      return;
    }
    this.fatalError(
      new Deno.errors.TimedOut(
        `No data in either direction for ${this.#idleMs} ms (idleTimeout)`,
      ),
      "Idle timeout",
    );
  }

  // ---- Reading -----------------------------------------------------------

  async #readLoop(): Promise<void> {
    const conn = this.#conn;
    while (true) {
      if (this.#paused) {
        await this.#waitForResume();
        if (this.isClosing()) return;
      }
      let protocol = this.protocol;
      let buf: Uint8Array;
      let size: number;
      /** The read goes to `#quietBuf`, to be copied into the slab. */
      let copied = false;
      let read: Promise<number | null>;
      const ahead = this.#ahead;
      if (ahead !== null) {
        // #readAhead issued this read already.
        this.#ahead = null;
        ({ read, buf, protocol } = ahead);
        size = buf.length;
      } else {
        const buffered = this.buffered;
        if (buffered) {
          // The stream reader may ask to wait for a readInto() about to
          // come, whose buffer the read can then fill directly.
          const wait = protocol[READ_WAIT]?.();
          if (wait) {
            await wait;
            if (this.isClosing()) return;
            if (this.#paused || this.protocol !== protocol) continue;
          }
        }
        const quiet = this.#quiet;
        size = quiet ? this.#quietSize() : this.#restSize();
        if (buffered) {
          try {
            buf = getBufferFrom(protocol, size);
          } catch (err) {
            this.fatalError(toError(err), "Exception in getBuffer()");
            return;
          }
        } else if (quiet) {
          // A read that may wait for long must not hold a slab: it reads
          // into the connection's own small memory, copied into slab
          // space when bytes come.
          const small = this.#quietBuf = quietMemory(this.#quietBuf, size);
          buf = small.subarray(0, size);
          copied = true;
        } else {
          buf = this.#slabSpace(size, size / 2);
        }
        if (quiet) this.quietSince = IdleTrim.now;
        read = conn.read(buf);
      }
      let n: number | null;
      try {
        n = await read;
      } catch (err) {
        if (this.isClosing()) return; // our own close() interrupted the read
        this.fatalError(toError(err), "Fatal read error on socket transport");
        return;
      }
      this.quietSince = -1;
      this.#moved = true;
      if (this.isClosing()) return;
      if (this.#paused) {
        // A read was in flight when pauseReading() was called: hold its
        // result until resumeReading().
        await this.#waitForResume();
        if (this.isClosing()) return;
      }
      if (n === null) {
        const exc = this.handleEof();
        if (exc) this.fatalError(exc, "Exception in eofReceived()");
        return;
      }
      if (copied && n === buf.length && this.protocol === protocol) {
        if (!(await this.#readAhead(protocol, buf))) return;
      } else if (!this.#received(protocol, buf, size, n, copied)) return;
    }
  }

  /**
   * A quiet read filled its small buffer (`first`): the peer is sending
   * more than it holds, and the socket most likely has the rest. Copies
   * `first` into the slab and at once reads on into the slab just after
   * it. If that read completes within `READ_AHEAD_HOPS` microtasks, the
   * protocol gets both in one `dataReceived()` (a small pending read then
   * costs a read, not a callback and a write more per message); else it
   * gets `first` alone, and the read is left in `#ahead` for the loop.
   *
   * It is offered the rest of the read size (`#restSize`) and a whole
   * read size more: a 100 KiB message then comes in one `dataReceived()`
   * after two socket reads, and an echo of it takes two socket writes. With
   * only the rest, it came as 64 KiB and a byte, then 36 KiB: three
   * socket reads, and three writes (the write buffers hold 64 KiB), where
   * the transport before the small quiet read took two of each (0.75 of
   * its throughput at 100 KiB x 10 in a same-run A/B, 2026-12-05).
   *
   * @returns Whether to read on.
   */
  async #readAhead(protocol: AnyProtocol, first: Uint8Array): Promise<boolean> {
    const n = first.length;
    const full = this.#readSize;
    this.#quiet = false;
    if (n < full) this.#restOf = n; // counted with the read after it
    else this.#countRead(n, n, true);
    const restSize = this.#restSize();
    // What is left of the slab, if that takes half the rest of the read
    // size: a fresh slab costs more than a read more.
    const space = this.#slabSpace(
      n + restSize + this.#readSize,
      n + Math.ceil(restSize / 2),
    );
    space.set(first);
    const rest = space.subarray(n);
    const size = rest.length;
    let got: number | null | undefined;
    let failed = false;
    const read = this.#conn.read(rest);
    read.then((m) => got = m, () => failed = true);
    for (let i = 0; i < READ_AHEAD_HOPS && got === undefined && !failed; i++) {
      await undefined;
    }
    if (this.isClosing()) return false;
    if (this.#paused) {
      await this.#waitForResume();
      if (this.isClosing()) return false;
    }
    if (typeof got === "number") {
      this.#moved = true;
      this.#countRead(size, got, false);
      this.#quiet = got < size;
      this.#slabOff += n + got;
      if (this.#quiet) this.#spareSlab();
      return this.#deliver(protocol, space.subarray(0, n + got), n + got);
    }
    // Not yet, at its end, or failed: the loop takes it after `first`.
    this.#ahead = { read, buf: rest, protocol };
    this.#slabOff += n;
    return this.#deliver(protocol, space.subarray(0, n), n);
  }

  /**
   * Hands the `n` bytes a read of `size` put into `buf` to the protocol
   * (copied into the slab first when `copied`). Apart from the read loop:
   * a suspended async function keeps its dead locals alive, and the loop
   * must not keep the last bytes it delivered (their slab) while it waits.
   *
   * @returns Whether to read on.
   */
  #received(
    protocol: AnyProtocol,
    buf: Uint8Array,
    size: number,
    n: number,
    copied: boolean,
  ): boolean {
    const full = this.#readSize;
    const wasQuiet = this.#quiet;
    this.#countRead(Math.min(size, buf.length), n, wasQuiet);
    this.#quiet = n < buf.length;
    const buffered = this.buffered;
    if (wasQuiet && !this.#quiet && buffered) {
      // A quiet read filled: the rest of the message is most likely in the
      // socket, and the next read takes it at once (as `#readAhead` does
      // for a `Protocol`). A stream reader wakes its reader once for both.
      if (size < full && n < full) this.#restOf = n;
      if (this.protocol === protocol) protocol[MORE_COMING]?.();
    }
    let data = buf.subarray(0, n);
    if (copied) {
      data = this.#slabSpace(n, n);
      data.set(buf.subarray(0, n));
    }
    if (!buffered) {
      this.#slabOff += n;
      // The socket is empty: the slab's free rest is for whichever
      // connection reads next, not kept by this one while it waits.
      if (this.#quiet) this.#spareSlab();
    }
    return this.#deliver(protocol, data, n);
  }

  /**
   * Hands `data`, the `n` bytes a read brought, to `protocol`: to
   * `dataReceived()`, or `bufferUpdated(n)` if they are already in its
   * buffer, or in the form the transport's protocol takes now if
   * `setProtocol()` ran while the read was in flight.
   *
   * @returns Whether to read on.
   */
  #deliver(protocol: AnyProtocol, data: Uint8Array, n: number): boolean {
    if (this.protocol !== protocol) {
      // setProtocol() ran while the read was in flight: hand the bytes to
      // the new protocol in the form it takes.
      try {
        this.deliver(data, false);
      } catch (err) {
        this.fatalError(toError(err), "Exception in a data callback");
        return false;
      }
    } else if (this.buffered) {
      try {
        protocol.bufferUpdated!(n);
      } catch (err) {
        this.fatalError(toError(err), "Exception in bufferUpdated()");
        return false;
      }
    } else {
      try {
        protocol.dataReceived!(data);
      } catch (err) {
        this.fatalError(toError(err), "Exception in dataReceived()");
        return false;
      }
    }
    return !this.isClosing();
  }

  /**
   * Room for `size` bytes at the slab's free end, or for less, but at
   * least `least`: what is left of the slab if that is at least `least`,
   * else a spare that is, else a fresh slab, four reads large once reads
   * are `QUIET_READ` or more (else `QUIET_READ`), and at least `size`.
   * Fresh memory is what costs most here (see `docs/performance.md`): a
   * slab is used to its end.
   */
  #slabSpace(size: number, least: number): Uint8Array {
    if (this.#slab.length - this.#slabOff < least) {
      const reads = this.#readSize;
      this.#slab = spareSlabs.take(
        least,
        Math.max(size, reads >= QUIET_READ ? 4 * reads : QUIET_READ),
      );
      this.#slabOff = 0;
    }
    return this.#slab.subarray(this.#slabOff, this.#slabOff + size);
  }

  /**
   * Counts a read of `n` bytes that was offered `offered` into the read
   * size (see `nextReadSize`), together with the quiet read before it when
   * it was that one's rest (`#restOf`).
   */
  #countRead(offered: number, n: number, quiet: boolean): void {
    const rest = this.#restOf;
    this.#restOf = 0;
    this.#run += n + rest;
    this.#readSize = nextReadSize(
      this.#readSize,
      offered + rest,
      n + rest,
      quiet,
    );
  }

  /**
   * The size of a quiet read: what may wait for long, so small. It is the
   * read size, at most `QUIET_READ`, so that a message of that size comes
   * in one read; but `MIN_READ` after a run of reads (from one quiet read
   * to the next) of more than `QUIET_READ`, until `SHORT_RUNS` runs of
   * `QUIET_READ` or less have followed it. A longer message fills any quiet
   * read and is joined by the next read (`#readAhead`), so a larger quiet
   * read would cost the same reads and only hold more memory while the
   * connection waits (after a burst, 12 KiB more a connection). A single
   * short run does not end a burst: its last bytes often come alone.
   * And a byte more (`QUIET_EXTRA`): a message of exactly that size then
   * leaves the connection quiet.
   */
  #quietSize(): number {
    if (this.#run > 0) {
      this.#shortRuns = this.#run > QUIET_READ
        ? 0
        : Math.min(this.#shortRuns + 1, SHORT_RUNS);
      this.#run = 0;
    }
    return (this.#shortRuns < SHORT_RUNS
      ? MIN_READ
      : Math.min(this.#readSize, QUIET_READ)) + QUIET_EXTRA;
  }

  /**
   * The size of the next read that is not quiet: the read size, or after
   * a quiet read that filled (`#restOf` bytes) the rest of the read size,
   * so that the two make one read of that size (a stream reader's
   * `read(65536)` of a long message gets 64 KiB), and a byte more, so that
   * a message of a multiple of the read size (64 KiB, 1 MiB) ends on a
   * short read, not on a full one, after which the connection would wait
   * with a full-size read in a slab or in a reader's buffer.
   */
  #restSize(): number {
    const rest = this.#restOf;
    return rest > 0 ? this.#readSize - rest + 1 : this.#readSize;
  }

  /** Gives the slab's free rest to the spares; this transport keeps none. */
  #spareSlab(): void {
    spareSlabs.give(this.#slab.subarray(this.#slabOff));
    this.#slab = EMPTY;
    this.#slabOff = 0;
  }

  /** The connection has been quiet for a sweep: give back what it keeps for more traffic. */
  trimIdle(): void {
    this.#slab = EMPTY;
    this.#slabOff = 0;
    this.#quietBuf = null; // the pending read holds its own until it ends
    if (this.buffered) this.protocol[TRIM_IDLE]?.();
  }

  async #waitForResume(): Promise<void> {
    this.#resume = Promise.withResolvers<void>();
    await this.#resume.promise;
    this.#resume = null;
  }

  /** Stops delivering data until {@linkcode resumeReading}. */
  pauseReading(): void {
    if (this.isClosing() || this.#paused) return;
    this.#paused = true;
  }

  /** Resumes delivering data. */
  resumeReading(): void {
    if (this.isClosing() || !this.#paused) return;
    this.#paused = false;
    this.#resume?.resolve();
  }

  /** Whether data is being delivered. */
  isReading(): boolean {
    return !this.#paused && !this.isClosing() && !this.eofReceived;
  }

  // ---- Writing -----------------------------------------------------------

  /** Copies `parts` (`total` bytes) into write buffers and starts the writer. */
  protected send(parts: readonly Uint8Array[], total: number): void {
    let left = total;
    for (const part of parts) {
      let off = 0;
      while (off < part.length) {
        if (this.#fill === null) {
          const size = left <= SMALL_WRITE_BUF ? SMALL_WRITE_BUF : WRITE_BUF;
          this.#fill = writePools.get(size)!.pop() ?? new Uint8Array(size);
          this.#fillLen = 0;
        }
        const fill = this.#fill;
        const m = Math.min(fill.length - this.#fillLen, part.length - off);
        fill.set(
          m === part.length ? part : part.subarray(off, off + m),
          this.#fillLen,
        );
        this.#fillLen += m;
        off += m;
        left -= m;
        if (this.#fillLen === fill.length) {
          this.#queue.push(fill);
          this.#fill = null;
        }
      }
    }
    this.#bufferSize += total;
    if (!this.#writing) void this.#writeLoop();
    this.#flow.maybePause();
  }

  /** Takes the next piece to write: a full buffer, else the one being filled. */
  #takeChunk(): Uint8Array | null {
    const full = this.#queue.shift();
    if (full) return full;
    if (this.#fill === null) return null;
    const chunk = this.#fill.subarray(0, this.#fillLen);
    this.#fill = null;
    return chunk;
  }

  /** Drops every buffered byte, returning the buffers to the pool. */
  #dropBuffer(): void {
    for (const buf of this.#queue) release(buf);
    if (this.#fill) release(this.#fill);
    this.#queue = [];
    this.#fill = null;
    this.#bufferSize = 0;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    const conn = this.#conn;
    try {
      let chunk: Uint8Array | null;
      while ((chunk = this.#takeChunk()) !== null) {
        let off = 0;
        while (off < chunk.length) {
          const n = await conn.write(off === 0 ? chunk : chunk.subarray(off));
          this.#moved = true;
          if (this.lost) return;
          off += n;
          this.#bufferSize -= n;
          this.#flow.maybeResume();
        }
        release(chunk);
      }
    } catch (err) {
      if (!this.lost) {
        this.fatalError(toError(err), "Fatal write error on socket transport");
      }
      return;
    } finally {
      this.#writing = false;
    }
    if (this.lost) return;
    if (this.isClosing()) {
      this.#flushed();
    } else if (this.eofWritten) {
      this.#closeWrite();
    }
  }

  /** Sends EOF now, or after the write loop has flushed the buffer. */
  protected shutdownWrite(): void {
    if (!this.#writing) this.#closeWrite();
  }

  #closeWrite(): void {
    this.#conn.closeWrite().catch((err: unknown) => {
      if (!this.lost) {
        this.fatalError(toError(err), "Fatal error on writeEof()");
      }
    });
  }

  /** Bytes not yet accepted by the operating system. */
  getWriteBufferSize(): number {
    return this.#bufferSize;
  }

  // ---- Closing -----------------------------------------------------------

  /** Flushes, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (!this.beginClose()) return;
    this.#resume?.resolve();
    if (!this.#writing && this.#bufferSize === 0) this.#flushed();
  }

  /** Closes at once, dropping the buffer; `connectionLost(null)` follows. */
  abort(): void {
    this.forceClose(null);
  }

  /** The buffer is flushed after `close()`: `connectionLost(null)` follows. */
  #flushed(): void {
    if (this.markLost()) queueMicrotask(() => this.callConnectionLost(null));
  }

  /** A forced close: drop the buffer, close the connection now (so that a
   * pending read or write ends at once); `connectionLost(exc)` follows. */
  protected release(exc: Error | null): void {
    this.#dropBuffer();
    this.#slab = EMPTY; // a kept transport must not keep its read memory
    this.#resume?.resolve();
    this.#closeConn();
    queueMicrotask(() => this.callConnectionLost(exc));
  }

  /** Tells the owner, then releases the connection. */
  protected override afterLost(): void {
    try {
      super.afterLost();
    } finally {
      this.#closeConn();
    }
  }

  #closeConn(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    IdleTrim.unwatch(this);
    this.#slab = EMPTY;
    closeQuietly(this.#conn);
  }

  // ---- Information -------------------------------------------------------

  protected state(): string {
    return this.lost ? "closed" : this.isClosing() ? "closing" : "open";
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

  protected socketInfo(name: string, defaultValue: unknown): unknown {
    switch (name) {
      case "peername":
        return withTransport(this.#conn.remoteAddr);
      case "sockname":
        return withTransport(this.#conn.localAddr);
      case "socket":
        return this.#conn;
      default:
        return defaultValue;
    }
  }
}

/** Whether `transport` speaks TLS (one of ours with a TLS session). */
export function isTls(transport: Transport): boolean {
  return transport instanceof StreamTransport && transport.tls !== null;
}

/**
 * Whether an error is the TLS engine's report of a peer's alert or a
 * protocol violation (Node's `ERR_SSL_*` codes), not an error of our own or
 * of the application's.
 */
function isTlsProtocolError(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && code.startsWith("ERR_SSL_");
}

/** Calls `getBuffer(sizehint)` and checks what it returns. */
function getBufferFrom(protocol: AnyProtocol, sizehint: number): Uint8Array {
  const buf = protocol.getBuffer!(sizehint);
  checkBytes(buf, "getBuffer() result");
  if (buf.length === 0) {
    throw new RangeError("getBuffer() returned an empty buffer");
  }
  return buf;
}

/** Returns a write buffer to the pool, if it is a whole pool buffer. */
function release(chunk: Uint8Array): void {
  const size = chunk.buffer.byteLength;
  const pool = writePools.get(size);
  if (
    pool && (pool.length + 1) * size <= WRITE_POOL_BYTES &&
    chunk.byteOffset === 0
  ) {
    pool.push(new Uint8Array(chunk.buffer as ArrayBuffer));
  }
}

/**
 * `addr` with its `transport` field: the addresses of a `Deno.TlsConn` made
 * by `Deno.startTls` lack it (Deno 2.9).
 */
function withTransport(addr: Deno.Addr): Deno.Addr {
  if (addr.transport !== undefined) return addr;
  return { ...(addr as Omit<Deno.NetAddr, "transport">), transport: "tcp" };
}
