// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The client side shared by every connect function: dial, make the protocol,
 * start the transport. TCP, TLS and Unix differ only in the dial function.
 *
 * @module
 */
import { SocketTransport } from "./_transport.ts";
import { describe } from "./_validate.ts";
import type { BaseProtocol, TlsConnectOptions, Transport } from "./protocol.ts";

/** A dialled connection, and its TLS handshake result when it is TLS. */
export interface Dialled {
  conn: Deno.Conn;
  tls?: { alpnProtocol: string | null };
  /** The host name dialled, the default name for a later `startTls`. */
  host?: string;
}

/** Dials a connection, honouring `signal`. */
export type ConnectFn = (signal: AbortSignal | undefined) => Promise<Dialled>;

/** Throws `TypeError` unless a protocol factory returned an object. */
export function checkProtocol(
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

/**
 * Settles as `promise` does, or rejects with `signal.reason` if `signal`
 * aborts first; `onLate` then receives a value that arrives too late.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onLate?: (value: T) => void,
): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    if (onLate) promise.then(onLate, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) onLate?.(value);
        else resolve(value);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        if (!signal.aborted) reject(err);
      },
    );
  });
}

/** Completes the TLS handshake on `conn`, closing it on failure. */
export async function handshake(conn: Deno.TlsConn): Promise<Dialled> {
  try {
    const info = await conn.handshake();
    return { conn, tls: { alpnProtocol: info.alpnProtocol } };
  } catch (err) {
    try {
      conn.close();
    } catch { /* already closed */ }
    throw err;
  }
}

/** The `Deno.startTls`/`Deno.connectTls` options for a client. */
export function tlsClientOptions(tls: TlsConnectOptions): Deno.StartTlsOptions {
  const out: Deno.StartTlsOptions = {};
  if (tls.caCerts !== undefined) out.caCerts = tls.caCerts;
  if (tls.alpnProtocols !== undefined) out.alpnProtocols = tls.alpnProtocols;
  return out;
}

/**
 * Dials with `connect`, makes the protocol, calls `connectionMade`.
 *
 * @returns The transport and protocol, once `connectionMade` has run.
 */
export async function openTransport<P extends BaseProtocol>(
  protocolFactory: () => P,
  connect: ConnectFn,
  signal: AbortSignal | undefined,
): Promise<[Transport, P]> {
  signal?.throwIfAborted();
  const dialled = await abortable(
    connect(signal),
    signal,
    (late) => late.conn.close(),
  );
  let protocol: P;
  try {
    protocol = protocolFactory();
    checkProtocol(protocol);
  } catch (err) {
    dialled.conn.close();
    throw err;
  }
  const transport = new SocketTransport(dialled.conn, protocol, {
    ...(dialled.tls ? { tls: dialled.tls } : {}),
    ...(dialled.host !== undefined ? { host: dialled.host } : {}),
  });
  const failure = transport.start();
  if (failure) throw failure;
  return [transport, protocol];
}
