// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Dialling: the client's side of every connection. {@linkcode connectTcp}
 * and {@linkcode connectUnix} differ only in how the `Deno.Conn` is
 * obtained; both then make the protocol and start the one socket
 * transport in {@linkcode openTransport}.
 *
 * @module
 */
import { isTlsConn, withAddress } from "./_checks.ts";
import type { BaseProtocol, Transport } from "./_contract.ts";
import type {
  AcceptedSocketOptions,
  ConnectOptions,
  SocketConnectOptions,
  TlsConnectOptions,
  TlsTimeoutOptions,
  UnixConnectOptions,
} from "./_options.ts";
import { abortable, withTimeout } from "./_signal.ts";
import {
  clientTlsSide,
  loadTlsEngine,
  openTls,
  serverTlsSide,
  TLS_HANDSHAKE_TIMEOUT,
  type TlsSide,
} from "./_tls.ts";
import {
  SocketTransport,
  type StreamTransport,
  unknownTls,
} from "./_transport.ts";
import { hostPort } from "./_address.ts";
import { closeQuietly, makeProtocol, setSocketOptions } from "./_conn.ts";

/**
 * Dials with `dial` (which resolves a transport not yet started, once it is
 * usable: a TLS one after its handshake), makes the protocol, calls
 * `connectionMade`. A connection that completes after `signal` aborted is
 * closed.
 *
 * @returns The transport and protocol, once `connectionMade` has run.
 */
async function openTransport<P extends BaseProtocol>(
  protocolFactory: () => P,
  dial: (signal: AbortSignal | undefined) => Promise<StreamTransport>,
  signal: AbortSignal | undefined,
): Promise<[Transport, P]> {
  signal?.throwIfAborted();
  const transport = await abortable(dial(signal), signal, {
    onLate: (late) => late.abort(),
  });
  let protocol: P;
  try {
    protocol = makeProtocol(protocolFactory);
  } catch (err) {
    transport.abort();
    throw err;
  }
  const failure = transport.start(protocol);
  if (failure) throw failure;
  return [transport, protocol];
}

/**
 * Dials TCP, with `TCP_NODELAY` unless told not to, then runs TLS over it
 * when asked (the TLS engine's handshake, which `signal` also aborts). The
 * TLS material is checked against the engine before dialling.
 */
async function dialTcp(
  host: string,
  port: number,
  opts: ConnectOptions,
  signal: AbortSignal | undefined,
): Promise<StreamTransport> {
  const side = opts.tls && await clientSide(opts, {
    ...opts.tls,
    serverHostname: opts.tls.serverHostname ?? host,
  });
  const conn = await Deno.connect({
    hostname: host,
    port,
    ...(signal ? { signal } : {}),
  }).catch((err) => {
    throw withAddress(err, `Cannot connect to ${hostPort(host, port)}`);
  });
  try {
    setSocketOptions(conn, opts);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
  if (side === undefined) {
    return new SocketTransport(conn, null, {
      host,
      idleTimeout: opts.idleTimeout,
    });
  }
  return await handshaken(conn, side, signal, opts.idleTimeout);
}

/**
 * Dials a Unix socket, then runs TLS over it when asked (`serverHostname`
 * is then given: there is no host name to default to).
 */
async function dialUnix(
  path: string,
  opts: UnixConnectOptions,
  signal: AbortSignal | undefined,
): Promise<StreamTransport> {
  const side = opts.tls && await clientSide(opts, opts.tls);
  const conn = await Deno.connect({ transport: "unix", path }).catch((err) => {
    throw withAddress(err, `Cannot connect to ${path}`);
  });
  if (side === undefined) {
    return new SocketTransport(conn, null, { idleTimeout: opts.idleTimeout });
  }
  return await handshaken(conn, side, signal, opts.idleTimeout);
}

/**
 * The client's side of TLS for `tls`, made once the engine is loaded.
 *
 * @throws {TypeError} If no name is known to check the certificate
 * against, or the client certificate and key do not parse or match.
 */
async function clientSide(
  timeouts: TlsTimeoutOptions,
  tls: TlsConnectOptions,
): Promise<TlsSide> {
  if (tls.serverHostname === undefined) {
    throw new TypeError(
      "options.tls.serverHostname is required: a Unix socket has no host name to check the server's certificate against",
    );
  }
  await loadTlsEngine();
  return clientTlsSide(tls, timeouts, tls.serverHostname);
}

/** Runs the TLS engine over `conn` and resolves once its handshake is done. */
async function handshaken(
  conn: Deno.Conn,
  side: TlsSide,
  signal: AbortSignal | undefined,
  idleTimeout: number | undefined,
): Promise<StreamTransport> {
  const transport = openTls(conn, side, undefined, idleTimeout);
  await transport.handshake(signal);
  return transport;
}

/**
 * Takes over a connection made elsewhere: sets up its socket, finishes the
 * handshake of a `Deno.TlsConn`, or runs the TLS engine over a plain one
 * when asked (the client's or the server's side). The connection is the
 * call's: every failure closes it.
 */
async function adopt(
  conn: Deno.Conn,
  opts: SocketConnectOptions | AcceptedSocketOptions,
  serverSide: boolean,
  signal: AbortSignal | undefined,
): Promise<StreamTransport> {
  try {
    setSocketOptions(conn, opts);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
  if (isTlsConn(conn)) {
    // Deno's own TLS: its handshake may be done already, or not.
    const info = await withTimeout(
      conn.handshake(),
      opts.tlsHandshakeTimeout ?? TLS_HANDSHAKE_TIMEOUT,
      "TLS handshake",
      () => closeQuietly(conn),
    ).catch((err) => {
      closeQuietly(conn);
      throw err;
    });
    return new SocketTransport(conn, null, {
      tls: unknownTls(info.alpnProtocol),
      idleTimeout: opts.idleTimeout,
    });
  }
  if (opts.tls === undefined) {
    return new SocketTransport(conn, null, { idleTimeout: opts.idleTimeout });
  }
  let side: TlsSide;
  try {
    if (serverSide) {
      side = (await serverTlsSide(opts as AcceptedSocketOptions))!;
    } else {
      const tls = (opts as SocketConnectOptions).tls!;
      const peer = conn.remoteAddr;
      side = await clientSide(
        opts,
        tls.serverHostname !== undefined || peer.transport !== "tcp"
          ? tls
          : { ...tls, serverHostname: peer.hostname },
      );
    }
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
  return await handshaken(conn, side, signal, opts.idleTimeout);
}

/**
 * Opens a TCP (or TLS) connection to `host:port` and runs a protocol on it:
 * the body of `createConnection`. Arguments are checked already.
 */
export function connectTcp<P extends BaseProtocol>(
  protocolFactory: () => P,
  host: string,
  port: number,
  opts: ConnectOptions,
): Promise<[Transport, P]> {
  return openTransport(
    protocolFactory,
    (signal) => dialTcp(host, port, opts, signal),
    opts.signal,
  );
}

/**
 * Opens a Unix socket connection (or TLS over one) to `path` and runs a
 * protocol on it: the body of `createUnixConnection`. Arguments are
 * checked already.
 */
export function connectUnix<P extends BaseProtocol>(
  protocolFactory: () => P,
  path: string,
  opts: UnixConnectOptions,
): Promise<[Transport, P]> {
  return openTransport(
    protocolFactory,
    (signal) => dialUnix(path, opts, signal),
    opts.signal,
  );
}

/**
 * Runs a protocol over a connection made elsewhere: the body of
 * `createConnection({ conn })` (the client's side) and of
 * `connectAcceptedSocket` (the server's). Arguments are checked already.
 */
export function connectConn<P extends BaseProtocol>(
  protocolFactory: () => P,
  conn: Deno.Conn,
  opts: SocketConnectOptions | AcceptedSocketOptions,
  serverSide: boolean,
): Promise<[Transport, P]> {
  if (opts.signal?.aborted) {
    closeQuietly(conn); // it was handed over: nothing else will close it
    return Promise.reject(opts.signal.reason);
  }
  return openTransport(
    protocolFactory,
    (signal) => adopt(conn, opts, serverSide, signal),
    opts.signal,
  );
}
