// Copyright 2026 the @aio/net authors. MIT license.
/**
 * What `/proc` shows of this process's descriptors and TCP sockets, for the
 * tests that check that nothing is left open; and glibc's `malloc_trim`, for
 * the tests that read this process's RSS.
 *
 * @module
 */

/** What `/proc` shows of this process's descriptors. */
export interface FdView {
  /** Open descriptors. */
  total: number;
  /** Of them, TCP sockets with a local or remote port in the given set. */
  onPorts: number;
}

/** Descriptor targets (`socket:[123]`, a path, ...) and the TCP socket tables. */
export async function readProc(): Promise<{ targets: string[]; tcp: string }> {
  try {
    const targets: string[] = [];
    for (const entry of Deno.readDirSync("/proc/self/fd")) {
      try {
        targets.push(Deno.readLinkSync(`/proc/self/fd/${entry.name}`));
      } catch {
        targets.push("?"); // the directory's own descriptor, closed meanwhile
      }
    }
    const tcp = ["/proc/net/tcp", "/proc/net/tcp6"].map((f) => {
      try {
        return Deno.readTextFileSync(f);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) return "";
        throw err;
      }
    }).join("\n");
    return { targets, tcp };
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
  }
  // Deno reads /proc only with --allow-all; a shell reads it for us with
  // --allow-run (as under `deno test`). The pipe to the shell adds the same
  // descriptors to every count.
  const script = `cd /proc/${Deno.pid}/fd && for f in *; do ` +
    `readlink "$f" || echo '?'; done; echo ====; ` +
    `cat /proc/net/tcp /proc/net/tcp6 2>/dev/null`;
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const [fds = "", tcp = ""] = new TextDecoder().decode(out.stdout).split(
    "====\n",
  );
  return { targets: fds.split("\n").filter((l) => l !== ""), tcp };
}

/** A TCP socket of the system's tables, by its ports and state. */
interface TcpSocket {
  local: number;
  remote: number;
  /** Hex state: `01` established, `0A` listening, … */
  state: string;
}

/**
 * How many of this process's descriptors are TCP sockets that `match`
 * accepts, and how many descriptors it has in all.
 */
async function countSockets(
  match: (socket: TcpSocket) => boolean,
): Promise<{ total: number; matching: number }> {
  const { targets, tcp } = await readProc();
  const inodes = new Set<string>();
  for (const line of tcp.split("\n")) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[0] === "sl") continue;
    const socket = {
      local: parseInt(cols[1]!.split(":")[1]!, 16),
      remote: parseInt(cols[2]!.split(":")[1]!, 16),
      state: cols[3]!,
    };
    // Inode 0: no descriptor holds it (TIME_WAIT).
    if (cols[9] !== "0" && match(socket)) inodes.add(cols[9]!);
  }
  const matching =
    targets.filter((t) => inodes.has(/^socket:\[(\d+)\]$/.exec(t)?.[1] ?? ""))
      .length;
  return { total: targets.length, matching };
}

/** Counts this process's descriptors, and those that are sockets on `ports`. */
export async function fdView(
  ports: ReadonlySet<number> = new Set(),
): Promise<FdView> {
  const { total, matching } = await countSockets((s) =>
    ports.has(s.local) || ports.has(s.remote)
  );
  return { total, onPorts: matching };
}

/**
 * How many of this process's descriptors are connected TCP sockets whose
 * local port is `port`: a server's side of its connections (not its
 * listener).
 */
export async function serverSockets(port: number): Promise<number> {
  return (await countSockets((s) => s.local === port && s.state !== "0A"))
    .matching;
}

/**
 * Hands the free pages inside glibc's malloc heap back to the system
 * (`malloc_trim(0)`, through FFI: `--allow-ffi`), so that RSS shows what is
 * in use rather than what the allocator keeps (its `free` returns only the
 * heap's free top).
 *
 * @returns Whether it ran: false without FFI, or where there is no glibc.
 */
export function mallocTrim(): boolean {
  let libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
  } catch {
    return false;
  }
  try {
    libc.symbols.malloc_trim(0n);
  } finally {
    libc.close();
  }
  return true;
}
