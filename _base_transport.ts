// Copyright 2026 the @aio/net authors. MIT license.
/**
 * What every transport does the same way about its end (uvloop's
 * `basetransport.pyx`): the one failure path, fatal error → force close →
 * `connectionLost` once, and the count of writes dropped after closing. The
 * socket, TLS and UDP transports all build on it; each says only how to
 * report an error with its context, what to release when forced closed,
 * and what to do once `connectionLost` has run.
 *
 * @module
 */
import { toError } from "./_checks.ts";
import type { BaseProtocol, BaseTransport } from "./_contract.ts";
import { logger } from "./_log.ts";

/**
 * How many writes to a closing transport are dropped silently; the next one
 * and every one after it log a warning (asyncio's
 * `LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
 */
const LOST_WRITES_WARN = 5;

/** When an error is reported, for the subclass's context and level. */
export type ErrorWhen = "open" | "handshake" | "lost" | "connectionLost";

/**
 * The lifecycle of a transport: open → closing → lost (`connectionLost`
 * called or on its way), each step once.
 *
 * - A graceful close calls {@linkcode TransportBase.beginClose}, and once
 *   its buffer is flushed, {@linkcode TransportBase.callConnectionLost}.
 * - A failure calls {@linkcode TransportBase.fatalError}, which reports it
 *   and calls {@linkcode TransportBase.forceClose}; `abort()` calls
 *   `forceClose(null)`. `forceClose` marks the transport lost and calls
 *   `release(exc)`, which frees what the transport holds and arranges for
 *   `callConnectionLost(exc)`.
 * - `callConnectionLost` calls the protocol's `connectionLost` exactly once,
 *   reports what it throws, then runs `afterLost()`.
 *
 * The first failure wins: one that comes while the transport is already
 * failing is dropped; one that comes after `connectionLost` (a callback of
 * the application's that threw) is reported as such.
 */
export abstract class TransportBase {
  #closing = false;
  #lost = false;
  #told = false;
  #lostWrites = 0;

  /** Reports an error with the transport's context. */
  protected abstract reportError(
    exc: Error,
    message: string,
    when: ErrorWhen,
  ): void;
  /**
   * Frees what the transport holds after a forced close (buffers, the
   * socket) and arranges for `callConnectionLost(exc)`.
   */
  protected abstract release(exc: Error | null): void;
  /** The protocol whose `connectionLost` is called. */
  protected abstract lostProtocol(): BaseProtocol;
  /** What to do once `connectionLost` has run (tell the owner, close the socket). */
  protected afterLost(): void {}
  /** When a failure before the handshake is done is reported ("handshake"). */
  protected get handshaking(): boolean {
    return false;
  }

  /** Whether the transport is closing or closed. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** Whether `connectionLost` has been called, or is on its way. */
  protected get lost(): boolean {
    return this.#lost;
  }

  /** Starts a graceful close; `false` if the transport was closing already. */
  protected beginClose(): boolean {
    if (this.#closing) return false;
    this.#closing = true;
    return true;
  }

  /**
   * Marks a graceful close as done, so that nothing else runs: the caller
   * then calls `callConnectionLost(null)`. `false` if the transport was
   * lost already.
   */
  protected markLost(): boolean {
    if (this.#lost) return false;
    this.#lost = this.#closing = true;
    return true;
  }

  /** The failure path: reports `exc`, then closes at once. */
  protected fatalError(exc: Error, message: string): void {
    if (this.#told) {
      this.reportError(exc, message, "lost");
      return;
    }
    if (this.#lost) return; // failing already: the first error wins
    this.reportError(exc, message, this.handshaking ? "handshake" : "open");
    this.forceClose(exc);
  }

  /** Closes at once, dropping what is buffered; `connectionLost(exc)` follows. */
  protected forceClose(exc: Error | null): void {
    if (this.#lost) return;
    this.#lost = this.#closing = true;
    this.release(exc);
  }

  /**
   * Calls `protocol.connectionMade(this)`. What it throws fails the
   * transport (reported, then aborted) and is returned; `null` otherwise.
   */
  protected callConnectionMade(protocol: BaseProtocol): Error | null {
    try {
      protocol.connectionMade(this as unknown as BaseTransport);
      return null;
    } catch (err) {
      const exc = toError(err);
      this.fatalError(exc, "Exception in connectionMade()");
      return exc;
    }
  }

  /** Calls `connectionLost(exc)` once, reporting what it throws, then `afterLost()`. */
  protected callConnectionLost(exc: Error | null): void {
    if (this.#told) return;
    this.#told = true;
    this.#lost = this.#closing = true;
    try {
      this.lostProtocol().connectionLost(exc);
    } catch (err) {
      this.reportError(
        toError(err),
        "Exception in connectionLost()",
        "connectionLost",
      );
    } finally {
      this.afterLost();
    }
  }

  /**
   * Counts a write dropped because the transport is closing, and logs
   * `message` (with `{count}` and `props`) from the sixth on.
   */
  protected writeDropped(
    message: string,
    props: Record<string, unknown>,
  ): void {
    if (++this.#lostWrites > LOST_WRITES_WARN) {
      logger.warning(message, { count: this.#lostWrites, ...props });
    }
  }
}
