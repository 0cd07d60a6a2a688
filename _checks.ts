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
import type { BaseProtocol, Transport } from "./_contract.ts";
import type {
  AcceptedSocketOptions,
  ConnectOptions,
  DatagramAddress,
  DatagramEndpointOptions,
  ServerOptions,
  SocketConnectOptions,
  StartTlsOptions,
  StreamOptions,
  TlsCertifiedKey,
  TlsConnectOptions,
  TlsListenOptions,
  TlsTimeoutOptions,
  UnixConnectOptions,
  UnixServerOptions,
  WaitOptions,
} from "./_options.ts";
import { familyName, familyOf } from "./_address.ts";

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

/**
 * Names the address in an OS error from connect or bind, as asyncio's do:
 * the same `Deno.errors` class, the message prefixed with `action`
 * (`"connect to 127.0.0.1:8888"`), the original as its `cause`. Anything
 * else is returned as it is.
 */
export function withAddress(err: unknown, action: string): unknown {
  if (!(err instanceof Error)) return err;
  const Class = err.constructor as new (
    message: string,
    options: ErrorOptions,
  ) => Error;
  if (!Object.values(Deno.errors).includes(Class as never)) return err;
  return new Class(`${action}: ${err.message}`, { cause: err });
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

/** Throws `TypeError` unless `typeof value` is `type`. */
function checkTypeOf(
  value: unknown,
  type: "string" | "number" | "function",
  name: string,
): void {
  const actual: string = typeof value;
  if (actual !== type) {
    throw new TypeError(`${name} must be a ${type}, got ${describe(value)}`);
  }
}

/** Throws `TypeError` unless `value` is a function. */
export function checkFunction(value: unknown, name: string): void {
  checkTypeOf(value, "function", name);
}

/** Throws `TypeError` unless `value` is a string. */
export function checkString(
  value: unknown,
  name: string,
): asserts value is string {
  checkTypeOf(value, "string", name);
}

/**
 * Throws `TypeError` unless `value` is a number, `RangeError` unless
 * `valid(value)`; `must` says what it must be.
 */
function checkNumber(
  value: unknown,
  name: string,
  valid: (n: number) => boolean,
  must: string,
): asserts value is number {
  checkTypeOf(value, "number", name);
  if (!valid(value as number)) {
    throw new RangeError(`${name} must be ${must}, got ${value}`);
  }
}

/** Throws `TypeError` unless `value` is undefined or an array of strings. */
function checkStrings(
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
function checkBoolean(
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
  checkNumber(
    value,
    name,
    (n) => Number.isInteger(n) && n >= 0 && n <= 65535,
    "an integer from 0 to 65535",
  );
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
  // The reader checks its arguments on every read: the common case first.
  if (typeof value === "number" && Number.isInteger(value) && value >= min) {
    return;
  }
  checkNumber(
    value,
    name,
    (n) => Number.isInteger(n) && n >= min,
    `an integer of at least ${min}`,
  );
}

/** Throws `TypeError` unless `value` is undefined or an `AbortSignal`. */
function checkSignal(
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
function checkTimeout(
  value: unknown,
  name: string,
): asserts value is number {
  checkNumber(
    value,
    name,
    (n) => Number.isFinite(n) && n > 0,
    "a finite number of milliseconds above 0",
  );
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
function checkOptions<T extends object>(
  value: T | undefined,
  name = "options",
): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== "object") {
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  }
  return value;
}

/** Why TLS key logging is refused, wherever it is asked for. */
const KEY_LOG =
  'TLS key logging (SSLKEYLOGFILE) is not available: Deno\'s TLS engine (node:tls over rustls, Deno 2.9) gives out no session secrets (no "keylog" event) and ignores SSLKEYLOGFILE';

/**
 * asyncio's option names (camelCased, as a porter writes them) that this
 * module does not take, each with why and what to do instead. Given
 * anywhere, they throw: an option asked for is never silently dropped.
 */
const ASYNCIO_OPTIONS: Readonly<Record<string, string>> = {
  ssl: "TLS is options.tls here (an object of PEM text, not an SSLContext)",
  sock:
    "pass a Deno.Conn as options.conn (createConnection/openConnection), or use connectAcceptedSocket; a server cannot adopt a listener made elsewhere",
  family:
    "Deno picks the address family itself: give an IP literal (127.0.0.1 or ::1) as the host to choose one",
  proto: "Deno's sockets take no protocol number",
  flags: "Deno's getaddrinfo takes no flags",
  localAddr:
    "Deno.connect cannot bind the local address of an outgoing TCP connection",
  serverHostname:
    "it belongs inside the TLS options: options.tls.serverHostname",
  sslHandshakeTimeout:
    "it is options.tlsHandshakeTimeout here, in milliseconds",
  sslShutdownTimeout: "it is options.tlsShutdownTimeout here, in milliseconds",
  happyEyeballsDelay:
    "Deno.connect does not race addresses (Happy Eyeballs); give the address to use as the host",
  interleave:
    "Deno.connect does not race addresses (Happy Eyeballs); give the address to use as the host",
  allErrors:
    "a failed connect rejects with the OS error of the last address tried",
  reuseAddress:
    "Deno sets SO_REUSEADDR on every TCP listener itself; it cannot be turned off",
  reuseAddr:
    "Deno sets SO_REUSEADDR on every TCP listener itself; it cannot be turned off",
  sslHandshake: "TLS is options.tls here",
  // TLS, where asyncio has only SSLContext attributes (and Node other names).
  keylogFilename: KEY_LOG,
  keyLog: KEY_LOG,
  keylog: KEY_LOG,
  sslKeyLogFile: KEY_LOG,
  verifyMode:
    'give tls.requestCert on a server (true or "optional"); a client always verifies, unless tls.insecureSkipVerify',
  checkHostname:
    "a client always checks the name (tls.serverHostname, default the host), unless tls.insecureSkipVerify",
  rejectUnauthorized:
    "a client skips verification only with tls.insecureSkipVerify: true; a server asks for client certificates with tls.requestCert",
  ca: "the CAs to trust are tls.caCerts here, a list of PEM strings",
  passphrase:
    "the TLS engine takes only unencrypted keys: decrypt the key first",
};

/** `snake_case` to `camelCase`: `server_hostname` → `serverHostname`. */
function camelCase(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * The edit distance between two short strings: inserts, deletes, replaces
 * and swaps of neighbours (`tsl` is one edit from `tls`).
 */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(
        row[j]! + 1,
        next[j - 1]! + 1,
        row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1);
      }
      next[j] = d;
    }
    [before, row] = [row, next];
  }
  return row[b.length]!;
}

/** The known name `key` was most likely meant to be, if one is close enough. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const lower = camelCase(key).toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3))
    ? best
    : undefined;
}

/**
 * Throws `TypeError` for the first key of `options` not in `known`: naming
 * it and the nearest known key, or, for an asyncio option this module
 * cannot honour, saying why and what to do instead. Options objects are
 * closed: a typo (`tsl` for `tls`) must never quietly change what happens.
 */
export function checkKnownKeys(
  options: object,
  known: readonly string[],
  name = "options",
): void {
  // Options passed on by a streams entry point may also have held `limit`.
  if (STREAMS in options) known = [...known, "limit"];
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    if ((options as Record<string, unknown>)[key] === undefined) continue;
    const camel = camelCase(key);
    if (camel !== key && known.includes(camel)) {
      throw new TypeError(
        `Unknown option "${key}" in ${name}: names are camelCase here (did you mean "${camel}"?)`,
      );
    }
    const why = Object.hasOwn(ASYNCIO_OPTIONS, camel)
      ? ASYNCIO_OPTIONS[camel]
      : undefined;
    if (why !== undefined) {
      throw new TypeError(
        `Unsupported option "${key}" in ${name}: ${why}`,
      );
    }
    const guess = nearest(key, known);
    throw new TypeError(
      `Unknown option "${key}" in ${name}${
        guess === undefined ? "" : ` (did you mean "${guess}"?)`
      }; known options: ${known.join(", ")}`,
    );
  }
}

// ---- TLS ---------------------------------------------------------------------

/** The label of each PEM block in `text` (`CERTIFICATE`, `PRIVATE KEY`, …). */
function pemLabels(text: string): string[] {
  return [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!);
}

/**
 * Throws `TypeError` unless `value` is PEM text holding `kind`: a
 * certificate (one or more), or one unencrypted private key. A file path or
 * anything else that is not PEM gets the same advice: read the file first.
 */
function checkPem(
  value: unknown,
  name: string,
  kind: "certificate" | "private key",
): asserts value is string {
  checkString(value, name);
  const labels = pemLabels(value);
  const isKey = (label: string) => label.endsWith("PRIVATE KEY");
  const found = kind === "certificate"
    ? labels.includes("CERTIFICATE") &&
      value.includes("-----END CERTIFICATE-----")
    : labels.some((l) => isKey(l) && value.includes(`-----END ${l}-----`));
  if (found) {
    if (kind === "private key" && labels.includes("ENCRYPTED PRIVATE KEY")) {
      throw new TypeError(
        `${name} is an encrypted private key: decrypt it first (the TLS engine takes no passphrase)`,
      );
    }
    return;
  }
  if (
    kind === "certificate" ? labels.some(isKey) : labels.includes("CERTIFICATE")
  ) {
    throw new TypeError(
      `${name} holds a ${
        kind === "certificate" ? "private key" : "certificate"
      }, not a ${kind}: are cert and key swapped?`,
    );
  }
  const begin = kind === "certificate" ? "CERTIFICATE" : "PRIVATE KEY";
  throw new TypeError(
    `${name} must be PEM text (a "-----BEGIN ${begin}-----" block), got ${
      describe(value)
    }: TLS material is a file's contents, not its path; read the file first, e.g. with Deno.readTextFileSync(path)`,
  );
}

/** Throws `TypeError` unless `value` is undefined or a list of PEM certificates. */
function checkPemList(value: unknown, name: string): void {
  checkStrings(value, name);
  value?.forEach((item, i) => checkPem(item, `${name}[${i}]`, "certificate"));
}

/** Checks `cert` and `key` of `value` (a {@linkcode TlsCertifiedKey}, or TLS options). */
export function checkTlsCertifiedKey(value: unknown, name: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an object { cert, key }, got ${describe(value)}`,
    );
  }
  const pair = value as Partial<TlsCertifiedKey>;
  checkPem(pair.cert, `${name}.cert`, "certificate");
  checkPem(pair.key, `${name}.key`, "private key");
}

/** The TLS versions the engine speaks, oldest first. */
export const TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"] as const;

/**
 * Checks TLS options given as `name`: a client's
 * ({@linkcode TlsConnectOptions}) or, with `serverSide`, a server's
 * ({@linkcode TlsListenOptions}, which needs `cert` and `key`). Every
 * certificate and key must be PEM text. That a key matches its certificate
 * is checked where the TLS engine is loaded (`_tls.ts`).
 *
 * @param otherKeys Keys that `value` may also hold, checked elsewhere.
 */
export function checkTlsOptions(
  value: TlsConnectOptions | TlsListenOptions,
  name: string,
  serverSide: boolean,
  otherKeys: readonly string[] = [],
): void {
  const tls: TlsConnectOptions & Partial<TlsListenOptions> = checkOptions(
    value,
    name,
  );
  checkKnownKeys(
    tls,
    [...(serverSide ? SERVER_TLS_KEYS : CLIENT_TLS_KEYS), ...otherKeys],
    name,
  );
  checkStrings(tls.alpnProtocols, `${name}.alpnProtocols`);
  checkPemList(tls.caCerts, `${name}.caCerts`);
  if (tls.minVersion !== undefined) {
    checkString(tls.minVersion, `${name}.minVersion`);
    if (!(TLS_VERSIONS as readonly string[]).includes(tls.minVersion)) {
      throw new RangeError(
        `${name}.minVersion must be "TLSv1.2" or "TLSv1.3", got ${
          describe(tls.minVersion)
        } (the TLS engine, rustls, speaks nothing older than TLS 1.2)`,
      );
    }
  }
  if (serverSide) {
    checkServerTls(tls, name);
    return;
  }
  if (tls.serverHostname !== undefined) {
    checkString(tls.serverHostname, `${name}.serverHostname`);
  }
  if (tls.cert !== undefined || tls.key !== undefined) {
    if (tls.cert === undefined || tls.key === undefined) {
      const missing = tls.cert === undefined ? "cert" : "key";
      throw new TypeError(
        `${name}.${missing} is required with ${name}.${
          missing === "cert" ? "key" : "cert"
        }: a client certificate needs both`,
      );
    }
    checkTlsCertifiedKey(tls, name);
  }
  checkBoolean(tls.insecureSkipVerify, `${name}.insecureSkipVerify`);
  if (tls.insecureSkipVerify && tls.caCerts !== undefined) {
    throw new RangeError(
      `${name}.caCerts means nothing with ${name}.insecureSkipVerify, which checks no certificate`,
    );
  }
}

/** The server's side of {@linkcode checkTlsOptions}. */
function checkServerTls(tls: Partial<TlsListenOptions>, name: string): void {
  checkTlsCertifiedKey(tls, name);
  const { requestCert, sniCertificates, sniCallback } = tls;
  if (
    requestCert !== undefined && typeof requestCert !== "boolean" &&
    requestCert !== "optional"
  ) {
    throw new TypeError(
      `${name}.requestCert must be a boolean or "optional", got ${
        describe(requestCert)
      }`,
    );
  }
  if (requestCert && !tls.caCerts?.length) {
    throw new TypeError(
      `${name}.requestCert needs ${name}.caCerts: the CAs that client certificates are checked against`,
    );
  }
  if (!requestCert && tls.caCerts !== undefined) {
    throw new RangeError(
      `${name}.caCerts is only meaningful with ${name}.requestCert: on a server it checks client certificates`,
    );
  }
  if (sniCertificates !== undefined) {
    if (
      sniCertificates === null || typeof sniCertificates !== "object" ||
      Array.isArray(sniCertificates)
    ) {
      throw new TypeError(
        `${name}.sniCertificates must be an object of server names to { cert, key }, got ${
          describe(sniCertificates)
        }`,
      );
    }
    for (const [serverName, pair] of Object.entries(sniCertificates)) {
      const where = `${name}.sniCertificates[${JSON.stringify(serverName)}]`;
      if (!/^(\*\.)?[^*\s]+$/.test(serverName)) {
        throw new RangeError(
          `${where}: a server name must be a host name or "*." and a host name, got ${
            JSON.stringify(serverName)
          }`,
        );
      }
      checkTlsCertifiedKey(pair, where);
    }
  }
  if (sniCallback !== undefined) {
    checkFunction(sniCallback, `${name}.sniCallback`);
  }
}

/** The keys of {@linkcode TlsConnectOptions}. */
const CLIENT_TLS_KEYS = [
  "serverHostname",
  "caCerts",
  "alpnProtocols",
  "cert",
  "key",
  "minVersion",
  "insecureSkipVerify",
];
/** The keys of {@linkcode TlsListenOptions}. */
const SERVER_TLS_KEYS = [
  "cert",
  "key",
  "alpnProtocols",
  "caCerts",
  "requestCert",
  "sniCertificates",
  "sniCallback",
  "minVersion",
];

/**
 * Checks TLS options that replace a server's (`Server.setTlsOptions`), as
 * `createServer` checks them.
 */
export function checkTlsListenOptions(
  options: TlsListenOptions,
): TlsListenOptions {
  checkTlsOptions(options, "options", true);
  return options;
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
const maxConnectionsOption = optional((value, name) =>
  checkInteger(value, name, 1)
);
const clientTlsOption = optional((value, name) =>
  checkTlsOptions(value as TlsConnectOptions, name, false)
);
const serverTlsOption = optional((value, name) =>
  checkTlsOptions(value as TlsListenOptions, name, true)
);

/** Throws `RangeError` for a TLS timeout without TLS (asyncio's `ValueError`). */
function checkTlsTimeouts<T extends TlsTimeoutOptions & { tls?: unknown }>(
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
 * Checks that `options` is undefined or an object holding only the listed
 * options (and `otherKeys`, checked elsewhere), and each listed option in
 * it, in order; returns the options (`{}` when undefined).
 */
function checkFields<T extends object>(
  options: T | undefined,
  fields: Record<string, OptionCheck>,
  otherKeys: readonly string[] = [],
): T {
  const opts = checkOptions(options);
  checkKnownKeys(opts, [...Object.keys(fields), ...otherKeys]);
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
  const fields = {
    signal: signalOption,
    serverSide: booleanOption,
    ...timeoutFields,
  };
  const opts = checkOptions(options);
  const serverSide = opts.serverSide ?? defaultServerSide;
  checkBoolean(serverSide, "options.serverSide");
  checkTlsOptions(opts, "options", serverSide, Object.keys(fields));
  checkFields(opts, fields, serverSide ? SERVER_TLS_KEYS : CLIENT_TLS_KEYS);
  return { ...opts, serverSide };
}

/** The options of {@linkcode SocketOptions}. */
const socketFields = { noDelay: booleanOption, keepAlive: booleanOption };
/** The options of {@linkcode TlsTimeoutOptions}. */
const timeoutFields = {
  tlsHandshakeTimeout: timeoutOption,
  tlsShutdownTimeout: timeoutOption,
};
/** The options of `IdleTimeoutOptions`. */
const idleFields = { idleTimeout: timeoutOption };
/** The options of {@linkcode ServerLimitOptions}. */
const limitFields = { ...idleFields, maxConnections: maxConnectionsOption };
/** The options of a client's connection. */
const connectFields = {
  signal: signalOption,
  ...socketFields,
  tls: clientTlsOption,
  ...timeoutFields,
  ...idleFields,
};

/** Checks a {@linkcode ConnectOptions} (and returns it, with whatever else it holds). */
export function checkConnectOptions<T extends ConnectOptions>(
  options: T | undefined,
): T {
  return checkTlsTimeouts(checkFields(options, connectFields));
}

/** Checks a {@linkcode SocketConnectOptions} (and returns it, with whatever else it holds). */
export function checkSocketConnectOptions<T extends SocketConnectOptions>(
  options: T,
): T {
  const opts = checkFields(options, { conn: connOption, ...connectFields });
  return checkAdoptOptions(opts, opts.conn);
}

/** Checks a {@linkcode AcceptedSocketOptions} for `conn` (and returns it, with whatever else it holds). */
export function checkAcceptedSocketOptions<T extends AcceptedSocketOptions>(
  options: T | undefined,
  conn: Deno.Conn,
): T {
  const opts = checkFields(options, {
    signal: signalOption,
    ...socketFields,
    tls: serverTlsOption,
    ...timeoutFields,
    ...idleFields,
  });
  return checkAdoptOptions(opts, conn);
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
      ...socketFields,
      signal: signalOption,
      tls: serverTlsOption,
      ...timeoutFields,
      ...limitFields,
    }),
  );
}

/**
 * The client's TLS options on a Unix socket: `serverHostname` is required,
 * as there is no host name to check the certificate against.
 */
const unixClientTlsOption = optional((value, name) => {
  checkTlsOptions(value as TlsConnectOptions, name, false);
  if ((value as TlsConnectOptions).serverHostname === undefined) {
    throw new TypeError(
      `${name}.serverHostname is required: a Unix socket has no host name to check the server's certificate against`,
    );
  }
});

/** Checks a {@linkcode UnixServerOptions} (and returns it, with whatever else it holds). */
export function checkUnixServerOptions<T extends UnixServerOptions>(
  options: T | undefined,
): T {
  return checkTlsTimeouts(
    checkFields(options, {
      backlog: backlogOption,
      startServing: booleanOption,
      signal: signalOption,
      tls: serverTlsOption,
      ...timeoutFields,
      ...limitFields,
    }),
  );
}

/** Checks a {@linkcode UnixConnectOptions} (and returns it, with whatever else it holds). */
export function checkUnixConnectOptions<T extends UnixConnectOptions>(
  options: T | undefined,
): T {
  return checkTlsTimeouts(
    checkFields(options, {
      signal: signalOption,
      tls: unixClientTlsOption,
      ...timeoutFields,
      ...idleFields,
    }),
  );
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

/** Marks the options a streams entry point passes on (see `splitStreamOptions`). */
const STREAMS: unique symbol = Symbol("options passed on by streams");

/**
 * Splits the options of a streams entry point into the reader's (checked
 * here) and the rest, which it passes on to the connect or listen call that
 * checks them (unknown keys included).
 */
export function splitStreamOptions<T extends StreamOptions>(
  options: T | undefined,
): [StreamOptions, Omit<T, "limit"> | undefined] {
  if (options === undefined) return [{}, undefined];
  const { limit, ...rest } = checkOptions(options);
  Object.defineProperty(rest, STREAMS, { value: true });
  return [checkStreamOptions(limit === undefined ? {} : { limit }), rest];
}

/** Checks a {@linkcode WaitOptions} (or `ReadOptions`); returns its signal. */
export function checkWaitOptions(
  options: WaitOptions | undefined,
): AbortSignal | undefined {
  const opts = checkOptions(options);
  checkKnownKeys(opts, ["signal"]);
  checkSignal(opts.signal);
  return opts.signal;
}

// ---- UDP addresses ------------------------------------------------------------------

/**
 * Throws unless `value` is a {@linkcode DatagramAddress}: an object with a
 * non-empty `hostname` string and a `port` from 0 (only where `portZero`) to
 * 65535.
 *
 * @param name The argument's name for messages (`options.localAddr`, `addr`).
 */
export function checkDatagramAddress(
  value: unknown,
  name: string,
  portZero: boolean,
): asserts value is DatagramAddress {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `${name} must be an object { hostname, port }, got ${describe(value)}`,
    );
  }
  const addr = value as Partial<DatagramAddress>;
  checkString(addr.hostname, `${name}.hostname`);
  if (addr.hostname.length === 0) {
    throw new RangeError(`${name}.hostname must not be empty`);
  }
  checkPort(addr.port, `${name}.port`);
  if (addr.port === 0 && !portZero) {
    throw new RangeError(
      `${name}.port must be from 1 to 65535 to send to, got 0`,
    );
  }
}

/**
 * Checks a {@linkcode DatagramEndpointOptions} (and returns it, with
 * whatever else it holds): every option's type and range, that the
 * literal addresses agree with `family` and with each other, and that the
 * family can be known.
 *
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If an option is out of range, the families
 * disagree, none of `localAddr`, `remoteAddr` and `family` is given, or
 * `reusePort` is `true` (Deno cannot set it on UDP sockets).
 */
export function checkDatagramEndpointOptions<
  T extends DatagramEndpointOptions,
>(options: T | undefined): T {
  const opts = checkOptions(options);
  checkKnownKeys(opts, [
    "localAddr",
    "remoteAddr",
    "family",
    "reuseAddr",
    "reusePort",
    "allowBroadcast",
    "signal",
  ]);
  if (opts.localAddr !== undefined) {
    checkDatagramAddress(opts.localAddr, "options.localAddr", true);
  }
  if (opts.remoteAddr !== undefined) {
    checkDatagramAddress(opts.remoteAddr, "options.remoteAddr", false);
  }
  if (opts.family !== undefined) {
    checkString(opts.family, "options.family");
    if (opts.family !== "ipv4" && opts.family !== "ipv6") {
      throw new RangeError(
        `options.family must be "ipv4" or "ipv6", got ${describe(opts.family)}`,
      );
    }
  }
  checkBoolean(opts.reuseAddr, "options.reuseAddr");
  checkBoolean(opts.reusePort, "options.reusePort");
  checkBoolean(opts.allowBroadcast, "options.allowBroadcast");
  checkSignal(opts.signal);
  if (opts.reusePort) {
    throw new RangeError(
      "options.reusePort is not supported: Deno cannot set SO_REUSEPORT on a UDP socket (node:dgram and Deno.listenDatagram both ignore it)",
    );
  }
  if (
    opts.localAddr === undefined && opts.remoteAddr === undefined &&
    opts.family === undefined
  ) {
    throw new RangeError(
      "createDatagramEndpoint needs options.localAddr, options.remoteAddr or options.family",
    );
  }
  let family = opts.family;
  let from = "options.family";
  for (const key of ["localAddr", "remoteAddr"] as const) {
    const addr = opts[key];
    const literal = addr && familyOf(addr.hostname);
    if (!literal) continue;
    if (family !== undefined && literal !== family) {
      throw new RangeError(
        `options.${key}.hostname is an ${
          familyName(literal)
        } address (${addr.hostname}) but ${from} is ${familyName(family)}`,
      );
    }
    family = literal;
    from = `options.${key}.hostname`;
  }
  return opts;
}
