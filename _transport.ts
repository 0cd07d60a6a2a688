// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The one socket transport: TCP, Unix and TLS connections differ only in how
 * the `Deno.Conn` was obtained. It uses `conn.read()`, `conn.write()` and
 * `conn.closeWrite()` only (Deno's `readable`/`writable` close the whole
 * connection at EOF, which would break half-close).
 *
 * Failure has one funnel: `#fatalError(exc)` → `#forceClose(exc)` →
 * `#callConnectionLost(exc)`, guarded by `#lost`, releasing the `Deno.Conn`
 * in `finally`. Every call into the protocol has its own `try`.
 *
 * @module
 */
import { isConnectionError, logCallbackError, logger } from "./_log.ts";
import {
  checkByteList,
  checkBytes,
  checkInteger,
  checkProtocolObject,
  toError,
} from "./_validate.ts";
import type { BaseProtocol, Transport } from "./protocol.ts";

/** Default high watermark of the write buffer (asyncio's). */
const DEFAULT_HIGH = 64 * 1024;
/** Reads start with a small buffer so an idle connection holds little memory. */
const MIN_READ = 4 * 1024;
/** A read that fills the buffer doubles it, up to this. */
const MAX_READ = 64 * 1024;
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
const WRITE_POOL_MAX = 64;
/** Writes dropped after the connection is lost before a warning is logged. */
export const LOST_WRITES_WARN = 5;

/** What the transport needs from whoever accepted it (a server). */
export interface TransportOwner {
  /** Called once the transport has called `connectionLost`. */
  detach(transport: SocketTransport): void;
}

/** Optional details of a transport. */
export interface TransportInit {
  /** The server that accepted the connection. */
  owner?: TransportOwner;
  /** Set on TLS connections: the negotiated ALPN protocol. */
  tls?: { alpnProtocol: string | null };
  /** The host name dialled, if this side dialled one. */
  host?: string;
}

export type AnyProtocol = BaseProtocol & {
  dataReceived?(data: Uint8Array): void;
  eofReceived?(): unknown;
  getBuffer?(sizehint: number): Uint8Array;
  bufferUpdated?(nbytes: number): void;
};

/** The transport of one stream connection. */
export class SocketTransport implements Transport {
  #conn: Deno.Conn;
  #protocol: AnyProtocol;
  #buffered: boolean;
  #owner: TransportOwner | undefined;
  #tls: { alpnProtocol: string | null } | undefined;
  /** The host name dialled, if this side dialled one (for `startTls`). */
  readonly host: string | undefined;

  // Reading.
  // Non-buffered protocols: reads land in a slab; the protocol gets a view of
  // the bytes read, which nothing writes again, and later reads fill the rest.
  #slab: Uint8Array = new Uint8Array(0);
  #slabOff = 0;
  #readSize = MIN_READ;
  #paused = false;
  #resume: PromiseWithResolvers<void> | null = null;
  #eof = false;

  // Writing: full buffers waiting in #queue, then the one being filled.
  #queue: Uint8Array[] = [];
  #fill: Uint8Array | null = null;
  #fillLen = 0;
  #bufferSize = 0;
  #writing = false;
  #high = DEFAULT_HIGH;
  #low = DEFAULT_HIGH / 4;
  #protocolPaused = false;
  #writeEof = false;
  #lostWrites = 0;

  // Closing.
  #closing = false;
  #lost = false;
  #closed = false;

  constructor(
    conn: Deno.Conn,
    protocol: BaseProtocol,
    init: TransportInit = {},
  ) {
    this.#conn = conn;
    this.#protocol = protocol as AnyProtocol;
    this.#buffered = typeof this.#protocol.getBuffer === "function";
    this.#owner = init.owner;
    this.#tls = init.tls;
    this.host = init.host;
  }

  /**
   * Calls `connectionMade` and starts reading.
   *
   * @returns `null` once the protocol has been told, or the error that
   * `connectionMade` threw (the transport is then aborted).
   */
  start(): Error | null {
    try {
      this.#protocol.connectionMade(this);
    } catch (err) {
      const exc = toError(err);
      this.#fatalError(exc, "Exception in connectionMade()");
      return exc;
    }
    if (!this.#closing) void this.#readLoop();
    return null;
  }

  // ---- Reading -----------------------------------------------------------

  async #readLoop(): Promise<void> {
    const conn = this.#conn;
    while (true) {
      if (this.#paused) {
        this.#resume = Promise.withResolvers<void>();
        await this.#resume.promise;
        this.#resume = null;
        if (this.#closing) return;
      }
      let buf: Uint8Array;
      const protocol = this.#protocol;
      const buffered = this.#buffered;
      if (buffered) {
        try {
          buf = this.#protocol.getBuffer!(-1);
          checkBytes(buf, "getBuffer() result");
          if (buf.length === 0) {
            throw new RangeError("getBuffer() returned an empty buffer");
          }
        } catch (err) {
          this.#fatalError(toError(err), "Exception in getBuffer()");
          return;
        }
      } else {
        if (this.#slab.length - this.#slabOff < this.#readSize / 2) {
          this.#slab = new Uint8Array(
            this.#readSize >= 16 * 1024 ? this.#readSize * 4 : this.#readSize,
          );
          this.#slabOff = 0;
        }
        buf = this.#slab.subarray(
          this.#slabOff,
          this.#slabOff + this.#readSize,
        );
      }
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (this.#closing) return; // our own close() interrupted the read
        this.#fatalError(toError(err), "Fatal read error on socket transport");
        return;
      }
      if (this.#closing) return;
      if (this.#paused) {
        // A read was in flight when pauseReading() was called: hold its
        // result until resumeReading().
        this.#resume = Promise.withResolvers<void>();
        await this.#resume.promise;
        this.#resume = null;
        if (this.#closing) return;
      }
      if (n === null) {
        this.#onEof();
        return;
      }
      if (this.#protocol !== protocol) {
        // setProtocol() ran while the read was in flight: hand the bytes to
        // the new protocol in the form it takes.
        if (!buffered) this.#slabOff += n;
        if (!this.#deliverCopy(buf.subarray(0, n))) return;
      } else if (buffered) {
        try {
          this.#protocol.bufferUpdated!(n);
        } catch (err) {
          this.#fatalError(toError(err), "Exception in bufferUpdated()");
          return;
        }
      } else {
        const data = buf.subarray(0, n);
        this.#slabOff += n;
        if (n === this.#readSize && n < MAX_READ) this.#readSize *= 2;
        try {
          this.#protocol.dataReceived!(data);
        } catch (err) {
          this.#fatalError(toError(err), "Exception in dataReceived()");
          return;
        }
      }
      if (this.#closing) return;
    }
  }

  /** Delivers a copy of `data` to the current protocol; `false` if it threw. */
  #deliverCopy(data: Uint8Array): boolean {
    try {
      deliverData(this.#protocol, data, false);
      return true;
    } catch (err) {
      this.#fatalError(toError(err), "Exception in a data callback");
      return false;
    }
  }

  #onEof(): void {
    this.#eof = true;
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      this.#fatalError(toError(err), "Exception in eofReceived()");
      return;
    }
    if (!keepOpen) this.close();
  }

  /** Stops delivering data until {@linkcode resumeReading}. */
  pauseReading(): void {
    if (this.#closing || this.#paused) return;
    this.#paused = true;
  }

  /** Resumes delivering data. */
  resumeReading(): void {
    if (this.#closing || !this.#paused) return;
    this.#paused = false;
    this.#resume?.resolve();
  }

  /** Whether data is being delivered. */
  isReading(): boolean {
    return !this.#paused && !this.#closing && !this.#eof;
  }

  // ---- Writing -----------------------------------------------------------

  /** Queues a copy of `data` for sending. */
  write(data: Uint8Array): void {
    checkBytes(data, "data");
    if (this.#canQueue("write") && data.length > 0) {
      this.#enqueue([data], data.length);
    }
  }

  /** Queues the concatenation of `list` for sending. */
  writelines(list: Iterable<Uint8Array>): void {
    const [parts, total] = checkByteList(list);
    if (!this.#canQueue("writelines") || total === 0) return;
    this.#enqueue(parts, total);
  }

  /** The checks `write` and `writelines` share; false when the data is to be dropped. */
  #canQueue(what: string): boolean {
    if (this.#writeEof) {
      throw new Error(
        `Cannot ${what} to transport: writeEof() was already called`,
      );
    }
    if (this.#closing) {
      if (++this.#lostWrites > LOST_WRITES_WARN) {
        logger.warning(
          "Dropped {count} writes to a closed transport (peer {peer})",
          {
            count: this.#lostWrites,
            peer: this.#peer(),
          },
        );
      }
      return false;
    }
    return true;
  }

  /** Copies `parts` (`total` bytes) into write buffers and starts the writer. */
  #enqueue(parts: readonly Uint8Array[], total: number): void {
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
    this.#maybePauseProtocol();
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
          if (this.#lost) return;
          off += n;
          this.#bufferSize -= n;
          if (this.#protocolPaused && this.#bufferSize <= this.#low) {
            this.#resumeProtocol();
          }
        }
        release(chunk);
      }
    } catch (err) {
      if (!this.#lost) {
        this.#fatalError(toError(err), "Fatal write error on socket transport");
      }
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#lost) return;
    if (this.#closing) {
      this.#lost = true;
      queueMicrotask(() => this.#callConnectionLost(null));
    } else if (this.#writeEof) {
      this.#shutdownWrite();
    }
  }

  #shutdownWrite(): void {
    this.#conn.closeWrite().catch((err: unknown) => {
      if (!this.#lost) {
        this.#fatalError(toError(err), "Fatal error on writeEof()");
      }
    });
  }

  #maybePauseProtocol(): void {
    if (this.#protocolPaused || this.#bufferSize <= this.#high) return;
    this.#protocolPaused = true;
    try {
      this.#protocol.pauseWriting();
    } catch (err) {
      this.#fatalError(toError(err), "Exception in pauseWriting()");
    }
  }

  #resumeProtocol(): void {
    this.#protocolPaused = false;
    try {
      this.#protocol.resumeWriting();
    } catch (err) {
      this.#fatalError(toError(err), "Exception in resumeWriting()");
    }
  }

  /** Half-closes once the buffer is flushed. */
  writeEof(): void {
    if (this.#tls) {
      throw new Error(
        "Cannot writeEof(): a TLS transport cannot half-close (canWriteEof() is false)",
      );
    }
    if (this.#closing || this.#writeEof) return;
    this.#writeEof = true;
    if (!this.#writing) this.#shutdownWrite();
  }

  /** Whether `writeEof()` is supported (not on TLS). */
  canWriteEof(): boolean {
    return this.#tls === undefined;
  }

  /** Bytes not yet accepted by the operating system. */
  getWriteBufferSize(): number {
    return this.#bufferSize;
  }

  /** `[low, high]` watermarks. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /** Sets the watermarks as asyncio does. */
  setWriteBufferLimits(high?: number, low?: number): void {
    if (high !== undefined) checkInteger(high, "high", 0);
    if (low !== undefined) checkInteger(low, "low", 0);
    const h = high ?? (low === undefined ? DEFAULT_HIGH : 4 * low);
    const l = low ?? Math.floor(h / 4);
    if (h < l) throw new RangeError(`high (${h}) must be at least low (${l})`);
    this.#high = h;
    this.#low = l;
    this.#maybePauseProtocol();
  }

  // ---- Closing -----------------------------------------------------------

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** Flushes, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#wakeReader();
    if (!this.#writing && this.#bufferSize === 0) {
      this.#lost = true;
      queueMicrotask(() => this.#callConnectionLost(null));
    }
  }

  /** Closes at once, dropping the buffer; `connectionLost(null)` follows. */
  abort(): void {
    this.#forceClose(null);
  }

  #fatalError(exc: Error, message: string): void {
    if (this.#lost) {
      logCallbackError(exc, message);
      return;
    }
    if (isConnectionError(exc)) {
      logger.debug("{message} (peer {peer}): {error}", {
        message,
        peer: this.#peer(),
        error: exc,
      });
    } else {
      logger.error("{message} (peer {peer}): {error}", {
        message,
        peer: this.#peer(),
        error: exc,
      });
    }
    this.#forceClose(exc);
  }

  #forceClose(exc: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#closing = true;
    this.#dropBuffer();
    this.#wakeReader();
    // Close now so that a pending read or write ends at once.
    this.#closeConn();
    queueMicrotask(() => this.#callConnectionLost(exc));
  }

  #callConnectionLost(exc: Error | null): void {
    try {
      this.#protocol.connectionLost(exc);
    } catch (err) {
      logger.error("Exception in connectionLost(): {error}", { error: err });
    } finally {
      this.#closeConn();
      this.#owner?.detach(this);
    }
  }

  #wakeReader(): void {
    this.#resume?.resolve();
  }

  #closeConn(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch (err) {
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    }
  }

  // ---- Information -------------------------------------------------------

  /** Connection details by name. */
  getExtraInfo(name: string, defaultValue?: unknown): unknown {
    switch (name) {
      case "peername":
        return this.#peer();
      case "sockname":
        return withTransport(this.#conn.localAddr);
      case "socket":
        return this.#conn;
      case "alpnProtocol":
        return this.#tls ? this.#tls.alpnProtocol : defaultValue;
      default:
        return defaultValue;
    }
  }

  #peer(): Deno.Addr {
    return withTransport(this.#conn.remoteAddr);
  }

  /** The protocol the transport calls. */
  getProtocol(): BaseProtocol {
    return this.#protocol;
  }

  /** Replaces the protocol. */
  setProtocol(protocol: BaseProtocol): void {
    checkProtocolObject(protocol, "protocol");
    this.#protocol = protocol as AnyProtocol;
    this.#buffered = typeof this.#protocol.getBuffer === "function";
  }

  /** Shows the state that matters. */
  [Symbol.for("Deno.customInspect")](): string {
    const state = this.#lost ? "closed" : this.#closing ? "closing" : "open";
    const parts = [state, `peer=${formatAddr(this.#peer())}`];
    if (this.#paused) parts.push("reading paused");
    if (this.#eof) parts.push("eof received");
    if (this.#writeEof) parts.push("eof written");
    parts.push(`buffered=${this.#bufferSize}`);
    if (this.#tls) parts.push("tls");
    return `Transport { ${parts.join(", ")} }`;
  }
}

/**
 * Hands `data` to `protocol` by whichever API it has: `dataReceived` (a copy
 * unless `keepable`), or `getBuffer`/`bufferUpdated` as many times as its
 * buffers need. Callback errors propagate.
 */
export function deliverData(
  protocol: BaseProtocol,
  data: Uint8Array,
  keepable: boolean,
): void {
  const p = protocol as AnyProtocol;
  if (typeof p.getBuffer !== "function") {
    p.dataReceived!(keepable ? data : data.slice());
    return;
  }
  let off = 0;
  while (off < data.length) {
    const buf = p.getBuffer(data.length - off);
    checkBytes(buf, "getBuffer() result");
    if (buf.length === 0) {
      throw new RangeError("getBuffer() returned an empty buffer");
    }
    const m = Math.min(buf.length, data.length - off);
    buf.set(data.subarray(off, off + m));
    off += m;
    p.bufferUpdated!(m);
  }
}

/** Returns a write buffer to the pool, if it is a whole pool buffer. */
function release(chunk: Uint8Array): void {
  const pool = writePools.get(chunk.buffer.byteLength);
  if (pool && pool.length < WRITE_POOL_MAX && chunk.byteOffset === 0) {
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

/** A readable form of a socket address. */
export function formatAddr(addr: Deno.Addr): string {
  switch (addr.transport) {
    case "tcp":
    case "udp":
      return addr.hostname.includes(":")
        ? `[${addr.hostname}]:${addr.port}`
        : `${addr.hostname}:${addr.port}`;
    default:
      return "path" in addr ? addr.path || "(unnamed)" : String(addr.transport);
  }
}
