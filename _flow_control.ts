// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Write flow control, written once for every transport that buffers
 * writes (asyncio's `_FlowControlMixin`): the watermarks of the write
 * buffer, and `pauseWriting`/`resumeWriting` called once per crossing. A
 * transport that buffers nothing of its own (TLS, whose ciphertext waits in
 * the socket transport below it) has none, and uses that transport's.
 *
 * @module
 */
import { checkInteger, toError } from "./_checks.ts";
import type { BaseProtocol } from "./_contract.ts";

/** Default high watermark of a write buffer (asyncio's); the low one is a quarter. */
const DEFAULT_HIGH = 64 * 1024;

/** What a {@linkcode WriteFlow} needs from the transport that owns it. */
export interface FlowOwner {
  /** Bytes buffered and not yet sent. */
  getWriteBufferSize(): number;
  /** The protocol to tell (the current one). */
  flowProtocol(): BaseProtocol;
  /** The transport's failure path, for a callback that throws. */
  flowFailed(exc: Error, message: string): void;
}

/**
 * The watermarks of one transport's write buffer and whether its protocol
 * was told to pause. The transport calls
 * {@linkcode WriteFlow.maybePause} when the buffer grew and
 * {@linkcode WriteFlow.maybeResume} when it shrank.
 */
export class WriteFlow {
  #owner: FlowOwner;
  #high = DEFAULT_HIGH;
  #low = DEFAULT_HIGH / 4;
  #paused = false;

  /** @param owner The transport whose buffer this watches. */
  constructor(owner: FlowOwner) {
    this.#owner = owner;
  }

  /** Whether the protocol was told to pause and not yet to resume. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The buffer grew: pause the protocol above the high watermark. */
  maybePause(): void {
    if (this.#paused || this.#owner.getWriteBufferSize() <= this.#high) return;
    this.#paused = true;
    this.#call("pauseWriting");
  }

  /** The buffer shrank: resume the protocol at the low watermark. */
  maybeResume(): void {
    if (!this.#paused || this.#owner.getWriteBufferSize() > this.#low) return;
    this.#paused = false;
    this.#call("resumeWriting");
  }

  /** The watermarks as `[low, high]`. */
  limits(): [low: number, high: number] {
    return [this.#low, this.#high];
  }

  /**
   * Sets the watermarks as asyncio does: `high` defaults to 64 KiB (or
   * `4 * low`), `low` to `high / 4`.
   */
  setLimits(high?: number, low?: number): void {
    if (high !== undefined) checkInteger(high, "high", 0);
    if (low !== undefined) checkInteger(low, "low", 0);
    const h = high ?? (low === undefined ? DEFAULT_HIGH : 4 * low);
    const l = low ?? Math.floor(h / 4);
    if (h < l) throw new RangeError(`high (${h}) must be at least low (${l})`);
    this.#high = h;
    this.#low = l;
    this.maybePause();
  }

  #call(callback: "pauseWriting" | "resumeWriting"): void {
    try {
      this.#owner.flowProtocol()[callback]();
    } catch (err) {
      this.#owner.flowFailed(toError(err), `Exception in ${callback}()`);
    }
  }
}
