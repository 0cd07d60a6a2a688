// Copyright 2026 the @aio/net authors. MIT license.
/**
 * What every way of getting a connection shares, below the transport:
 * setting up its socket, closing it quietly, and making its protocol.
 *
 * @module
 */
import { checkFactoryResult } from "./_checks.ts";
import type { BaseProtocol } from "./_contract.ts";
import type { SocketOptions } from "./_options.ts";

/** Makes a connection's protocol with `protocolFactory`, checking what it returns. */
export function makeProtocol<P extends BaseProtocol>(
  protocolFactory: () => P,
): P {
  const protocol = protocolFactory();
  checkFactoryResult(protocol);
  return protocol;
}

/**
 * Sets up a TCP connection's socket: `TCP_NODELAY` unless `noDelay` is
 * false, `SO_KEEPALIVE` when `keepAlive`. Unix connections and a
 * `Deno.TlsConn` (which cannot) are left alone.
 */
export function setSocketOptions(conn: Deno.Conn, opts: SocketOptions): void {
  const tcp = conn as Partial<Deno.TcpConn>;
  if (conn.remoteAddr.transport !== "tcp" || !tcp.setNoDelay) return;
  if (opts.noDelay !== false) tcp.setNoDelay(true);
  if (opts.keepAlive) tcp.setKeepAlive!(true);
}

/** Closes a connection or listener, ignoring one that is already closed. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (err) {
    if (!(err instanceof Deno.errors.BadResource)) throw err;
  }
}
