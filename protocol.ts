// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Transports and protocols: asyncio's callback API (`loop.create_server`,
 * `loop.create_connection`, `asyncio.Protocol`) over Deno's TCP sockets.
 *
 * A protocol is an object whose methods the transport calls as things happen
 * on the connection; the transport is what the protocol calls to write, close
 * and control flow.
 *
 * @example Echo server and client
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol, type Transport } from "@aio/net/protocol";
 *
 * class Echo extends Protocol {
 *   #transport?: Transport;
 *   override connectionMade(transport: Transport): void {
 *     this.#transport = transport;
 *   }
 *   override dataReceived(data: Uint8Array): void {
 *     this.#transport!.write(data);
 *   }
 * }
 *
 * class Client extends Protocol {
 *   readonly reply = Promise.withResolvers<string>();
 *   override dataReceived(data: Uint8Array): void {
 *     this.reply.resolve(new TextDecoder().decode(data));
 *   }
 * }
 *
 * await using server = await createServer(() => new Echo(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * transport.write(new TextEncoder().encode("hello"));
 * assertEquals(await client.reply.promise, "hello");
 * transport.close();
 * ```
 *
 * @module
 */
import {
  checkAcceptedSocketOptions,
  checkConn,
  checkConnectOptions,
  checkFunction,
  checkHosts,
  checkPort,
  checkProtocolObject,
  checkServerOptions,
  checkSocketConnectOptions,
  checkString,
  checkTransport,
} from "./_checks.ts";
import type { BaseProtocol, Transport } from "./_contract.ts";
import type {
  AcceptedSocketOptions,
  ConnectOptions,
  ServerOptions,
  SocketConnectOptions,
  StartTlsOptions,
} from "./_options.ts";
import { connectConn, connectTcp } from "./_dial.ts";
import { listenTcp, type Server } from "./_server.ts";
import { startTlsOn } from "./_tls.ts";
import { closeQuietly } from "./_conn.ts";

export {
  BaseProtocol,
  type BaseTransport,
  BufferedProtocol,
  type ExceptionContext,
  type ExceptionHandler,
  Protocol,
  type Transport,
} from "./_contract.ts";
export {
  type AcceptedSocketOptions,
  type ConnectOptions,
  type IdleTimeoutOptions,
  type ServerLimitOptions,
  type ServerOptions,
  type SocketConnectOptions,
  type SocketOptions,
  type StartTlsOptions,
  type TlsCertifiedKey,
  type TlsConnectOptions,
  type TlsListenOptions,
  type TlsTimeoutOptions,
} from "./_options.ts";
export { Server } from "./_server.ts";
export {
  defaultExceptionHandler,
  getExceptionHandler,
  setExceptionHandler,
} from "./_log.ts";

/**
 * Runs the checks of a call that takes over `conn`: a connection handed
 * over is ours from then on, so when a check throws, it is closed (when it
 * is a `Deno.Conn` at all) rather than leaked.
 */
function adopting<T>(conn: unknown, check: () => T): T {
  try {
    return check();
  } catch (err) {
    try {
      checkConn(conn, "conn");
    } catch {
      throw err; // not a connection: nothing to close
    }
    closeQuietly(conn);
    throw err;
  }
}

/**
 * Opens a TCP connection to `host:port` and runs a protocol on it: asyncio's
 * `loop.create_connection`.
 *
 * @param protocolFactory Called once to make the connection's protocol.
 * @param host A host name or IP address.
 * @param port The port, 0 to 65535.
 * @param options Cancellation, `TCP_NODELAY`, TLS.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` is out of range.
 * @throws {Deno.errors.ConnectionRefused} If nobody listens there.
 *
 * @example Connect to a server and send a line
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol } from "@aio/net/protocol";
 *
 * const got = Promise.withResolvers<string>();
 * class Sink extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     got.resolve(new TextDecoder().decode(data));
 *   }
 * }
 * await using server = await createServer(() => new Sink(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const [transport] = await createConnection(() => new Protocol(), "127.0.0.1", port);
 * transport.write(new TextEncoder().encode("hi\n"));
 * assertEquals(await got.promise, "hi\n");
 * transport.close();
 * ```
 */
export function createConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  host: string,
  port: number,
  options?: ConnectOptions,
): Promise<[Transport, P]>;
/**
 * Runs a protocol on a connection made elsewhere (a `Deno.TcpConn`,
 * `Deno.UnixConn` or `Deno.TlsConn` from `Deno.connect`, another library,
 * …), the client's side: asyncio's `loop.create_connection(sock=…)`. The
 * connection is the transport's from then on, with the same flow control
 * and failure rules; `options.tls` starts TLS over a plain one.
 *
 * @param protocolFactory Called once to make the connection's protocol.
 * @param options `conn`, and the socket and TLS options.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If `options.conn` is not a `Deno.Conn`, or another
 * argument has the wrong type.
 *
 * @example Wrap a connection from Deno.connect
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, createServer, Protocol } from "@aio/net/protocol";
 *
 * const got = Promise.withResolvers<string>();
 * class Sink extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     got.resolve(new TextDecoder().decode(data));
 *   }
 * }
 * await using server = await createServer(() => new Sink(), "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port });
 * const [transport] = await createConnection(() => new Protocol(), { conn });
 * transport.write(new TextEncoder().encode("adopted\n"));
 * assertEquals(await got.promise, "adopted\n");
 * transport.close();
 * ```
 */
export function createConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  options: SocketConnectOptions,
): Promise<[Transport, P]>;
export function createConnection<P extends BaseProtocol>(
  protocolFactory: () => P,
  hostOrOptions: string | SocketConnectOptions,
  port?: number,
  options?: ConnectOptions,
): Promise<[Transport, P]> {
  try {
    checkFunction(protocolFactory, "protocolFactory");
    if (typeof hostOrOptions === "object" && hostOrOptions !== null) {
      const opts = adopting(
        hostOrOptions.conn,
        () => checkSocketConnectOptions(hostOrOptions),
      );
      return connectConn(protocolFactory, opts.conn, opts, false);
    }
    checkString(hostOrOptions, "host");
    checkPort(port);
    return connectTcp(
      protocolFactory,
      hostOrOptions,
      port,
      checkConnectOptions(options),
    );
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Runs a protocol on a connection accepted elsewhere (from a `Deno.listen`
 * loop of your own, say), the server's side: asyncio's
 * `loop.connect_accepted_socket`. The connection is the transport's from
 * then on, with the same flow control and failure rules; `options.tls`
 * runs the server's side of TLS over a plain one.
 *
 * @param protocolFactory Called once to make the connection's protocol.
 * @param conn A `Deno.TcpConn`, `Deno.UnixConn` or `Deno.TlsConn`.
 * @param options The socket and TLS options.
 * @returns The transport and protocol, once `connectionMade` has run.
 * @throws {TypeError} If `conn` is not a `Deno.Conn` (checked before anything
 * else happens), or another argument has the wrong type.
 *
 * @example Serve connections from your own accept loop
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { connectAcceptedSocket, Protocol, type Transport } from "@aio/net/protocol";
 *
 * class Greeter extends Protocol {
 *   override connectionMade(transport: Transport): void {
 *     transport.write(new TextEncoder().encode("hello"));
 *     transport.close();
 *   }
 * }
 * using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr as Deno.NetAddr;
 * const client = await Deno.connect({ hostname: "127.0.0.1", port });
 * const [transport] = await connectAcceptedSocket(() => new Greeter(), await listener.accept());
 * assertEquals(transport.isClosing(), true);
 * const buf = new Uint8Array(16);
 * assertEquals(new TextDecoder().decode(buf.subarray(0, (await client.read(buf))!)), "hello");
 * client.close();
 * ```
 */
export function connectAcceptedSocket<P extends BaseProtocol>(
  protocolFactory: () => P,
  conn: Deno.Conn,
  options?: AcceptedSocketOptions,
): Promise<[Transport, P]> {
  try {
    checkConn(conn, "conn");
    const opts = adopting(conn, () => {
      checkFunction(protocolFactory, "protocolFactory");
      return checkAcceptedSocketOptions(options, conn);
    });
    return connectConn(protocolFactory, conn, opts, true);
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Starts a TCP server running a protocol on each connection: asyncio's
 * `loop.create_server`.
 *
 * @param protocolFactory Called once per accepted connection.
 * @param host Where to listen: a host name, an IP address, or a list of them.
 * `"localhost"` binds 127.0.0.1 and ::1 (where the machine has IPv6);
 * omitted, every interface (one dual-stack `::` listener).
 * @param port The port; 0 picks a free one (read it back from `server.sockets`).
 * With several addresses, every listener gets the same port.
 * @param options Backlog, `SO_REUSEPORT`, `startServing`, TLS, a closing signal.
 * @returns The server, listening (and accepting unless `startServing: false`).
 * @throws {TypeError} If an argument has the wrong type.
 * @throws {RangeError} If `port` or `options.backlog` is out of range.
 * @throws {Deno.errors.AddrInUse} If the address is taken.
 *
 * @example Serve, then shut down with `await using`
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createServer, Protocol } from "@aio/net/protocol";
 *
 * await using server = await createServer(() => new Protocol(), "127.0.0.1", 0);
 * assertEquals(server.isServing(), true);
 * assertEquals((server.sockets[0]!.addr as Deno.NetAddr).hostname, "127.0.0.1");
 * ```
 */
export function createServer(
  protocolFactory: () => BaseProtocol,
  host?: string | string[],
  port?: number,
  options?: ServerOptions,
): Promise<Server> {
  try {
    checkFunction(protocolFactory, "protocolFactory");
    checkHosts(host);
    if (port !== undefined) checkPort(port);
    const opts = checkServerOptions(options);
    return Promise.resolve(
      listenTcp(protocolFactory, host ?? undefined, port ?? 0, opts),
    );
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Upgrades a plain connection to TLS in place (the STARTTLS pattern of SMTP,
 * IMAP or PostgreSQL): asyncio's `loop.start_tls`. From the call on, bytes
 * from the peer go to the TLS engine; the protocol is not told
 * `connectionMade` again, and its later callbacks come from the returned
 * transport, which encrypts what it is given. The old transport must not be
 * used any more.
 *
 * Call it right after the last plaintext exchange (on the server's side,
 * before awaiting anything after writing the go-ahead), so that no TLS bytes
 * reach the protocol as plaintext. The client's side checks the certificate
 * against `serverHostname`, by default the host name the connection was
 * opened with (or the peer's address).
 *
 * @param transport The plain transport.
 * @param protocol The protocol running on it.
 * @param options TLS options; `serverSide` with `cert` and `key` for the
 * server's side.
 * @returns The TLS transport, once the handshake is done.
 * @throws {TypeError} If an argument has the wrong type, or no host name is
 * known to check the certificate against.
 * @throws {Error} If the connection already speaks TLS or is closing, or the
 * handshake fails (with the TLS engine's error; the connection is then
 * closed and the protocol gets `connectionLost(err)`).
 *
 * @example Upgrade a client connection after a STARTTLS exchange
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { createConnection, Protocol, startTls } from "@aio/net/protocol";
 * import { startServer } from "@aio/net/streams";
 *
 * const dir = "tests/fixtures/tls/";
 * const cert = await Deno.readTextFile(dir + "server.pem");
 * const key = await Deno.readTextFile(dir + "server.key");
 * const ca = await Deno.readTextFile(dir + "ca.pem");
 * const enc = (text: string) => new TextEncoder().encode(text);
 *
 * // The server answers STARTTLS with OK, then speaks TLS and echoes a line.
 * await using server = await startServer(async (reader, writer) => {
 *   await reader.readline();
 *   writer.write(enc("OK\r\n"));
 *   await writer.startTls({ cert, key });
 *   writer.write(await reader.readline());
 *   await writer.drain();
 *   writer.close();
 * }, "127.0.0.1", 0);
 * const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 *
 * const ok = Promise.withResolvers<void>();
 * const echo = Promise.withResolvers<string>();
 * class Client extends Protocol {
 *   override dataReceived(data: Uint8Array): void {
 *     const text = new TextDecoder().decode(data);
 *     if (text === "OK\r\n") ok.resolve();
 *     else echo.resolve(text);
 *   }
 * }
 * const [plain, client] = await createConnection(() => new Client(), "127.0.0.1", port);
 * plain.write(enc("STARTTLS\r\n"));
 * await ok.promise;
 * const transport = await startTls(plain, client, { caCerts: [ca] });
 * transport.write(enc("hello\r\n"));
 * assertEquals(await echo.promise, "hello\r\n");
 * transport.close();
 * ```
 */
export function startTls(
  transport: Transport,
  protocol: BaseProtocol,
  options?: StartTlsOptions,
): Promise<Transport> {
  try {
    checkTransport(transport);
    checkProtocolObject(protocol, "protocol");
    return startTlsOn(transport, protocol, options, false);
  } catch (err) {
    return Promise.reject(err);
  }
}
