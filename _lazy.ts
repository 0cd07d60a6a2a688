// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The one way this module loads something on first use: the `node:`
 * engines of TLS and UDP, which cost megabytes and milliseconds that a
 * program never using them should not pay.
 *
 * @module
 */

/**
 * A value loaded once, on first use. A failed load is forgotten, so the
 * next use tries again; concurrent first uses share one load.
 */
export class Lazy<T> {
  #load: () => Promise<T>;
  #value: T | undefined;
  #loading: Promise<T> | undefined;

  /** @param load Loads the value (called at most once at a time). */
  constructor(load: () => Promise<T>) {
    this.#load = load;
  }

  /** The value, loading it first if needed. */
  get(): Promise<T> {
    if (this.#value !== undefined) return Promise.resolve(this.#value);
    this.#loading ??= this.#load().then(
      (value) => (this.#value = value),
      (err) => {
        this.#loading = undefined;
        throw err;
      },
    );
    return this.#loading;
  }

  /**
   * The value, once loaded.
   *
   * @throws {Error} If it is not loaded yet: a caller that needs it
   * synchronously must have awaited `get()` first.
   */
  get loaded(): T {
    if (this.#value === undefined) {
      throw new Error("Internal error: used before it was loaded");
    }
    return this.#value;
  }
}
