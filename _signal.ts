// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The one way this module waits on a promise or an `AbortSignal`, whichever
 * comes first: connects, handshakes, `waitClosed` and the reader's waits all
 * go through {@linkcode abortable}; {@linkcode withTimeout} is the same wait
 * with a timer as the signal.
 *
 * @module
 */

/** What {@linkcode abortable} does besides rejecting when the signal aborts. */
export interface AbortHooks<T> {
  /**
   * Runs synchronously when the signal aborts (or at once, if it already
   * has), before the returned promise rejects: undo what the wait set up.
   */
  onAbort?: () => void;
  /** Receives the value `promise` delivers after the abort (to release it). */
  onLate?: (value: T) => void;
}

/**
 * Settles as `promise` does, or rejects with `signal.reason` as soon as
 * `signal` aborts. Without a signal it returns `promise` itself.
 *
 * @param promise What to wait for.
 * @param signal Stops the wait.
 * @param hooks What to undo on abort, and where a late value goes.
 * @returns `promise`'s outcome, or `signal.reason`.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  hooks: AbortHooks<T> = {},
): Promise<T> {
  if (!signal) return promise;
  const { onAbort, onLate } = hooks;
  if (signal.aborted) {
    onAbort?.();
    promise.then(onLate, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      onAbort?.();
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", abort);
        reject(err); // a no-op once the abort has rejected
      },
    );
  });
}

/**
 * Settles as `promise` does, or rejects with `Deno.errors.TimedOut` after
 * `ms` milliseconds, calling `onTimeout` with that error first (to close
 * what the wait was for). The timer is cleared as soon as `promise`
 * settles.
 *
 * @param promise What to wait for.
 * @param ms How long, in milliseconds.
 * @param what What is waited for, for the error message ("TLS handshake").
 * @param onTimeout What to undo when the time is up.
 * @returns `promise`'s outcome, or the `TimedOut` error.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: (err: Error) => void,
): Promise<T> {
  const timeout = new AbortController();
  const timer = setTimeout(
    () =>
      timeout.abort(
        new Deno.errors.TimedOut(`${what} took longer than ${ms} ms`),
      ),
    ms,
  );
  return abortable(promise, timeout.signal, {
    onAbort: () => onTimeout?.(timeout.signal.reason),
  }).finally(() => clearTimeout(timer));
}
