// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Write flow control, written once for every transport that buffers
 * writes (asyncio's `_FlowControlMixin`): the watermarks of the write
 * buffer, and `pauseWriting`/`resumeWriting` called once per crossing.
 *
 * @module
 */
import { checkInteger, toError } from "./_checks.ts";
import type { BaseProtocol } from "./_contract.ts";
import { logger } from "./_log.ts";

/** Default high watermark of a write buffer (asyncio's); the low one is a quarter. */
const DEFAULT_HIGH = 64 * 1024;
/**
 * How many writes to a closing transport are dropped silently; the next one
 * and every one after it log a warning (asyncio's
 * `LOG_THRESHOLD_FOR_CONNLOST_WRITES`).
 */
const LOST_WRITES_WARN = 5;

/**
 * The base of the transports that buffer writes: the watermarks and
 * whether the protocol was told to pause. A subclass reports its buffer's
 * size through `getWriteBufferSize()` and calls
 * {@linkcode FlowControlled.maybePauseProtocol} when the buffer grew and
 * {@linkcode FlowControlled.maybeResumeProtocol} when it shrank.
 */
export abstract class FlowControlled {
  #high = DEFAULT_HIGH;
  #low = DEFAULT_HIGH / 4;
  #paused = false;
  #lostWrites = 0;

  /** Bytes buffered and not yet sent. */
  abstract getWriteBufferSize(): number;
  /** The protocol to tell. */
  protected abstract flowProtocol(): BaseProtocol;
  /** The transport's failure funnel, for a callback that throws. */
  protected abstract fatalError(exc: Error, message: string): void;

  /** Whether the protocol was told to pause and not yet to resume. */
  protected get writingPaused(): boolean {
    return this.#paused;
  }

  /** The buffer grew: pause the protocol above the high watermark. */
  protected maybePauseProtocol(): void {
    if (this.#paused || this.getWriteBufferSize() <= this.#high) return;
    this.#paused = true;
    this.#call("pauseWriting");
  }

  /** The buffer shrank: resume the protocol at the low watermark. */
  protected maybeResumeProtocol(): void {
    if (!this.#paused || this.getWriteBufferSize() > this.#low) return;
    this.#paused = false;
    this.#call("resumeWriting");
  }

  /** The watermarks as `[low, high]`. */
  getWriteBufferLimits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /**
   * Sets the watermarks as asyncio does: `high` defaults to 64 KiB (or
   * `4 * low`), `low` to `high / 4`.
   */
  setWriteBufferLimits(high?: number, low?: number): void {
    if (high !== undefined) checkInteger(high, "high", 0);
    if (low !== undefined) checkInteger(low, "low", 0);
    const h = high ?? (low === undefined ? DEFAULT_HIGH : 4 * low);
    const l = low ?? Math.floor(h / 4);
    if (h < l) throw new RangeError(`high (${h}) must be at least low (${l})`);
    this.#high = h;
    this.#low = l;
    this.maybePauseProtocol();
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

  #call(callback: "pauseWriting" | "resumeWriting"): void {
    try {
      this.flowProtocol()[callback]();
    } catch (err) {
      this.fatalError(toError(err), `Exception in ${callback}()`);
    }
  }
}
