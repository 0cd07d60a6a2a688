// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Argument checks. Each throws a built-in `TypeError` (wrong type) or
 * `RangeError` (bad value) naming the argument, before anything else
 * happens. Every public options type has exactly one checker here, used by
 * every entry point that takes it, so the same bad option gets the same
 * error wherever it is given.
 *
 * @module
 */
import type {
  AcceptedSocketOptions,
  BaseProtocol,
  ConnectOptions,
  ServerOptions,
  SocketConnectOptions,
  StartTlsOptions,
  StreamOptions,
  TlsConnectOptions,
  TlsListenOptions,
  Transport,
  UnixConnectOptions,
  UnixServerOptions,
  WaitOptions,
} from "./_contract.ts";

// ---- Values ----------------------------------------------------------------

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

/** Turns anything thrown into an `Error`. */
export function toError(err: unknown): Error {
  return err instanceof Error
    ? err
    : new Error(`Non-Error thrown: ${describe(err)}`, { cause: err });
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

/** Throws `TypeError` unless `value` is a protocol (an object). */
export function checkProtocolObject(
  value: unknown,
  name: string,
): asserts value is BaseProtocol {
  if (value === null || typeof value !== "object") {
    throw new TypeError(
      `${name} must be a protocol object, got ${describe(value)}`,
    );
  }
}

/** Throws `TypeError` unless a protocol factory returned an object. */
export function checkFactoryResult(
  protocol: unknown,
): asserts protocol is BaseProtocol {
  if (protocol === null || typeof protocol !== "object") {
    throw new TypeError(
      `protocolFactory must return a protocol object, got ${
        describe(protocol)
      }`,
    );
  }
}

/** Throws `TypeError` unless `value` looks like a {@linkcode Transport}. */
export function checkTransport(value: unknown): asserts value is Transport {
  const t = value as Partial<Transport> | null;
  if (
    t === null || typeof t !== "object" ||
    typeof t.getExtraInfo !== "function" || typeof t.setProtocol !== "function"
  ) {
    throw new TypeError(
      `transport must be a Transport, got ${describe(value)}`,
    );
  }
}

/**
 * Throws `TypeError` unless `value` is a `Deno.Conn` (a `Deno.TcpConn`,
 * `Deno.UnixConn` or `Deno.TlsConn`: Deno does not expose their classes, so
 * this checks for what the transport uses).
 */
export function checkConn(
  value: unknown,
  name: string,
): asserts value is Deno.Conn {
  const conn = value as Partial<Deno.Conn> | null;
  if (
    conn === null || typeof conn !== "object" ||
    typeof conn.read !== "function" || typeof conn.write !== "function" ||
    typeof conn.closeWrite !== "function" || typeof conn.close !== "function" ||
    typeof conn.remoteAddr !== "object"
  ) {
    throw new TypeError(
      `${name} must be a Deno.Conn (TCP, Unix or TLS), got ${describe(value)}`,
    );
  }
}

/** Whether a `Deno.Conn` is a `Deno.TlsConn` (it has a handshake). */
export function isTlsConn(conn: Deno.Conn): conn is Deno.TlsConn {
  return typeof (conn as Partial<Deno.TlsConn>).handshake === "function";
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

/** Throws `TypeError` unless `value` is undefined or an array of strings. */
export function checkStrings(
  value: unknown,
  name: string,
): asserts value is string[] | undefined {
  if (value === undefined) return;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an array of strings, got ${describe(value)}`,
    );
  }
  value.forEach((item, i) => checkString(item, `${name}[${i}]`));
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

/**
 * Throws unless `value` is an integer of at least `min`. `undefined` is a
 * `TypeError` too: callers check optional values only when they are given.
 */
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

/** Throws unless `value` is a timeout in milliseconds: a finite number above 0. */
export function checkTimeout(
  value: unknown,
  name: string,
): asserts value is number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describe(value)}`);
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `${name} must be a finite number of milliseconds above 0, got ${value}`,
    );
  }
}

/** The longest Unix socket path Linux takes, in bytes (`sun_path` less its NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Throws unless `path` is a string short enough for a Unix socket. */
export function checkSocketPath(path: unknown): asserts path is string {
  checkString(path, "path");
  if (path.length === 0) throw new RangeError("path must not be empty");
  const bytes = new TextEncoder().encode(path).length;
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new RangeError(
      `path is ${bytes} bytes long, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of Unix socket paths: ${path}`,
    );
  }
}

/** Throws `TypeError` unless `host` is a string or a list of strings. */
export function checkHosts(
  host: unknown,
): asserts host is string | string[] | undefined | null {
  if (host === undefined || host === null) return;
  if (Array.isArray(host)) {
    host.forEach((h, i) => checkString(h, `host[${i}]`));
  } else checkString(host, "host");
}

// ---- Options: one checker per public type -----------------------------------

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

/**
 * Checks TLS options given as `name`: a client's
 * ({@linkcode TlsConnectOptions}) or, with `serverSide`, a server's
 * ({@linkcode TlsListenOptions}, which needs `cert` and `key`).
 */
export function checkTlsOptions(
  value: TlsConnectOptions | TlsListenOptions,
  name: string,
  serverSide: boolean,
): void {
  const tls: TlsConnectOptions & Partial<TlsListenOptions> = checkOptions(
    value,
    name,
  );
  if (serverSide) {
    checkString(tls.cert, `${name}.cert`);
    checkString(tls.key, `${name}.key`);
  } else {
    if (tls.serverHostname !== undefined) {
      checkString(tls.serverHostname, `${name}.serverHostname`);
    }
    checkStrings(tls.caCerts, `${name}.caCerts`);
  }
  checkStrings(tls.alpnProtocols, `${name}.alpnProtocols`);
}

/** Checks one option; `name` is its full name (`options.tls.caCerts`). */
type OptionCheck = (value: unknown, name: string) => void;

/** `check`, for an option that may be left out. */
function optional(check: OptionCheck): OptionCheck {
  return (value, name) => {
    if (value !== undefined) check(value, name);
  };
}

const booleanOption: OptionCheck = checkBoolean;
const connOption: OptionCheck = checkConn;
const signalOption: OptionCheck = checkSignal;
const backlogOption = optional((value, name) => checkInteger(value, name, 1));
const timeoutOption = optional((value, name) => checkTimeout(value, name));
const clientTlsOption = optional((value, name) =>
  checkTlsOptions(value as TlsConnectOptions, name, false)
);
const serverTlsOption = optional((value, name) =>
  checkTlsOptions(value as TlsListenOptions, name, true)
);

/** Throws `RangeError` for a TLS timeout without TLS (asyncio's `ValueError`). */
function checkTlsTimeouts<T extends ConnectOptions | ServerOptions>(
  opts: T,
): T {
  if (opts.tls !== undefined) return opts;
  for (const key of ["tlsHandshakeTimeout", "tlsShutdownTimeout"] as const) {
    if (opts[key] !== undefined) {
      throw new RangeError(
        `options.${key} is only meaningful with options.tls`,
      );
    }
  }
  return opts;
}

/**
 * Checks that `options` is undefined or an object, and each listed option
 * in it, in order; returns the options (`{}` when undefined).
 */
function checkFields<T extends object>(
  options: T | undefined,
  fields: Record<string, OptionCheck>,
): T {
  const opts = checkOptions(options);
  for (const [key, check] of Object.entries(fields)) {
    check((opts as Record<string, unknown>)[key], `options.${key}`);
  }
  return opts;
}

/**
 * Checks a {@linkcode StartTlsOptions}; `serverSide` defaults to
 * `defaultServerSide`. The server's side needs `cert` and `key`.
 */
export function checkStartTlsOptions(
  options: StartTlsOptions | undefined,
  defaultServerSide: boolean,
): StartTlsOptions & { serverSide: boolean } {
  const opts = checkFields(options, {
    signal: signalOption,
    serverSide: booleanOption,
    tlsHandshakeTimeout: timeoutOption,
    tlsShutdownTimeout: timeoutOption,
  });
  const serverSide = opts.serverSide ?? defaultServerSide;
  checkTlsOptions(opts, "options", serverSide);
  return { ...opts, serverSide };
}

/** Checks a {@linkcode ConnectOptions} (and returns it, with whatever else it holds). */
export function checkConnectOptions<T extends ConnectOptions>(
  options: T | undefined,
): T {
  return checkTlsTimeouts(
    checkFields(options, {
      signal: signalOption,
      noDelay: booleanOption,
      keepAlive: booleanOption,
      tls: clientTlsOption,
      tlsHandshakeTimeout: timeoutOption,
      tlsShutdownTimeout: timeoutOption,
    }),
  );
}

/** Checks a {@linkcode SocketConnectOptions} (and returns it, with whatever else it holds). */
export function checkSocketConnectOptions<T extends SocketConnectOptions>(
  options: T,
): T {
  const opts = checkFields(options, {
    conn: connOption,
    signal: signalOption,
    noDelay: booleanOption,
    keepAlive: booleanOption,
    tls: clientTlsOption,
    tlsHandshakeTimeout: timeoutOption,
    tlsShutdownTimeout: timeoutOption,
  });
  return checkAdoptOptions(opts, opts.conn);
}

/** Checks a {@linkcode AcceptedSocketOptions} for `conn` (and returns it, with whatever else it holds). */
export function checkAcceptedSocketOptions<T extends AcceptedSocketOptions>(
  options: T | undefined,
  conn: Deno.Conn,
): T {
  return checkAdoptOptions(
    checkFields(options, {
      signal: signalOption,
      noDelay: booleanOption,
      keepAlive: booleanOption,
      tls: serverTlsOption,
      tlsHandshakeTimeout: timeoutOption,
      tlsShutdownTimeout: timeoutOption,
    }),
    conn,
  );
}

/**
 * The rules of a connection made elsewhere: TLS on a plain TCP connection
 * only; the TLS timeouts only with TLS or on a `Deno.TlsConn`.
 */
function checkAdoptOptions<
  T extends SocketConnectOptions | AcceptedSocketOptions,
>(
  opts: T,
  conn: Deno.Conn,
): T {
  if (opts.tls !== undefined && isTlsConn(conn)) {
    throw new TypeError(
      "options.tls cannot be given for a Deno.TlsConn: the connection already speaks TLS",
    );
  }
  return isTlsConn(conn) ? opts : checkTlsTimeouts(opts);
}

/** Checks a {@linkcode ServerOptions} (and returns it, with whatever else it holds). */
export function checkServerOptions<T extends ServerOptions>(
  options: T | undefined,
): T {
  return checkTlsTimeouts(
    checkFields(options, {
      backlog: backlogOption,
      reusePort: booleanOption,
      startServing: booleanOption,
      noDelay: booleanOption,
      keepAlive: booleanOption,
      signal: signalOption,
      tls: serverTlsOption,
      tlsHandshakeTimeout: timeoutOption,
      tlsShutdownTimeout: timeoutOption,
    }),
  );
}

/** Checks a {@linkcode UnixServerOptions} (and returns it, with whatever else it holds). */
export function checkUnixServerOptions<T extends UnixServerOptions>(
  options: T | undefined,
): T {
  return checkFields(options, {
    tls: (value) => {
      if (value !== undefined) {
        throw new TypeError("options.tls is not supported on Unix sockets");
      }
    },
    backlog: backlogOption,
    startServing: booleanOption,
    signal: signalOption,
  });
}

/** Checks a {@linkcode UnixConnectOptions} (and returns it, with whatever else it holds). */
export function checkUnixConnectOptions<T extends UnixConnectOptions>(
  options: T | undefined,
): T {
  return checkFields(options, { signal: signalOption });
}

/** Checks a {@linkcode StreamOptions} (and returns it, with whatever else it holds). */
export function checkStreamOptions<T extends StreamOptions>(
  options: T | undefined,
): T {
  return checkFields(options, {
    // null passes as "not given", as it always has for the limit.
    limit: (value, name) => {
      if (value !== undefined && value !== null) checkInteger(value, name, 1);
    },
  });
}

/** Checks a {@linkcode WaitOptions} (or `ReadOptions`); returns its signal. */
export function checkWaitOptions(
  options: WaitOptions | undefined,
): AbortSignal | undefined {
  const signal = checkOptions(options).signal;
  checkSignal(signal);
  return signal;
}
