// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Argument checks shared by every public entry point. Each throws a built-in
 * `TypeError` (wrong type) or `RangeError` (bad value) naming the argument.
 *
 * @module
 */
import type { ConnectOptions, ServerOptions } from "./protocol.ts";

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Uint8Array) return `a ${value.constructor.name}`;
  switch (typeof value) {
    case "string":
      return `a string (${
        JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)
      })`;
    case "object":
      return `an object (${value.constructor?.name ?? "Object"})`;
    case "undefined":
      return "undefined";
    default:
      return `${typeof value} ${String(value)}`;
  }
}

/** Throws `TypeError` unless `value` is a `Uint8Array`. */
export function checkBytes(
  value: unknown,
  name: string,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
}

/** Throws `TypeError` unless `value` is a protocol (an object). */
export function checkProtocolObject(value: unknown, name: string): void {
  if (value === null || typeof value !== "object") {
    throw new TypeError(
      `${name} must be a protocol object, got ${describe(value)}`,
    );
  }
}

/** Throws `TypeError` unless `value` is a function. */
export function checkFunction(value: unknown, name: string): void {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describe(value)}`);
  }
}

/** Throws `TypeError` unless `value` is a string. */
export function checkString(
  value: unknown,
  name: string,
): asserts value is string {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be a string, got ${describe(value)}`);
  }
}

/** Throws unless `value` is a TCP port number (0 to 65535). */
export function checkPort(
  value: unknown,
  name = "port",
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new RangeError(
      `${name} must be an integer from 0 to 65535, got ${value}`,
    );
  }
}

/** Throws unless `value` is an integer at least `min` (or undefined when optional). */
export function checkInteger(
  value: unknown,
  name: string,
  min: number,
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `${name} must be an integer of at least ${min}, got ${value}`,
    );
  }
}

/** Throws `TypeError` unless `value` is undefined or an object; returns it as options. */
export function checkOptions<T extends object>(
  value: T | undefined,
  name = "options",
): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object") {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value;
}

/** Throws `TypeError` unless `value` is undefined or an `AbortSignal`. */
export function checkSignal(
  value: unknown,
  name = "options.signal",
): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) {
    throw new TypeError(
      `${name} must be an AbortSignal, got ${describe(value)}`,
    );
  }
}

/** Throws `TypeError` unless `value` is undefined or a boolean. */
export function checkBoolean(
  value: unknown,
  name: string,
): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  }
}

/** Checks the options shared by every server; returns them. */
export function checkServerOptions<T extends ServerOptions>(
  options: T | undefined,
): T {
  const opts = checkOptions(options);
  if (opts.backlog !== undefined) {
    checkInteger(opts.backlog, "options.backlog", 1);
  }
  checkBoolean(opts.reusePort, "options.reusePort");
  checkBoolean(opts.startServing, "options.startServing");
  checkBoolean(opts.noDelay, "options.noDelay");
  checkSignal(opts.signal);
  if (opts.tls !== undefined) {
    checkOptions(opts.tls, "options.tls");
    checkString(opts.tls.cert, "options.tls.cert");
    checkString(opts.tls.key, "options.tls.key");
  }
  return opts;
}

/** Checks the options shared by every connect; returns them. */
export function checkConnectOptions<T extends ConnectOptions>(
  options: T | undefined,
): T {
  const opts = checkOptions(options);
  checkSignal(opts.signal);
  checkBoolean(opts.noDelay, "options.noDelay");
  if (opts.tls !== undefined) {
    checkOptions(opts.tls, "options.tls");
    if (opts.tls.serverHostname !== undefined) {
      checkString(opts.tls.serverHostname, "options.tls.serverHostname");
    }
  }
  return opts;
}

/** Turns anything thrown into an `Error`. */
export function toError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new Error(`Non-Error thrown: ${describe(err)}`, { cause: err });
}

/**
 * Checks that `list` is an iterable of `Uint8Array` (`writelines`' argument).
 *
 * @returns The parts and their total length.
 */
export function checkByteList(list: unknown): [Uint8Array[], number] {
  if (
    list === null ||
    typeof (list as Partial<Iterable<Uint8Array>>)?.[Symbol.iterator] !==
      "function"
  ) {
    throw new TypeError(
      `list must be an iterable of Uint8Array, got ${describe(list)}`,
    );
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  let i = 0;
  for (const part of list as Iterable<unknown>) {
    checkBytes(part, `list[${i++}]`);
    parts.push(part);
    total += part.length;
  }
  return [parts, total];
}
