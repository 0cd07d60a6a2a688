// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Binding: turns a server's address into listening sockets, TCP and Unix
 * side by side (a TLS server listens on plain TCP: its connections run the
 * TLS engine of `_tls.ts` once accepted). What comes out is a list of `Deno.Listener`s
 * and what to do once they are closed; the `Server` takes it from there.
 *
 * @module
 */
import { withAddress } from "./_checks.ts";
import type { ServerOptions } from "./_options.ts";
import { hostPort } from "./_address.ts";
import { closeQuietly } from "./_conn.ts";

/** Bound listeners, and what to do around their closing. */
export interface Bound {
  listeners: Deno.Listener[];
  /** Runs when the server closes, just before its listeners are closed. */
  beforeClose?: () => void;
  /** Runs once the listeners are really closed (their accept loops ended). */
  afterClose?: () => void;
}

// ---- TCP ---------------------------------------------------------------------

/** The addresses "localhost" stands for. */
const LOCALHOST = ["127.0.0.1", "::1"];

/** Whether an error says the machine has no such address (no IPv6). */
function isAddrNotAvailable(err: unknown): boolean {
  return err instanceof Deno.errors.AddrNotAvailable ||
    (err instanceof Error &&
      /address not available|cannot assign requested address|address family not supported/i
        .test(err.message));
}

/**
 * Whether Deno runs with `--unstable-net` (then, and only then, it has
 * `Deno.listenDatagram`).
 */
function hasUnstableNet(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram ===
    "function";
}

/** Binds one TCP listener. */
function bindOne(
  hostname: string,
  port: number,
  opts: ServerOptions,
): Deno.Listener {
  if (opts.reusePort && !hasUnstableNet()) {
    // Deno 2.9 would not throw: it ends the whole process (exit code 70).
    throw new Deno.errors.NotSupported(
      "Cannot listen with reusePort: Deno allows SO_REUSEPORT only with its --unstable-net flag",
    );
  }
  try {
    return Deno.listen({
      hostname,
      port,
      transport: "tcp",
      ...(opts.reusePort !== undefined ? { reusePort: opts.reusePort } : {}),
      ...(opts.backlog !== undefined ? { tcpBacklog: opts.backlog } : {}),
    });
  } catch (err) {
    throw withAddress(err, `Cannot listen on ${hostPort(hostname, port)}`);
  }
}

/**
 * Binds every address `host` names on `port` (the same port for all, when
 * `port` is 0), all or none.
 */
function bindAll(
  host: string | string[] | undefined,
  port: number,
  opts: ServerOptions,
): Deno.Listener[] {
  if (host === undefined) {
    // Every interface: one dual-stack listener, or IPv4 alone without IPv6.
    try {
      return [bindOne("::", port, opts)];
    } catch (err) {
      if (!isAddrNotAvailable(err)) throw err;
      return [bindOne("0.0.0.0", port, opts)];
    }
  }
  const names = [
    ...new Set(
      (Array.isArray(host) ? host : [host]).flatMap((h) =>
        h === "localhost" ? LOCALHOST : [h]
      ),
    ),
  ];
  if (names.length === 0) {
    throw new RangeError(
      "host must name at least one address, got an empty list",
    );
  }
  const listeners: Deno.Listener[] = [];
  try {
    let bound = port;
    for (const name of names) {
      let listener: Deno.Listener;
      try {
        listener = bindOne(name, bound, opts);
      } catch (err) {
        // "localhost" on a machine without IPv6: bind what there is.
        if (name === "::1" && listeners.length > 0 && isAddrNotAvailable(err)) {
          continue;
        }
        throw err;
      }
      listeners.push(listener);
      bound = (listener.addr as Deno.NetAddr).port;
    }
  } catch (err) {
    listeners.forEach(closeQuietly);
    throw err;
  }
  return listeners;
}

/**
 * Binds a TCP server's listeners: every address `host` names
 * (`"localhost"` is 127.0.0.1 and ::1; none is every interface), all on one
 * port, all or none.
 */
export function bindTcp(
  host: string | string[] | undefined,
  port: number,
  opts: ServerOptions,
): Bound {
  // With port 0 and several addresses, the port picked by the first may be
  // taken on another: try again with a fresh one.
  for (let attempt = 0;; attempt++) {
    try {
      return { listeners: bindAll(host, port, opts) };
    } catch (err) {
      if (
        port !== 0 || attempt >= 4 || !(err instanceof Deno.errors.AddrInUse)
      ) throw err;
    }
  }
}

// ---- Unix --------------------------------------------------------------------

/** Whether something accepts connections at the socket file `path`. */
async function isLive(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch (err) {
    if (
      err instanceof Deno.errors.ConnectionRefused ||
      err instanceof Deno.errors.NotFound
    ) return false;
    throw err;
  }
}

/**
 * Makes `path` free to bind: removes a stale socket file, refuses a live one
 * or anything that is not a socket.
 */
async function clearPath(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `Cannot listen on ${path}: the path exists and is not a socket`,
    );
  }
  if (await isLive(path)) {
    throw new Deno.errors.AddrInUse(
      `Cannot listen on ${path}: a server is accepting connections there`,
    );
  }
  await Deno.remove(path);
}

/** Whether `path` still holds the file with inode `ino` (the one bound). */
function holds(path: string, ino: number | null): boolean {
  try {
    return Deno.lstatSync(path).ino === ino;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

/**
 * Binds a Unix socket at `path`, replacing a stale socket file. The socket
 * file goes when the listener is closed, but only if it is still the one
 * bound.
 *
 * Deno itself unlinks the path when it drops the listener (a tick after
 * `close()` when an accept was pending), whatever file is there by then. So
 * a file that replaced ours is moved aside just before the listener closes
 * and put back once it is gone.
 */
export async function bindUnix(path: string): Promise<Bound> {
  await clearPath(path);
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (err) {
    throw withAddress(err, `Cannot listen on ${path}`);
  }
  let ino: number | null;
  try {
    ino = Deno.lstatSync(path).ino;
  } catch (err) {
    listener.close();
    throw err;
  }
  let aside: string | null = null;
  const beforeClose = () => {
    if (holds(path, ino)) return;
    try {
      const spare = `${path}.aio-net-${crypto.randomUUID().slice(0, 8)}`;
      Deno.renameSync(path, spare);
      aside = spare;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  };
  const afterClose = () => {
    if (aside !== null) {
      // Put it back at `path`. A hard link, unlike a rename, fails
      // (AlreadyExists) rather than replace a file that took the path
      // meanwhile; the server then logs that error and the moved file stays
      // at `aside`.
      Deno.linkSync(aside, path);
      Deno.removeSync(aside);
    } else if (holds(path, ino)) {
      Deno.removeSync(path); // Deno did not remove it
    }
  };
  return { listeners: [listener], beforeClose, afterClose };
}
