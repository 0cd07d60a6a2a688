// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Dialling: the client's side of every connection. {@linkcode connectTcp}
 * and {@linkcode connectUnix} differ only in how the `Deno.Conn` is
 * obtained; both then make the protocol and start the one socket
 * transport in {@linkcode openTransport}.
 *
 * @module
 */
import type { BaseProtocol, ConnectOptions, Transport } from "./_contract.ts";
import { abortable } from "./_signal.ts";
import { startClientTls } from "./_tls.ts";
import {
  closeQuietly,
  makeProtocol,
  SocketTransport,
  type TransportInit,
} from "./_transport.ts";

/** A dialled connection, and what its transport needs to know about it. */
interface Dialled {
  conn: Deno.Conn;
  init: TransportInit;
}

/**
 * Dials with `dial`, makes the protocol, calls `connectionMade`. A
 * connection that completes after `signal` aborted is closed.
 *
 * @returns The transport and protocol, once `connectionMade` has run.
 */
async function openTransport<P extends BaseProtocol>(
  protocolFactory: () => P,
  dial: (signal: AbortSignal | undefined) => Promise<Dialled>,
  signal: AbortSignal | undefined,
): Promise<[Transport, P]> {
  signal?.throwIfAborted();
  const { conn, init } = await abortable(dial(signal), signal, {
    onLate: (late) => closeQuietly(late.conn),
  });
  const protocol = makeProtocol(protocolFactory, conn);
  const transport = new SocketTransport(conn, protocol, init);
  const failure = transport.start();
  if (failure) throw failure;
  return [transport, protocol];
}

/**
 * Dials TCP, or TLS when asked: TLS is started over the plain connection
 * before anything reads from it, so that `TCP_NODELAY` is set on the
 * socket first.
 */
async function dialTcp(
  host: string,
  port: number,
  opts: ConnectOptions,
  signal: AbortSignal | undefined,
): Promise<Dialled> {
  const conn = await Deno.connect({
    hostname: host,
    port,
    ...(signal ? { signal } : {}),
  });
  try {
    if (opts.noDelay !== false) conn.setNoDelay(true);
  } catch (err) {
    closeQuietly(conn);
    throw err;
  }
  if (opts.tls === undefined) return { conn, init: { host } };
  const [tlsConn, tls] = await startClientTls(conn, host, opts.tls);
  return { conn: tlsConn, init: { host, tls } };
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
 * Opens a Unix socket connection to `path` and runs a protocol on it: the
 * body of `createUnixConnection`. Arguments are checked already.
 */
export function connectUnix<P extends BaseProtocol>(
  protocolFactory: () => P,
  path: string,
  signal: AbortSignal | undefined,
): Promise<[Transport, P]> {
  return openTransport(
    protocolFactory,
    async () => ({
      conn: await Deno.connect({ transport: "unix", path }),
      init: {},
    }),
    signal,
  );
}
