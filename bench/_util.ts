// Copyright 2026 the @aio/net authors. MIT license.
/** Shared pieces of the benchmark: its flags, child processes and memory readings. */

/** Options of `deno task bench`. */
export interface BenchFlags extends TimingFlags {
  quick: boolean;
  /** Run the flow-control and many-connection measurements (full mode). */
  extras: boolean;
  onlyExtras: boolean;
  connections: number;
  /** Connections of the memory-after-a-burst measurement. */
  burstConnections: number;
  /** Use the Deno load client even when gcc could build the C one. */
  denoClient: boolean;
  /** Run the TLS echo table. */
  tls: boolean;
  /** Run only the TLS echo table. */
  onlyTls: boolean;
  /** Run the UDP echo table (full mode). */
  udp: boolean;
  /** Pin servers to CPU 0 and the load client to CPU 1 (with `taskset`). */
  pin: boolean;
  /**
   * Another checkout of the repository (an older commit, say) whose aio
   * servers run as extra rows of the same run: a same-run A/B.
   */
  compare?: string;
  /**
   * Only these plain cells (`--cells 102400x10,1024x10`): a focused run,
   * printed, `results.md` left alone, no TLS, UDP or memory tables.
   */
  cells?: { size: number; conns: number }[];
}

/**
 * Parses `--quick`, `--rounds N`, `--duration S`, `--warmup S`,
 * `--no-extras`, `--only-extras`, `--connections N`,
 * `--burst-connections N`, `--deno-client`,
 * `--no-tls`, `--only-tls`, `--no-udp`, `--no-pin`, `--compare DIR`,
 * `--cells SIZExCONNS,...`. (`--extras` is accepted
 * and is the default outside `--quick`.)
 */
export function parseFlags(args: string[]): BenchFlags {
  const flags: BenchFlags = {
    quick: false,
    rounds: 3,
    duration: 2,
    warmup: 0.5,
    extras: true,
    onlyExtras: false,
    connections: 10000,
    burstConnections: 2000,
    denoClient: false,
    tls: true,
    onlyTls: false,
    udp: true,
    pin: true,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const taken = timingFlag(args, i, flags);
    if (taken !== -1) i = taken;
    else if (arg === "--quick") {
      Object.assign(flags, {
        quick: true,
        rounds: 1,
        duration: 0.5,
        warmup: 0.15,
        extras: false,
      });
    } else if (arg === "--extras") flags.extras = true;
    else if (arg === "--no-extras") flags.extras = false;
    else if (arg === "--only-extras") {
      Object.assign(flags, { extras: true, onlyExtras: true });
    } else if (arg === "--connections") {
      flags.connections = Math.ceil(positiveArg(args, ++i));
    } else if (arg === "--burst-connections") {
      flags.burstConnections = Math.ceil(positiveArg(args, ++i));
    } else if (arg === "--deno-client") flags.denoClient = true;
    else if (arg === "--no-tls") flags.tls = false;
    else if (arg === "--only-tls") flags.onlyTls = true;
    else if (arg === "--no-udp") flags.udp = false;
    else if (arg === "--no-pin") flags.pin = false;
    else if (arg === "--compare") {
      const dir = args[++i];
      if (!dir) throw new TypeError("--compare needs a directory");
      flags.compare = dir.replace(/\/+$/, "");
    } else if (arg === "--cells") {
      flags.cells = parseCells(args[++i]);
      Object.assign(flags, { tls: false, udp: false, extras: false });
    } else throw new TypeError(`Unknown flag ${arg}`);
  }
  if (flags.onlyTls && (flags.onlyExtras || !flags.tls)) {
    throw new TypeError(
      "--only-tls goes with neither --only-extras nor --no-tls",
    );
  }
  return flags;
}

/** `--cells SIZExCONNS,...`: the plain cells to run. */
function parseCells(
  arg: string | undefined,
): { size: number; conns: number }[] {
  const cells = (arg ?? "").split(",").map((cell) => {
    const m = /^(\d+)x(\d+)$/.exec(cell.trim());
    if (!m || Number(m[1]) <= 0 || Number(m[2]) <= 0) {
      throw new TypeError(
        `--cells needs SIZExCONNS[,SIZExCONNS...] (bytes x connections), got "${cell}"`,
      );
    }
    return { size: Number(m[1]), conns: Number(m[2]) };
  });
  return cells;
}

/** `args[i]` as a positive number, or a `TypeError` naming the flag before it. */
function positiveArg(args: string[], i: number): number {
  const value = Number(args[i]);
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${args[i - 1]} needs a positive number`);
  }
  return value;
}

/** The flags every benchmark runner takes: how long and how often to measure. */
export interface TimingFlags {
  rounds: number;
  duration: number;
  warmup: number;
}

/**
 * Reads `--rounds N`, `--duration S` or `--warmup S` at `args[i]` into
 * `flags`.
 *
 * @returns The index of the last argument taken, or -1 if `args[i]` is none
 * of these flags.
 */
export function timingFlag(
  args: string[],
  i: number,
  flags: TimingFlags,
): number {
  switch (args[i]) {
    case "--rounds":
      flags.rounds = Math.ceil(positiveArg(args, i + 1));
      return i + 1;
    case "--duration":
      flags.duration = positiveArg(args, i + 1);
      return i + 1;
    case "--warmup":
      flags.warmup = positiveArg(args, i + 1);
      return i + 1;
    default:
      return -1;
  }
}

/**
 * Runs a load client (`cmd`, arguments included) against `port` to the end
 * and parses the JSON it prints; rejects with its stderr if it fails, and
 * kills it after `timeoutSeconds`.
 */
export async function runLoadClient<T>(
  cmd: string[],
  port: number,
  timeoutSeconds: number,
): Promise<T> {
  const out = await new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutSeconds * 1000),
  }).output();
  if (!out.success) {
    throw new Error(
      `load client failed on port ${port}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const here = new URL(".", import.meta.url);
/** The path of a file under bench/. */
export const benchPath = (path: string): string => new URL(path, here).pathname;

/** A field of /proc/PID/status in KiB: current (VmRSS) or peak (VmHWM) resident memory. */
export function kib(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
}

/**
 * Whether `taskset` can pin processes to CPUs 0 and 1 here: then the servers
 * run on CPU 0 and the load client on CPU 1, so that the scheduler never puts
 * a server and the client on the same core, and every server gets the same
 * one core (its garbage collector's threads included).
 */
export const canPin: boolean = (() => {
  if (Deno.build.os !== "linux" || navigator.hardwareConcurrency < 2) {
    return false;
  }
  try {
    return new Deno.Command("taskset", { args: ["-c", "1", "true"] })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** `cmd` run on CPU `cpu` when `pin` is set and {@linkcode canPin}. */
export function pinned(cmd: string[], cpu: number, pin: boolean): string[] {
  return pin && canPin ? ["taskset", "-c", String(cpu), ...cmd] : cmd;
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** A child process whose stdout is read line by line. */
export interface LineChild {
  child: Deno.ChildProcess;
  /** The next stdout line; rejects if the process ends or `timeoutMs` passes first. */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Kills the process (SIGKILL) and waits for it. */
  stop(): Promise<void>;
}

/**
 * Spawns a command with a raised open-file limit (`ulimit -n 65536`, or the
 * hard limit) and reads its stdout by lines.
 */
export function spawnLines(
  cmd: string[],
  stdin: "piped" | "null" = "null",
): LineChild {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
      "bash",
      ...cmd,
    ],
    // No update check (as in the tests' children): what is measured is the
    // child's own work, not Deno's housekeeping.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "inherit",
    stdin,
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const nextLine = async (timeoutMs = 30_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (!buffer.includes("\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${cmd.join(" ")}: no output in time`)),
          Math.max(0, deadline - Date.now()),
        );
      });
      try {
        const { value, done } = await Promise.race([lines.read(), timeout]);
        if (done) throw new Error(`${cmd.join(" ")} ended early`);
        buffer += value;
      } finally {
        clearTimeout(timer);
      }
    }
    const at = buffer.indexOf("\n");
    const line = buffer.slice(0, at);
    buffer = buffer.slice(at + 1);
    return line;
  };
  const stop = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await lines.cancel().catch(() => {});
  };
  return { child, nextLine, stop };
}

/** `deno run -A` on a script under bench/, as a command line. */
export const denoScript = (script: string, args: string[] = []): string[] => [
  Deno.execPath(),
  "run",
  "-A",
  benchPath(script),
  ...args,
];

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]!
    : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** The machine, for the results: cores and CPU model. */
export function machine(): string {
  const cpu =
    /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
      "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (nproc), ${cpu.trim()}`;
}

/** `1 KiB`, `100 KiB`, `512 B`. */
export const sizeLabel = (size: number): string =>
  size >= 1024 ? `${size / 1024} KiB` : `${size} B`;

/** Python interpreters with asyncio, and whether each has uvloop; the first with uvloop wins. */
export async function findPython(): Promise<
  { python: string; uvloop: boolean } | null
> {
  let fallback: string | null = null;
  for (const python of ["/usr/bin/python3", "python3"]) {
    const has = async (module: string) => {
      try {
        const out = await new Deno.Command(python, {
          args: ["-c", `import ${module}`],
          stdout: "null",
          stderr: "null",
          signal: AbortSignal.timeout(10_000),
        }).output();
        return out.success;
      } catch {
        return false; // not installed
      }
    };
    if (!await has("asyncio")) continue;
    if (await has("uvloop")) return { python, uvloop: true };
    fallback ??= python;
  }
  return fallback ? { python: fallback, uvloop: false } : null;
}

/** A benchmark server: its name and its command line. */
export interface ServerSpec {
  name: string;
  cmd: string[];
  /** Extra load-client arguments for this server only (`starttls`). */
  clientArgs?: string[];
}

/** A server process that printed the port it listens on. */
export interface Running {
  spec: ServerSpec;
  child: Deno.ChildProcess;
  port: number;
}

/** Starts a server process and waits (30 s at most) for the port it prints first. */
export async function startServerProcess(spec: ServerSpec): Promise<Running> {
  const child = new Deno.Command(spec.cmd[0]!, {
    args: spec.cmd.slice(1),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 30_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${spec.name} exited before printing its port`);
      text += value;
    }
  } finally {
    clearTimeout(timer);
  }
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  const port = Number(text.split("\n")[0]!.trim());
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error(`${spec.name} printed ${JSON.stringify(text)}`);
  }
  return { spec, child, port };
}
