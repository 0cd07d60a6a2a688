// Copyright 2026 the @aio/net authors. MIT license.
/**
 * All of TLS: a TLS engine (`node:tls`, loaded on first use) running over a
 * plain {@linkcode SocketTransport}, as asyncio's `SSLProtocol` runs over
 * memory buffers. The socket transport reads and writes ciphertext; the
 * application gets a {@linkcode TlsTransport} that encrypts. The same
 * engine serves every TLS connection: a TLS server's (accepted as plain TCP),
 * a TLS client's (dialled as plain TCP), and `startTls` on either side of a
 * connection that began in plaintext.
 *
 * Why not Deno's native TLS (`Deno.listenTls`, `Deno.connectTls`,
 * `Deno.startTls`), measured in Deno 2.9.6:
 * - A `Deno.TlsConn` closed while its handshake is pending keeps its TCP
 *   socket open (`ss` shows it established) until the peer sends something:
 *   a client that never sends a ClientHello, or a server that never answers
 *   one, would hold the descriptor forever, whatever timeout we set.
 * - A `Deno.TlsConn` cannot set `TCP_NODELAY`, so an accepted connection
 *   whose reply spans more than one TLS record waits for the peer's delayed
 *   ACK (~40 ms) at every turn. A plain `Deno.TcpConn` can.
 * - `Deno.startTls` takes the connection's resource, which fails ("Busy")
 *   while a read is in flight and loses the connection; the socket
 *   transport always keeps a read in flight. And Deno has no server-side
 *   `startTls`.
 *
 * A `Deno.TlsConn` made elsewhere still runs on the socket transport as any
 * connection does (its TLS is then Deno's).
 *
 * What we add around the engine (Deno 2.9's `node:tls`, over rustls):
 * - Options are read once into a {@linkcode ClientTls} or a
 *   {@linkcode ServerTls}: certificates parsed and keys matched with
 *   `node:crypto` (the engine's `createSecureContext` checks neither, and a
 *   mismatched key fails only at the handshake, as "unsupported
 *   protocol"), one secure context per certificate.
 * - A server asking for client certificates reads the engine's verdict
 *   after the handshake: the engine records a certificate that does not
 *   verify without failing the handshake.
 * - A server with several certificates reads the name from the ClientHello
 *   before it starts the engine with the right one: the engine's own
 *   `SNICallback` loses its output when it answers asynchronously.
 *
 * What the engine cannot do is refused where it is asked for: key logging
 * (it gives out no secrets and ignores `SSLKEYLOGFILE`), TLS before 1.2,
 * encrypted private keys.
 *
 * @module
 */
import type { X509Certificate } from "node:crypto";
import type { Duplex as DuplexType } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import {
  checkStartTlsOptions,
  checkTlsCertifiedKey,
  checkTlsListenOptions,
  toError,
} from "./_checks.ts";
import type { BaseProtocol, Transport } from "./_contract.ts";
import type {
  StartTlsOptions,
  TlsCertifiedKey,
  TlsConnectOptions,
  TlsListenOptions,
  TlsTimeoutOptions,
} from "./_options.ts";
import { ipVersion } from "./_address.ts";
import { Lazy } from "./_lazy.ts";
import { logger } from "./_log.ts";
import { abortable, withTimeout } from "./_signal.ts";
import {
  isTls,
  SocketTransport,
  StreamTransport,
  type TlsInfo,
  type TransportOwner,
  unknownTls,
} from "./_transport.ts";

/** asyncio's `ssl_handshake_timeout` default: 60 s. */
export const TLS_HANDSHAKE_TIMEOUT = 60_000;
/** asyncio's `ssl_shutdown_timeout` default: 30 s. */
const TLS_SHUTDOWN_TIMEOUT = 30_000;

/**
 * One side of a TLS session, checked and ready for the engine: the client's
 * context and the name to check, or the server's {@linkcode ServerTls}.
 */
export type TlsSide =
  & TlsTimeoutOptions
  & (
    | { serverSide: false; client: ClientTls }
    | { serverSide: true; server: ServerTls }
  );

// ---- The engine --------------------------------------------------------------

/** The parts of `node:tls`, `node:stream` and `node:crypto` used. */
interface Engine {
  tls: typeof import("node:tls");
  Duplex: typeof DuplexType;
  crypto: typeof import("node:crypto");
}

/** The engine, loaded on first use. */
const engine = new Lazy<Engine>(() =>
  Promise.all([
    import("node:tls"),
    import("node:stream"),
    import("node:crypto"),
  ]).then(([tls, stream, crypto]) => ({ tls, Duplex: stream.Duplex, crypto }))
);

/**
 * Loads the TLS engine (once; later calls resolve at once). Every path that
 * makes a {@linkcode TlsTransport} or a {@linkcode TlsSide} awaits it first.
 */
export function loadTlsEngine(): Promise<Engine> {
  return engine.get();
}

// ---- Material: PEM text, read by the engine once -----------------------------

/** Every PEM certificate block of `text`. */
function certificateBlocks(text: string): string[] {
  return text.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  ) ?? [];
}

/** Parses one PEM certificate, or throws `TypeError` naming it. */
function parseCertificate(pem: string, name: string): X509Certificate {
  try {
    return new engine.loaded.crypto.X509Certificate(pem);
  } catch (err) {
    throw new TypeError(
      `${name} is not a valid PEM certificate: ${toError(err).message}`,
      { cause: err },
    );
  }
}

/** Throws `TypeError` unless every certificate of every entry of `cas` parses. */
function checkCaCerts(cas: readonly string[] | undefined, name: string): void {
  cas?.forEach((text, i) => {
    for (const pem of certificateBlocks(text)) {
      parseCertificate(pem, `${name}[${i}]`);
    }
  });
}

/**
 * Throws `TypeError` unless `pair.cert` (a chain) and `pair.key` parse and
 * the key is the leaf certificate's: a mismatch fails here, at the call,
 * not at the first handshake (where the engine says only "unsupported
 * protocol").
 */
function checkCertifiedKey(pair: TlsCertifiedKey, name: string): void {
  const [leaf, ...chain] = certificateBlocks(pair.cert);
  const certificate = parseCertificate(leaf!, `${name}.cert`);
  chain.forEach((pem) => parseCertificate(pem, `${name}.cert`));
  let key;
  try {
    key = engine.loaded.crypto.createPrivateKey(pair.key);
  } catch (err) {
    throw new TypeError(
      `${name}.key is not a valid PEM private key: ${toError(err).message}`,
      { cause: err },
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TypeError(
      `${name}.key does not match ${name}.cert (${certificate.subject}): is it the key of another certificate?`,
    );
  }
}

/** A secure context of the engine: the certificate to present, the CAs to check against. */
function secureContext(
  pair: TlsCertifiedKey | undefined,
  caCerts: readonly string[] | undefined,
  minVersion: string | undefined,
): SecureContext {
  return engine.loaded.tls.createSecureContext({
    ...(pair ? { cert: pair.cert, key: pair.key } : {}),
    ...(caCerts ? { ca: [...caCerts] } : {}),
    minVersion: (minVersion ?? "TLSv1.2") as "TLSv1.2",
    maxVersion: "TLSv1.3",
  });
}

/** The client's side, ready: what every connect with these options uses. */
export interface ClientTls {
  /** The name the certificate is checked against, and sent as SNI. */
  serverHostname: string;
  context: SecureContext;
  alpnProtocols: string[] | undefined;
  insecureSkipVerify: boolean;
}

let warnedInsecure = false;

/**
 * Makes the client's side from checked options; throws `TypeError` if the
 * client certificate and key do not parse or match. The engine must be
 * loaded.
 */
export function clientTlsSide(
  tls: TlsConnectOptions,
  timeouts: TlsTimeoutOptions,
  serverHostname: string,
  name = "options.tls",
): TlsSide {
  checkCaCerts(tls.caCerts, `${name}.caCerts`);
  const pair = tls.cert !== undefined
    ? { cert: tls.cert, key: tls.key! }
    : undefined;
  if (pair) checkCertifiedKey(pair, name);
  const insecureSkipVerify = tls.insecureSkipVerify === true;
  if (insecureSkipVerify && !warnedInsecure) {
    warnedInsecure = true;
    logger.warning(
      "TLS certificate verification is off (insecureSkipVerify) for {name}: the server is not authenticated; use it in tests only",
      { name: serverHostname },
    );
  }
  return {
    ...pickTimeouts(timeouts),
    serverSide: false,
    client: {
      serverHostname,
      context: secureContext(pair, tls.caCerts, tls.minVersion),
      alpnProtocols: tls.alpnProtocols,
      insecureSkipVerify,
    },
  };
}

/** Only the timeouts of options that hold more. */
function pickTimeouts(opts: TlsTimeoutOptions): TlsTimeoutOptions {
  const out: TlsTimeoutOptions = {};
  if (opts.tlsHandshakeTimeout !== undefined) {
    out.tlsHandshakeTimeout = opts.tlsHandshakeTimeout;
  }
  if (opts.tlsShutdownTimeout !== undefined) {
    out.tlsShutdownTimeout = opts.tlsShutdownTimeout;
  }
  return out;
}

/**
 * A server's TLS options, checked against the engine, with a secure
 * context made once for its certificate and once for each SNI
 * certificate: what every handshake of the server uses, until
 * `Server.setTlsOptions` replaces it.
 */
export class ServerTls {
  readonly requestCert: boolean | "optional";
  readonly alpnProtocols: string[] | undefined;
  #caCerts: string[] | undefined;
  #minVersion: string | undefined;
  #sniCallback: TlsListenOptions["sniCallback"];
  #default: SecureContext;
  #exact = new Map<string, SecureContext>();
  /** Wildcard certificates by the suffix they match (`.example.test`). */
  #wildcards = new Map<string, SecureContext>();
  /** Contexts of what `sniCallback` returned, by the object it returned. */
  #picked = new WeakMap<TlsCertifiedKey, SecureContext>();

  /** @throws {TypeError} If a certificate or key does not parse, or a key does not match. */
  constructor(options: TlsListenOptions, name: string) {
    // Read once: changing the options object later changes nothing.
    this.requestCert = options.requestCert ?? false;
    this.alpnProtocols = options.alpnProtocols && [...options.alpnProtocols];
    this.#caCerts = options.caCerts && [...options.caCerts];
    this.#minVersion = options.minVersion;
    this.#sniCallback = options.sniCallback;
    checkCaCerts(options.caCerts, `${name}.caCerts`);
    checkCertifiedKey(options, name);
    this.#default = this.#context(options);
    for (
      const [serverName, pair] of Object.entries(options.sniCertificates ?? {})
    ) {
      checkCertifiedKey(
        pair,
        `${name}.sniCertificates[${JSON.stringify(serverName)}]`,
      );
      const key = serverName.toLowerCase().replace(/\.$/, "");
      if (key.startsWith("*.")) {
        this.#wildcards.set(key.slice(1), this.#context(pair));
      } else this.#exact.set(key, this.#context(pair));
    }
  }

  /** Whether a handshake must read the name the client asks for first. */
  get usesSni(): boolean {
    return this.#exact.size > 0 || this.#wildcards.size > 0 ||
      this.#sniCallback !== undefined;
  }

  /** The context for a client without SNI. */
  get defaultContext(): SecureContext {
    return this.#default;
  }

  /**
   * The context for a client that asked for `serverName` (`null`: none):
   * from `sniCertificates`, else from `sniCallback`, else the default.
   *
   * @throws What `sniCallback` throws, or `TypeError` for bad material.
   */
  contextFor(
    serverName: string | null,
  ): SecureContext | Promise<SecureContext> {
    if (serverName === null) return this.#default;
    const exact = this.#exact.get(serverName);
    if (exact) return exact;
    const dot = serverName.indexOf(".");
    const wildcard = dot > 0
      ? this.#wildcards.get(serverName.slice(dot))
      : undefined;
    if (wildcard) return wildcard;
    const callback = this.#sniCallback;
    if (!callback) return this.#default;
    const picked = callback(serverName);
    return picked instanceof Promise
      ? picked.then((pair) => this.#contextOf(pair))
      : this.#contextOf(picked);
  }

  /** The context of what `sniCallback` returned, checked once per object. */
  #contextOf(pair: TlsCertifiedKey | null | undefined): SecureContext {
    if (pair === null || pair === undefined) return this.#default;
    let context = this.#picked.get(pair);
    if (!context) {
      checkTlsCertifiedKey(pair, "the sniCallback() result");
      checkCertifiedKey(pair, "the sniCallback() result");
      context = this.#context(pair);
      this.#picked.set(pair, context);
    }
    return context;
  }

  #context(pair: TlsCertifiedKey): SecureContext {
    return secureContext(pair, this.#caCerts, this.#minVersion);
  }
}

/**
 * Makes the server's side from checked options (`undefined` without
 * `tls`), loading the engine first: what a TLS server, and any server's
 * side of TLS, starts with.
 *
 * @throws {TypeError} If a certificate or key does not parse, or a key does
 * not match its certificate.
 */
export async function serverTlsSide(
  opts: TlsTimeoutOptions & { tls?: TlsListenOptions | undefined },
  name = "options.tls",
): Promise<TlsSide | undefined> {
  if (opts.tls === undefined) return undefined;
  await loadTlsEngine();
  return {
    ...pickTimeouts(opts),
    serverSide: true,
    server: new ServerTls(opts.tls, name),
  };
}

/**
 * A server's side with new TLS options (`Server.setTlsOptions`), checked as
 * `createServer` checks them; the timeouts stay.
 *
 * @throws {TypeError} If an option is wrong or the material bad.
 * @throws {Error} If the server does not speak TLS.
 */
export function replaceServerTls(
  side: TlsSide | undefined,
  options: TlsListenOptions,
): TlsSide {
  if (side === undefined || !side.serverSide) {
    throw new Error(
      "Cannot setTlsOptions(): the server does not speak TLS (it was made without options.tls)",
    );
  }
  checkTlsListenOptions(options);
  return { ...side, server: new ServerTls(options, "options") };
}

/**
 * Runs TLS over a fresh connection: a socket transport reading `conn`, and
 * the TLS transport over it, whose handshake starts at once. Nothing reaches
 * the application before `start(protocol)`. The engine must be loaded.
 */
export function openTls(
  conn: Deno.Conn,
  side: TlsSide,
  owner?: TransportOwner,
  idleTimeout?: number,
): TlsTransport {
  const raw = new SocketTransport(conn, null, { idleTimeout });
  const transport = new TlsTransport(raw, null, side, owner);
  raw.start(raw.getProtocol()); // the engine's feed, set by TlsTransport
  return transport;
}

// ---- startTls ----------------------------------------------------------------

/** Transports with a `startTls` under way (the plain one and the TLS one). */
const upgrading = new WeakSet<Transport>();

/**
 * Checks everything, then upgrades: what `startTls` and
 * `StreamWriter.startTls` share. `onTransport` receives the TLS transport
 * before the handshake starts. A second call while one is under way is
 * refused at once (it would steal the connection's bytes from the first).
 *
 * @param defaultServerSide The side when `options.serverSide` is not given.
 * @returns The TLS transport, once the handshake is done.
 */
export async function startTlsOn(
  transport: Transport,
  protocol: BaseProtocol,
  options: StartTlsOptions | undefined,
  defaultServerSide: boolean,
  onTransport?: (tls: Transport) => void,
): Promise<Transport> {
  const opts = checkStartTlsOptions(options, defaultServerSide);
  if (upgrading.has(transport)) {
    throw new Error(
      "Cannot startTls(): another startTls() on this connection is still under way",
    );
  }
  if (isTls(transport)) {
    throw new Error("Cannot startTls(): the connection already speaks TLS");
  }
  if (transport.isClosing()) {
    throw new Error("Cannot startTls(): the transport is closing");
  }
  let name: string | undefined;
  if (!opts.serverSide) {
    name = opts.serverHostname ?? defaultHostname(transport);
    if (name === undefined) {
      throw new TypeError(
        "options.serverHostname is required: the connection has no host name to check the certificate against",
      );
    }
  }
  opts.signal?.throwIfAborted();
  upgrading.add(transport);
  let tls: TlsTransport | undefined;
  try {
    // Hold the plaintext side still while the engine loads: nothing read
    // from now on may reach the application as plaintext.
    const wasReading = transport.isReading();
    transport.pauseReading();
    let side: TlsSide;
    try {
      await loadTlsEngine();
      side = opts.serverSide
        ? (await serverTlsSide(
          { ...opts, tls: opts as TlsListenOptions },
          "options",
        ))!
        : clientTlsSide(opts, opts, name!, "options");
    } catch (err) {
      if (wasReading) transport.resumeReading();
      throw err;
    }
    if (transport.isClosing()) {
      throw new Deno.errors.ConnectionReset(
        "Cannot startTls(): the connection was closed",
      );
    }
    tls = new TlsTransport(transport, protocol, side);
    upgrading.add(tls);
    onTransport?.(tls);
    transport.resumeReading();
    await tls.handshake(opts.signal);
    return tls;
  } finally {
    upgrading.delete(transport);
    if (tls) upgrading.delete(tls);
  }
}

/** The host name dialled, else the peer's address. */
function defaultHostname(transport: Transport): string | undefined {
  if (transport instanceof SocketTransport && transport.host !== undefined) {
    return transport.host;
  }
  const peer = transport.getExtraInfo("peername") as Deno.Addr | undefined;
  return peer?.transport === "tcp" ? peer.hostname : undefined;
}

// ---- SNI: the name a ClientHello asks for ------------------------------------

/** The most a server reads of a ClientHello before giving up on its name. */
const MAX_HELLO = 64 * 1024;

/**
 * The server name (SNI) a client's first flight asks for, lower-cased:
 * `undefined` while more bytes are needed, `null` when it sends none or is
 * not a ClientHello at all (the engine then says why).
 */
export function readServerName(data: Uint8Array): string | null | undefined {
  // The handshake message, gathered from its records.
  const message = new Uint8Array(data.length);
  let size = 0;
  let off = 0;
  for (;;) {
    if (size >= 4) {
      if (message[0] !== 1) return null; // not a ClientHello
      const need = 4 + (message[1]! << 16 | message[2]! << 8 | message[3]!);
      if (need > MAX_HELLO) return null;
      if (size >= need) return helloServerName(message.subarray(4, need));
    }
    if (data.length - off < 5) return undefined;
    if (data[off] !== 22) return null; // not a handshake record
    const length = data[off + 3]! << 8 | data[off + 4]!;
    if (data.length - off - 5 < length) return undefined;
    message.set(data.subarray(off + 5, off + 5 + length), size);
    size += length;
    off += 5 + length;
  }
}

/** The `server_name` extension's host name in a ClientHello's body, or `null`. */
function helloServerName(body: Uint8Array): string | null {
  const u8 = (at: number) => body[at] ?? 0;
  const u16 = (at: number) => u8(at) << 8 | u8(at + 1);
  let p = 2 + 32; // legacy_version, random
  p += 1 + u8(p); // legacy_session_id
  p += 2 + u16(p); // cipher_suites
  p += 1 + u8(p); // legacy_compression_methods
  if (p + 2 > body.length) return null; // no extensions
  const end = Math.min(body.length, p + 2 + u16(p));
  for (p += 2; p + 4 <= end;) {
    const type = u16(p);
    const length = u16(p + 2);
    p += 4;
    if (type === 0) { // server_name: a list of (type, name)
      const listEnd = Math.min(end, p + length);
      for (let q = p + 2; q + 3 <= listEnd;) {
        const n = u16(q + 1);
        if (u8(q) === 0 && q + 3 + n <= listEnd) {
          const name = String.fromCharCode(...body.subarray(q + 3, q + 3 + n));
          return name.toLowerCase().replace(/\.$/, "") || null;
        }
        q += 3 + n;
      }
      return null;
    }
    p += length;
  }
  return null;
}

// ---- The TLS transport ---------------------------------------------------------

/** The application's view of a TLS connection over another transport. */
export class TlsTransport extends StreamTransport {
  #raw: Transport;
  #side: TlsSide;
  /** The engine; `null` while a server waits for the ClientHello's name. */
  #socket: TLSSocket | null = null;
  #duplex: DuplexType;
  #ready = Promise.withResolvers<void>();
  #secure = false;
  #handshakeTimeout: number;
  #shutdownTimeout: number;
  #shutdownTimer: ReturnType<typeof setTimeout> | undefined;
  /** The name asked for (SNI): sent by the client, or received by the server. */
  #serverName: string | null = null;

  /** Ciphertext read before the engine exists (a server reading the SNI). */
  #hello: Uint8Array[] = [];
  #helloBytes = 0;
  #helloEof = false;
  /** Whether the certificate for the ClientHello's name is being chosen. */
  #choosing = false;
  /** Plaintext written before the engine exists. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  #started: boolean;
  /** Plaintext that arrived before `start` gave this transport its protocol. */
  #early: Uint8Array[] = [];
  #appPaused = false;
  #feedPaused = false;
  /** The error the transport failed with, for `connectionLost`. */
  #error: Error | null = null;

  /**
   * @param raw The transport that carries the ciphertext.
   * @param protocol The application's protocol; `null` when it is made
   * after the handshake and given to `start` (for a new connection).
   * @param side Which side, with its certificates and timeouts.
   * @param owner The server that accepted the connection, if any.
   */
  constructor(
    raw: Transport,
    protocol: BaseProtocol | null,
    side: TlsSide,
    owner?: TransportOwner,
  ) {
    super(protocol, unknownTls(), owner);
    const { tls, Duplex } = engine.loaded;
    this.#raw = raw;
    this.#side = side;
    this.#started = protocol !== null;
    this.#handshakeTimeout = side.tlsHandshakeTimeout ?? TLS_HANDSHAKE_TIMEOUT;
    this.#shutdownTimeout = side.tlsShutdownTimeout ?? TLS_SHUTDOWN_TIMEOUT;
    this.#ready.promise.catch(() => {});

    // Ciphertext out: straight into the socket transport, whose watermarks
    // are this transport's (see getWriteBufferSize).
    this.#duplex = new Duplex({
      read: () => this.#setFeedPaused(false),
      write: (chunk: Uint8Array, _encoding, callback) => {
        if (!raw.isClosing()) raw.write(chunk);
        callback();
      },
    });
    // Ciphertext in: the socket transport now feeds the engine.
    raw.setProtocol(new TlsFeed(this));

    if (!side.serverSide) {
      const { client } = side;
      const name = client.serverHostname;
      this.#serverName = name;
      this.#attach(tls.connect({
        socket: this.#duplex,
        host: name,
        // SNI carries names only; an address is still checked.
        ...(ipVersion(name) !== 0 ? {} : { servername: name }),
        secureContext: client.context,
        rejectUnauthorized: !client.insecureSkipVerify,
        ...(client.alpnProtocols
          ? { ALPNProtocols: client.alpnProtocols }
          : {}),
      }));
    } else if (!side.server.usesSni) {
      this.#startServer(side.server.defaultContext);
    }
    // else: the engine starts once the ClientHello has told the name.
  }

  /** Starts the server's side of the engine with the context chosen. */
  #startServer(context: SecureContext): void {
    const server = (this.#side as { server: ServerTls }).server;
    this.#attach(
      new engine.loaded.tls.TLSSocket(this.#duplex, {
        isServer: true,
        secureContext: context,
        requestCert: server.requestCert !== false,
        rejectUnauthorized: server.requestCert === true,
        ...(server.alpnProtocols
          ? { ALPNProtocols: server.alpnProtocols }
          : {}),
      }),
    );
  }

  /** Listens to the engine, then hands it what was held back. */
  #attach(socket: TLSSocket): void {
    this.#socket = socket;
    if (this.#side.serverSide) socket.once("secure", () => this.#onSecure());
    else socket.once("secureConnect", () => this.#onSecure());
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#onEnd());
    socket.on("error", (err: unknown) => {
      // Once the connection is lost, the engine's own errors (a reset seen
      // while it was being torn down) say nothing new.
      if (!this.lost) {
        this.fatalError(toError(err), "Fatal error on TLS transport");
      }
    });
    // The engine is done (close_notify exchanged, or destroyed): close the
    // socket transport after it has flushed.
    socket.on("close", () => this.#raw.close());
    if (this.#appPaused) socket.pause();
    for (const data of this.#pending) socket.write(data);
    this.#pending = [];
    this.#pendingBytes = 0;
    for (const data of this.#hello) this.#feedEngine(data);
    this.#hello = [];
    if (this.#helloEof) this.#duplex.push(null);
  }

  /**
   * Waits for the handshake; `signal` aborts it, and so does the handshake
   * timeout (and the connection with them). A failure is logged as a
   * warning and closes the connection.
   */
  handshake(signal?: AbortSignal): Promise<void> {
    const ready = abortable(this.#ready.promise, signal, {
      onAbort: () => {
        const reason = signal!.reason instanceof Error
          ? signal!.reason
          : new DOMException("The TLS handshake was aborted", "AbortError");
        this.fatalError(reason, "TLS handshake aborted");
      },
    });
    return withTimeout(
      ready,
      this.#handshakeTimeout,
      "TLS handshake",
      (err) => this.fatalError(err, "TLS handshake timed out"),
    );
  }

  #onSecure(): void {
    const socket = this.#socket!;
    const peer = socket.getPeerCertificate?.();
    const hasPeer = peer !== null && peer !== undefined &&
      Object.keys(peer).length > 0;
    if (this.#side.serverSide && this.#side.server.requestCert !== false) {
      const refusal = clientCertificateError(
        socket,
        hasPeer,
        this.#side.server.requestCert === true,
      );
      if (refusal) {
        this.fatalError(refusal, "Fatal error on TLS transport");
        return;
      }
    }
    if (this.#side.serverSide && this.#serverName === null) {
      const name = (socket as { servername?: unknown }).servername;
      if (typeof name === "string" && name !== "") this.#serverName = name;
    }
    this.#secure = true;
    const alpn = socket.alpnProtocol;
    const cipher = socket.getCipher?.();
    const info: TlsInfo = {
      alpnProtocol: typeof alpn === "string" ? alpn : null,
      tlsVersion: socket.getProtocol?.() ?? null,
      cipher: cipher ? { name: cipher.name, version: cipher.version } : null,
      peerCertificate: hasPeer
        ? peer as unknown as Record<string, unknown>
        : null,
    };
    this.setTls(info);
    this.#ready.resolve();
  }

  protected startReading(): void {
    this.#started = true;
    const early = this.#early;
    this.#early = [];
    for (const data of early) this.#deliver(data);
  }

  // ---- From the engine to the application ---------------------------------

  #onData(chunk: Uint8Array): void {
    // A plain view: Buffer's own slice() would not copy.
    const data = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    // A new connection's first bytes may come with the end of the
    // handshake, before its protocol is made.
    if (this.#started) this.#deliver(data);
    else this.#early.push(data);
  }

  #deliver(data: Uint8Array): void {
    if (this.lost || this.isClosing()) return;
    try {
      this.deliver(data, true);
    } catch (err) {
      this.fatalError(toError(err), "Exception in a data callback on TLS");
    }
  }

  #onEnd(): void {
    if (this.lost || this.isClosing()) return;
    const exc = this.handleEof();
    if (exc) this.fatalError(exc, "Exception in eofReceived()");
  }

  // ---- From the socket transport -----------------------------------------

  /** Ciphertext from the socket transport. */
  feed(data: Uint8Array): void {
    if (this.#socket) {
      this.#feedEngine(data);
      return;
    }
    // A server that serves several names: hold the bytes until the
    // ClientHello tells which, then start the engine with its certificate.
    this.#hello.push(data);
    this.#helloBytes += data.length;
    if (this.#choosing) return;
    const name = readServerName(
      this.#hello.length === 1 ? data : concat(this.#hello),
    );
    if (name === undefined && this.#helloBytes < MAX_HELLO) return;
    this.#choose(name ?? null);
  }

  /** Chooses the certificate for `name` (maybe asynchronously), then starts. */
  #choose(name: string | null): void {
    this.#choosing = true;
    this.#serverName = name;
    const server = (this.#side as { server: ServerTls }).server;
    let context: SecureContext | Promise<SecureContext>;
    try {
      context = server.contextFor(name);
    } catch (err) {
      this.fatalError(toError(err), "Exception in sniCallback()");
      return;
    }
    if (!(context instanceof Promise)) {
      this.#startServer(context);
      return;
    }
    context.then(
      (chosen) => {
        if (!this.isClosing() && !this.lost) this.#startServer(chosen);
      },
      (err) => this.fatalError(toError(err), "Exception in sniCallback()"),
    );
  }

  #feedEngine(data: Uint8Array): void {
    if (!this.#duplex.push(data)) this.#setFeedPaused(true);
  }

  /** The peer closed its side of the socket. */
  feedEof(): void {
    if (this.#socket) this.#duplex.push(null);
    else if (!this.#choosing) this.#raw.close(); // it never said hello
    else this.#helloEof = true;
  }

  /** The socket transport is gone: so is this one. */
  rawLost(exc: Error | null): void {
    clearTimeout(this.#shutdownTimer);
    this.#socket?.destroy();
    const err = this.#error ?? exc;
    if (!this.#secure) {
      this.#ready.reject(
        err ??
          new Deno.errors.ConnectionReset(
            "The connection was closed during the TLS handshake",
          ),
      );
    }
    this.callConnectionLost(err);
  }

  /** The socket transport's buffer crossed a watermark. */
  rawWritingPaused(paused: boolean): void {
    if (this.lost || !this.#started) return;
    try {
      if (paused) this.protocol.pauseWriting();
      else this.protocol.resumeWriting();
    } catch (err) {
      this.fatalError(
        toError(err),
        paused ? "Exception in pauseWriting()" : "Exception in resumeWriting()",
      );
    }
  }

  // ---- Failure -------------------------------------------------------------

  /** Failures before the handshake is done are reported as handshake failures. */
  protected override get handshaking(): boolean {
    return !this.#secure;
  }

  /**
   * A forced close: records the error for `connectionLost`, fails the
   * handshake if it was not done, and aborts the socket transport, whose
   * end (`rawLost`) calls `connectionLost`.
   */
  protected release(exc: Error | null): void {
    this.#error = exc;
    if (!this.#secure && exc) this.#ready.reject(exc);
    this.#socket?.destroy();
    this.#raw.abort();
  }

  #setFeedPaused(paused: boolean): void {
    if (this.#feedPaused === paused) return;
    this.#feedPaused = paused;
    this.#syncRawReading();
  }

  #syncRawReading(): void {
    if (this.#feedPaused || this.#appPaused) this.#raw.pauseReading();
    else this.#raw.resumeReading();
  }

  // ---- Transport -------------------------------------------------------------

  /** Encrypts and sends a copy of the concatenation of `parts`. */
  protected send(parts: readonly Uint8Array[], total: number): void {
    const data = parts.length === 1 ? parts[0]!.slice() : concat(parts, total);
    if (this.#socket) {
      this.#socket.write(data);
      return;
    }
    this.#pending.push(data);
    this.#pendingBytes += data.length;
  }

  /** Never called: `writeEof()` refuses on TLS. */
  protected shutdownWrite(): void {}

  /**
   * Sends close_notify after the buffer, then closes the socket once the
   * peer answers with its own, or once the shutdown timeout has passed.
   */
  close(): void {
    if (!this.beginClose()) return;
    if (!this.#secure || !this.#socket) {
      if (this.#socket) this.#socket.destroy();
      else this.#raw.close();
      return;
    }
    // Read again, even if the application had paused reading: the peer's
    // close_notify must get through (nothing reaches the protocol now).
    this.#appPaused = false;
    this.#socket.resume();
    this.#syncRawReading();
    this.#socket.end();
    this.#shutdownTimer = setTimeout(() => {
      this.fatalError(
        new Deno.errors.TimedOut(
          `TLS shutdown took longer than ${this.#shutdownTimeout} ms`,
        ),
        "TLS shutdown timed out",
      );
    }, this.#shutdownTimeout);
  }

  /** Closes at once, dropping the buffer. */
  abort(): void {
    this.forceClose(null);
  }

  /** Stops delivering data. */
  pauseReading(): void {
    if (this.isClosing() || this.#appPaused) return;
    this.#appPaused = true;
    this.#socket?.pause();
    this.#syncRawReading();
  }

  /** Resumes delivering data. */
  resumeReading(): void {
    if (this.isClosing() || !this.#appPaused) return;
    this.#appPaused = false;
    this.#socket?.resume();
    this.#syncRawReading();
  }

  /** Whether data is being delivered. */
  isReading(): boolean {
    return !this.#appPaused && !this.isClosing() && !this.eofReceived;
  }

  /** Plaintext not yet encrypted plus ciphertext not yet sent. */
  getWriteBufferSize(): number {
    return (this.#socket?.writableLength ?? this.#pendingBytes) +
      this.#raw.getWriteBufferSize();
  }

  /** The socket transport's watermarks, which govern this one. */
  override getWriteBufferLimits(): [low: number, high: number] {
    return this.#raw.getWriteBufferLimits();
  }

  /** Sets the socket transport's watermarks. */
  override setWriteBufferLimits(high?: number, low?: number): void {
    this.#raw.setWriteBufferLimits(high, low);
  }

  protected state(): string {
    if (this.lost) return "closed";
    if (this.isClosing()) return "closing";
    return this.#secure ? "open" : "handshaking";
  }

  protected socketInfo(name: string, defaultValue: unknown): unknown {
    if (name === "serverHostname") {
      return this.#secure ? this.#serverName : defaultValue;
    }
    return this.#raw.getExtraInfo(name, defaultValue);
  }
}

/**
 * Why a server refuses the client's certificate, or `null` to accept: the
 * engine records a certificate that does not verify without failing the
 * handshake, so its verdict is read here.
 *
 * @param required Whether a client without a certificate is refused.
 */
function clientCertificateError(
  socket: TLSSocket,
  hasPeer: boolean,
  required: boolean,
): Error | null {
  if (!hasPeer) {
    return required
      ? Object.assign(new Error("The client sent no certificate"), {
        code: "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE",
      })
      : null;
  }
  const handle = (socket as { _handle?: { verifyError?: () => unknown } })
    ._handle;
  if (typeof handle?.verifyError !== "function") {
    return new Error(
      "Cannot accept the client's certificate: the TLS engine (node:tls) does not report whether it verified",
    );
  }
  const code = handle.verifyError();
  if (!code) return null;
  return Object.assign(
    new Error(`The client's certificate did not verify: ${String(code)}`),
    { code: String(code) },
  );
}

/** Joins byte arrays. */
function concat(parts: readonly Uint8Array[], total?: number): Uint8Array {
  const joined = new Uint8Array(
    total ?? parts.reduce((n, part) => n + part.length, 0),
  );
  let off = 0;
  for (const part of parts) {
    joined.set(part, off);
    off += part.length;
  }
  return joined;
}

/** The protocol the socket transport calls once TLS is on top of it. */
class TlsFeed {
  #tls: TlsTransport;

  constructor(tls: TlsTransport) {
    this.#tls = tls;
  }

  connectionMade(): void {}

  dataReceived(data: Uint8Array): void {
    this.#tls.feed(data);
  }

  eofReceived(): boolean {
    this.#tls.feedEof();
    return true; // the engine decides when to close
  }

  connectionLost(exc: Error | null): void {
    this.#tls.rawLost(exc);
  }

  pauseWriting(): void {
    this.#tls.rawWritingPaused(true);
  }

  resumeWriting(): void {
    this.#tls.rawWritingPaused(false);
  }
}
