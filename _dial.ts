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
import { loadTlsEngine, openTls } from "./_tls.ts";
import {
  type BaseTransport,
  closeQuietly,
  makeProtocol,
  SocketTransport,
} from "./_transport.ts";

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
  dial: (signal: AbortSignal | undefined) => Promise<BaseTransport>,
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
 * when asked (the TLS engine's handshake, which `signal` also aborts).
 */
async function dialTcp(
  host: string,
  port: number,
  opts: ConnectOptions,
  signal: AbortSignal | undefined,
): Promise<BaseTransport> {
  if (opts.tls) await loadTlsEngine();
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
  if (opts.tls === undefined) return new SocketTransport(conn, null, { host });
  const transport = openTls(conn, {
    ...opts,
    ...opts.tls,
    serverSide: false,
    serverHostname: opts.tls.serverHostname ?? host,
  });
  await transport.handshake(signal);
  return transport;
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
    async () =>
      new SocketTransport(
        await Deno.connect({ transport: "unix", path }),
        null,
      ),
    signal,
  );
}
