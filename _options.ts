// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Every public options type, with its defaults. Each has one checker in
 * `_checks.ts`, used by every entry point that takes it, so the same bad
 * option gets the same error wherever it is given; options objects are
 * closed (an unknown key throws). Imports nothing.
 *
 * @module
 */

/**
 * Options of a TLS client connection: what `createConnection`,
 * `openConnection`, their Unix twins and the client's side of `startTls`
 * take as `tls`. TLS material is PEM text (read files first, e.g. with
 * `Deno.readTextFileSync(path)`); anything else is a `TypeError` at the call.
 *
 * @example Present a client certificate (mutual TLS)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer, type TlsConnectOptions } from "@aio/net";
 *
 * const read = (name: string) => Deno.readTextFileSync(`tests/fixtures/tls/${name}`);
 * await using server = await startServer((_reader, writer) => {
 *   const peer = writer.getExtraInfo("peerCertificate") as { subject: { CN: string } };
 *   writer.write(new TextEncoder().encode(`hello ${peer.subject.CN}\n`));
 *   writer.close();
 * }, "127.0.0.1", 0, {
 *   tls: { cert: read("server.pem"), key: read("server.key"), caCerts: [read("ca.pem")], requestCert: true },
 * });
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const tls: TlsConnectOptions = {
 *   serverHostname: "localhost",
 *   caCerts: [read("ca.pem")],
 *   cert: read("client.pem"),
 *   key: read("client.key"),
 * };
 * const [reader, writer] = await openConnection("127.0.0.1", port, { tls });
 * assertEquals(new TextDecoder().decode(await reader.readline()), "hello aio-net test client\n");
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export interface TlsConnectOptions {
  /**
   * The name the server's certificate is checked against (and sent as SNI).
   * Required on a Unix socket, which has no host name.
   *
   * @default {host}
   */
  serverHostname?: string;
  /**
   * PEM certificates of the CAs to trust, instead of Deno's default roots
   * (which are used when it is left out: Mozilla's, or the system's with
   * `DENO_TLS_CA_STORE=system`, plus any given with `deno --cert`).
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * ALPN protocols to offer, most preferred first.
   *
   * @default {undefined}
   */
  alpnProtocols?: string[];
  /**
   * This side's certificate chain, PEM, for a server that asks for one
   * (mutual TLS; asyncio's `SSLContext.load_cert_chain` on a client). Needs
   * `key`.
   *
   * @default {undefined}
   */
  cert?: string;
  /**
   * The private key of `cert`, PEM (unencrypted). It must match `cert`: a
   * key of another certificate is a `TypeError` at the call.
   *
   * @default {undefined}
   */
  key?: string;
  /**
   * The oldest TLS version to accept: `"TLSv1.2"` or `"TLSv1.3"` (the TLS
   * engine has nothing older). A peer that cannot speak it fails the
   * handshake.
   *
   * @default {"TLSv1.2"}
   */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  /**
   * Skips every check of the server's certificate: its chain and its name
   * (asyncio's `verify_mode = CERT_NONE` with `check_hostname = False`).
   * Anyone can then impersonate the server: use it only in tests. A warning
   * is logged the first time a connection uses it.
   *
   * @default {false}
   */
  insecureSkipVerify?: boolean;
}

/**
 * A certificate chain and its private key, both PEM text: one of a TLS
 * server's identities (see `sniCertificates` and `sniCallback` in
 * {@linkcode TlsListenOptions}).
 *
 * @example Pick the certificate by the name the client asked for
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { TlsCertifiedKey } from "@aio/net";
 *
 * const read = (name: string) => Deno.readTextFileSync(`tests/fixtures/tls/${name}`);
 * const alpha: TlsCertifiedKey = { cert: read("alpha.pem"), key: read("alpha.key") };
 * const byName: Record<string, TlsCertifiedKey> = { "alpha.test": alpha };
 * assertEquals(byName["alpha.test"]?.cert.startsWith("-----BEGIN CERTIFICATE-----"), true);
 * ```
 */
export interface TlsCertifiedKey {
  /** The certificate chain, PEM: the leaf first, then its intermediates. */
  cert: string;
  /** The leaf's private key, PEM (unencrypted). */
  key: string;
}

/**
 * Options of a TLS server: what `createServer`, `startServer`, their Unix
 * twins, `connectAcceptedSocket` and the server's side of `startTls` take
 * as `tls`, and what `Server.setTlsOptions` replaces. TLS material is PEM
 * text; anything else, or a key that does not match its certificate, is a
 * `TypeError` at the call.
 *
 * @example Serve two names, each with its own certificate (SNI)
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { openConnection, startServer, type TlsListenOptions } from "@aio/net";
 *
 * const read = (name: string) => Deno.readTextFileSync(`tests/fixtures/tls/${name}`);
 * const tls: TlsListenOptions = {
 *   cert: read("server.pem"), // for clients that ask for no name, or another one
 *   key: read("server.key"),
 *   sniCertificates: {
 *     "alpha.test": { cert: read("alpha.pem"), key: read("alpha.key") },
 *     "beta.test": { cert: read("beta.pem"), key: read("beta.key") },
 *   },
 * };
 * await using server = await startServer((_reader, writer) => writer.close(), "127.0.0.1", 0, { tls });
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [, writer] = await openConnection("127.0.0.1", port, {
 *   tls: { serverHostname: "beta.test", caCerts: [read("ca.pem")] },
 * });
 * const peer = writer.getExtraInfo("peerCertificate") as { subject: { CN: string } };
 * assertEquals(peer.subject.CN, "beta.test");
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export interface TlsListenOptions {
  /** The server's certificate chain, PEM: the leaf first, then its intermediates. */
  cert: string;
  /** The private key of `cert`, PEM (unencrypted); it must match `cert`. */
  key: string;
  /**
   * ALPN protocols to accept, most preferred first.
   *
   * @default {undefined}
   */
  alpnProtocols?: string[];
  /**
   * PEM certificates of the CAs that client certificates are checked
   * against (with `requestCert`; only with it). The system's CAs are not
   * used for clients.
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * Asks each client for a certificate (mutual TLS), checked against
   * `caCerts`, which are then required. `true` requires one: a client
   * without a certificate fails the handshake (Node's `requestCert` with
   * `rejectUnauthorized`, asyncio's `CERT_REQUIRED`). `"optional"` also
   * accepts a client that sends none (asyncio's `CERT_OPTIONAL`). Either
   * way a certificate that does not verify fails the handshake, and the
   * protocol sees the verified certificate as
   * `getExtraInfo("peerCertificate")` (`null` when none was sent). Over
   * TLS 1.3 the client finishes its handshake before the server checks its
   * certificate, so a refused client sees its connection closed just
   * after it was made.
   *
   * @default {false}
   */
  requestCert?: boolean | "optional";
  /**
   * Certificates by the server name a client asks for (SNI), each a
   * {@linkcode TlsCertifiedKey}: exact names (`"alpha.test"`) or wildcards
   * of one label (`"*.example.test"`), case-insensitive. A client that asks
   * for another name, or none, gets `cert`/`key`.
   *
   * @default {undefined}
   */
  sniCertificates?: Record<string, TlsCertifiedKey>;
  /**
   * Chooses the certificate at run time from the name a client asks for
   * (asyncio's `sni_callback`, Node's `SNICallback`): called during the
   * handshake of each client that sends a name not in `sniCertificates`,
   * it returns (or resolves to) the {@linkcode TlsCertifiedKey} to use, or
   * `null`/`undefined` for `cert`/`key`. Returning the same object again
   * reuses its checked form. A throw, a rejection or bad material fails
   * only that handshake (it is logged); the handshake timeout covers the
   * wait.
   *
   * @default {undefined}
   */
  sniCallback?: (
    serverName: string,
  ) =>
    | TlsCertifiedKey
    | null
    | undefined
    | Promise<TlsCertifiedKey | null | undefined>;
  /**
   * The oldest TLS version to accept: `"TLSv1.2"` or `"TLSv1.3"` (the TLS
   * engine has nothing older). A client that cannot speak it fails the
   * handshake.
   *
   * @default {"TLSv1.2"}
   */
  minVersion?: "TLSv1.2" | "TLSv1.3";
}

/**
 * How long TLS may take to start and to end: asyncio's
 * `ssl_handshake_timeout` and `ssl_shutdown_timeout`, in milliseconds. A
 * silent peer can never hold a connection, or its file descriptor, forever.
 */
export interface TlsTimeoutOptions {
  /**
   * How long the TLS handshake may take, in milliseconds. A handshake that
   * takes longer fails like any other failed handshake, with
   * `Deno.errors.TimedOut`: a connect or `startTls` rejects; a server logs it
   * and drops only that connection. Only meaningful with TLS.
   *
   * @default {60000}
   */
  tlsHandshakeTimeout?: number;
  /**
   * How long closing a TLS connection may wait for the peer's close_notify,
   * in milliseconds; then the connection is aborted and `connectionLost`
   * gets `Deno.errors.TimedOut`. Only meaningful with TLS.
   *
   * @default {30000}
   */
  tlsShutdownTimeout?: number;
}

/**
 * Options of `startTls` and `StreamWriter.startTls`: the client's
 * {@linkcode TlsConnectOptions}, or on the server's side those of
 * {@linkcode TlsListenOptions} (`cert` and `key` required). An option of
 * the other side is refused.
 */
export interface StartTlsOptions
  extends
    TlsConnectOptions,
    TlsTimeoutOptions,
    Pick<TlsListenOptions, "requestCert" | "sniCertificates" | "sniCallback"> {
  /**
   * Take the server's side of the handshake; `cert` and `key` are then
   * required. `StreamWriter.startTls` defaults to the side the connection
   * was made on (a `startServer` connection is the server's side).
   *
   * @default {false}
   */
  serverSide?: boolean;
  /**
   * This side's certificate chain, PEM: the server's (required on the
   * server's side), or the client's for mutual TLS.
   *
   * @default {undefined}
   */
  cert?: string;
  /**
   * The private key of `cert`, PEM; it must match `cert`.
   *
   * @default {undefined}
   */
  key?: string;
  /**
   * On the client's side, the CAs the server's certificate may chain to
   * (instead of Deno's default roots); on the server's side, the CAs client
   * certificates are checked against (with `requestCert`).
   *
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * Aborts the handshake: the connection is closed and the call rejects
   * with `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/**
 * How a TCP connection's socket is set up (ignored on Unix sockets and on a
 * `Deno.TlsConn` made elsewhere, which cannot set them).
 */
export interface SocketOptions {
  /**
   * Sets `TCP_NODELAY` (Nagle's algorithm off), as asyncio does on every
   * TCP socket, TLS ones included.
   *
   * @default {true}
   */
  noDelay?: boolean;
  /**
   * Sets `SO_KEEPALIVE`, so that a peer that vanished without a word is
   * found out in the end (asyncio's `keep_alive`, 3.13).
   *
   * @default {false}
   */
  keepAlive?: boolean;
}

/**
 * How long a connection may stay silent: Node's `socket.setTimeout()`
 * followed by `destroy()`, as an option (asyncio has none).
 *
 * @example A client gives up on a server that never answers
 * ```ts
 * import { assertInstanceOf } from "@std/assert";
 * import {
 *   createConnection,
 *   createServer,
 *   type IdleTimeoutOptions,
 *   Protocol,
 * } from "@aio/net/protocol";
 *
 * class Client extends Protocol {
 *   readonly lost = Promise.withResolvers<Error | null>();
 *   override connectionLost(exc: Error | null): void {
 *     this.lost.resolve(exc);
 *   }
 * }
 * await using server = await createServer(() => new Protocol(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const options: IdleTimeoutOptions = { idleTimeout: 100 };
 * const [, client] = await createConnection(() => new Client(), "127.0.0.1", port, options);
 * assertInstanceOf(await client.lost.promise, Deno.errors.TimedOut);
 * server.closeClients();
 * ```
 */
export interface IdleTimeoutOptions {
  /**
   * Closes the connection once no byte has moved over its socket, in either
   * direction, for this many milliseconds: the transport is aborted (its
   * write buffer dropped) and `connectionLost` receives a
   * `Deno.errors.TimedOut` whose message names the timeout. It is checked a
   * quarter of the timeout at a time, so the silence before the abort is
   * at least the timeout and at most a quarter longer. Only bytes the
   * socket reads or writes count: a buffer the peer does not read is no
   * activity, and neither is a protocol that paused reading (the clock keeps
   * running). On a TLS connection (`startTls`, or a `Deno.TlsConn` handed
   * over, or `tls`) the encrypted bytes count.
   *
   * @default {undefined}
   */
  idleTimeout?: number;
}

/**
 * Limits of a server: how many connections it serves at once, and how long
 * each may stay silent.
 *
 * @example A streams server that serves 100 clients at most, none silent for a minute
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import type { ServerLimitOptions } from "@aio/net/protocol";
 * import { openConnection, startServer } from "@aio/net/streams";
 *
 * const limits: ServerLimitOptions = { maxConnections: 100, idleTimeout: 60_000 };
 * await using server = await startServer(async (reader, writer) => {
 *   writer.write(await reader.readline());
 *   writer.close();
 * }, "127.0.0.1", 0, limits);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [reader, writer] = await openConnection("127.0.0.1", port);
 * writer.write(new TextEncoder().encode("hi\n"));
 * assertEquals(new TextDecoder().decode(await reader.readline()), "hi\n");
 * assertEquals(server.refusedCount, 0);
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export interface ServerLimitOptions extends IdleTimeoutOptions {
  /**
   * The most connections served at once, TLS ones in their handshake
   * included (Node's `server.maxConnections`). A connection beyond it is
   * accepted and closed at once, without a protocol, and counted in
   * `server.refusedCount`; new connections are served again as soon as
   * open ones end. A warning is logged when the server starts refusing,
   * once until it has room again.
   *
   * @default {undefined}
   */
  maxConnections?: number;
}

/** Options of `createConnection` and `openConnection` to a host and port. */
export interface ConnectOptions
  extends SocketOptions, TlsTimeoutOptions, IdleTimeoutOptions {
  /**
   * Aborts a pending connect (and TLS handshake): the returned promise
   * rejects with `signal.reason`. It has no effect once the connection is
   * made.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Speak TLS from the start: the TLS engine (`node:tls`) runs its handshake
   * over the new TCP connection, and `connectionMade` comes after it.
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions;
}

/**
 * Options of `createConnection` and `openConnection` over a connection made
 * elsewhere (asyncio's `create_connection(sock=…)`): the client's side.
 */
export interface SocketConnectOptions
  extends SocketOptions, TlsTimeoutOptions, IdleTimeoutOptions {
  /** The connection to run on: a `Deno.TcpConn`, `Deno.UnixConn` or `Deno.TlsConn`. */
  conn: Deno.Conn;
  /**
   * Aborts the TLS handshake, if there is one.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Start TLS, the client's side, over a plain `conn` (not a `Deno.TlsConn`).
   * `serverHostname` defaults to the peer's address; a Unix socket has
   * none, so it is required there (without it, a `TypeError`, and `conn`
   * is closed).
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions;
}

/**
 * Options of `connectAcceptedSocket` and `openAcceptedConnection`: a
 * connection accepted elsewhere, the server's side.
 */
export interface AcceptedSocketOptions
  extends SocketOptions, TlsTimeoutOptions, IdleTimeoutOptions {
  /**
   * Aborts the TLS handshake, if there is one.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Start TLS, the server's side, over a plain `conn` (not a `Deno.TlsConn`).
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/** Options of `createServer` and `startServer`. */
export interface ServerOptions
  extends SocketOptions, TlsTimeoutOptions, ServerLimitOptions {
  /**
   * The listen queue length (`tcpBacklog` in Deno).
   *
   * @default {511}
   */
  backlog?: number;
  /**
   * Sets `SO_REUSEPORT` on the listeners (Linux). Deno 2.9 allows it only
   * with its `--unstable-net` flag (and ends the process otherwise), so
   * without the flag this fails with `Deno.errors.NotSupported` instead.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Start accepting at once. With `false`, call `startServing()` or
   * `serveForever()` later.
   *
   * @default {true}
   */
  startServing?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Accept TLS: connections are accepted as plain TCP and the TLS engine
   * (`node:tls`) runs the server's side of the handshake over each; the
   * protocol is made after it.
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/** Options of the streams API. */
export interface StreamOptions {
  /**
   * The reader's buffer limit in bytes: `readline`/`readuntil` fail beyond
   * it, and the transport stops reading while the reader holds more than
   * twice this much.
   *
   * @default {65536}
   */
  limit?: number;
}

/** Options of a `StreamReader` made directly: the same `limit` as {@linkcode StreamOptions}. */
export type StreamReaderOptions = StreamOptions;

/** Options of a wait that can be cancelled. */
export interface WaitOptions {
  /**
   * Aborts the wait: the call rejects with `signal.reason`. A reader's
   * buffered bytes stay readable.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}

/** Options of a read: the same `signal` as {@linkcode WaitOptions}. */
export type ReadOptions = WaitOptions;

/** Options of `createUnixServer` and `startUnixServer`. */
export interface UnixServerOptions
  extends TlsTimeoutOptions, ServerLimitOptions {
  /**
   * The listen queue length. Deno does not expose it for Unix sockets, so it
   * is checked but not applied (the system default is used).
   *
   * @default {undefined}
   */
  backlog?: number;
  /**
   * Start accepting at once. With `false`, call `startServing()` or
   * `serveForever()` later.
   *
   * @default {true}
   */
  startServing?: boolean;
  /**
   * Closes the server when aborted, as `server.close()`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Accept TLS over the Unix socket, as a TCP server does: the TLS engine
   * runs the server's side of the handshake over each connection, and the
   * protocol is made after it.
   *
   * @default {undefined}
   */
  tls?: TlsListenOptions;
}

/** Options of `createUnixConnection` and `openUnixConnection`. */
export interface UnixConnectOptions
  extends TlsTimeoutOptions, IdleTimeoutOptions {
  /**
   * Aborts a pending connect (and TLS handshake): the promise rejects with
   * `signal.reason`.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Speak TLS from the start, as over TCP. A Unix socket has no host name
   * to check the server's certificate against, so `serverHostname` is
   * required (a `TypeError` before connecting without it).
   *
   * @default {undefined}
   */
  tls?: TlsConnectOptions & { serverHostname: string };
}

/**
 * A UDP address: an IP address or a host name, and a port. A `Deno.NetAddr`
 * is one too (its `transport` is ignored), so the `addr` that
 * `datagramReceived` gets and the `sockname` of an endpoint can be passed
 * back as they are.
 *
 * @example An endpoint's sockname is an address to send to
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol, type DatagramAddress } from "@aio/net/datagram";
 *
 * class Inbox extends DatagramProtocol {
 *   readonly got = Promise.withResolvers<string>();
 *   readonly lost = Promise.withResolvers<void>();
 *   override datagramReceived(data: Uint8Array): void {
 *     this.got.resolve(new TextDecoder().decode(data));
 *   }
 *   override connectionLost(): void {
 *     this.lost.resolve();
 *   }
 * }
 * const local: DatagramAddress = { hostname: "127.0.0.1", port: 0 };
 * const [receiver, inbox] = await createDatagramEndpoint(() => new Inbox(), { localAddr: local });
 * const [sender, outbox] = await createDatagramEndpoint(() => new Inbox(), { localAddr: local });
 * sender.sendto(new TextEncoder().encode("hi"), receiver.getExtraInfo("sockname") as Deno.NetAddr);
 * assertEquals(await inbox.got.promise, "hi");
 * receiver.close();
 * sender.close();
 * await Promise.all([inbox.lost.promise, outbox.lost.promise]);
 * ```
 */
export interface DatagramAddress {
  /** An IPv4 or IPv6 address, or a host name to resolve. */
  hostname: string;
  /** The port, 0 to 65535 (0 picks a free one when binding). */
  port: number;
}

/**
 * The address families a datagram endpoint can have: asyncio's `family`.
 *
 * @example Bind a host name in one family
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol, type DatagramFamily } from "@aio/net/datagram";
 *
 * const family: DatagramFamily = "ipv4";
 * const lost = Promise.withResolvers<void>();
 * class Quiet extends DatagramProtocol {
 *   override connectionLost(): void {
 *     lost.resolve();
 *   }
 * }
 * const [transport] = await createDatagramEndpoint(() => new Quiet(), {
 *   localAddr: { hostname: "localhost", port: 0 },
 *   family,
 * });
 * assertEquals((transport.getExtraInfo("sockname") as Deno.NetAddr).hostname, "127.0.0.1");
 * transport.close();
 * await lost.promise;
 * ```
 */
export type DatagramFamily = "ipv4" | "ipv6";

/**
 * Options of `createDatagramEndpoint`: asyncio's `create_datagram_endpoint`
 * arguments.
 *
 * @example A connected endpoint hears only its peer
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createDatagramEndpoint, DatagramProtocol, type DatagramEndpointOptions } from "@aio/net/datagram";
 *
 * class Inbox extends DatagramProtocol {
 *   readonly texts: string[] = [];
 *   readonly got = Promise.withResolvers<void>();
 *   readonly lost = Promise.withResolvers<void>();
 *   override datagramReceived(data: Uint8Array): void {
 *     this.texts.push(new TextDecoder().decode(data));
 *     this.got.resolve();
 *   }
 *   override connectionLost(): void {
 *     this.lost.resolve();
 *   }
 * }
 * const here = { localAddr: { hostname: "127.0.0.1", port: 0 } };
 * const [peer, peerInbox] = await createDatagramEndpoint(() => new Inbox(), here);
 * const [stranger, strangerInbox] = await createDatagramEndpoint(() => new Inbox(), here);
 * const options: DatagramEndpointOptions = {
 *   ...here,
 *   remoteAddr: peer.getExtraInfo("sockname") as Deno.NetAddr,
 * };
 * const [client, inbox] = await createDatagramEndpoint(() => new Inbox(), options);
 * const clientAddr = client.getExtraInfo("sockname") as Deno.NetAddr;
 * stranger.sendto(new TextEncoder().encode("from a stranger"), clientAddr);
 * stranger.sendto(new TextEncoder().encode("to the peer"), options.remoteAddr!);
 * await peerInbox.got.promise; // the stranger's first datagram went out before
 * peer.sendto(new TextEncoder().encode("from the peer"), clientAddr);
 * await inbox.got.promise;
 * assertEquals(inbox.texts, ["from the peer"]);
 * for (const t of [peer, stranger, client]) t.close();
 * await Promise.all([peerInbox, strangerInbox, inbox].map((p) => p.lost.promise));
 * ```
 */
export interface DatagramEndpointOptions {
  /**
   * Where to bind: asyncio's `local_addr`. Port 0 picks a free port. Left
   * out, the endpoint binds a free port on every interface of its family
   * (`0.0.0.0` or `::`), as the operating system does for a socket that
   * sends without binding.
   *
   * @default {undefined}
   */
  localAddr?: DatagramAddress;
  /**
   * The peer: asyncio's `remote_addr`. The endpoint is then connected:
   * `sendto(data)` sends there (and `sendto` with an address throws), and
   * datagrams from any other address are dropped. With `allowBroadcast`,
   * as in asyncio, the endpoint is not connected: `remoteAddr` is only
   * where `sendto(data)` sends (a broadcast address, say), and datagrams
   * from anywhere are delivered.
   *
   * @default {undefined}
   */
  remoteAddr?: DatagramAddress;
  /**
   * The address family. Left out, it is the family of `localAddr`, else of
   * `remoteAddr` (host names are resolved to find it). One of `localAddr`,
   * `remoteAddr` and `family` must be given.
   *
   * @default {undefined}
   */
  family?: DatagramFamily;
  /**
   * Sets `SO_REUSEADDR` before binding, so that other sockets with this
   * option can bind the same address and port. On Linux only one of them
   * gets each unicast datagram (the one bound last, in our measurements),
   * so another process can take a port's traffic: asyncio dropped this
   * option for that reason. Use it only where every socket on the port is
   * yours (multicast receivers, say).
   *
   * @default {false}
   */
  reuseAddr?: boolean;
  /**
   * `SO_REUSEPORT` (asyncio's `reuse_port`). Deno 2.9 cannot set it on a
   * UDP socket (`node:dgram` and `Deno.listenDatagram` both ignore it), so
   * `true` is refused with a `RangeError` rather than ignored, as asyncio
   * refuses it where the platform lacks it.
   *
   * @default {false}
   */
  reusePort?: boolean;
  /**
   * Sets `SO_BROADCAST`, which sending to a broadcast address needs
   * (asyncio's `allow_broadcast`). Without it such a send fails with
   * `errorReceived(Deno.errors.PermissionDenied)`.
   *
   * @default {false}
   */
  allowBroadcast?: boolean;
  /**
   * Aborts the creation (name resolution, binding): the promise rejects
   * with `signal.reason` and the socket is closed. It has no effect once
   * the endpoint is made.
   *
   * @default {undefined}
   */
  signal?: AbortSignal;
}
