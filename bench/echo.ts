// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Echo throughput of every server against the raw Deno.Conn baseline.
 *
 * All servers start first, each in its own process; then, round after
 * round, the one load client (its own process) loads each server in turn,
 * and every ratio to raw is taken within its round (this machine's speed
 * drifts by 20% or more between minutes). The table shows the median over
 * rounds. The load client is `load_client.c`, compiled into a temporary
 * directory at run time (it takes less of the shared CPU), or
 * `load_client.ts` when gcc is missing or fails.
 *
 * In full mode the flow-control (`flow_control.ts`) and many-connection
 * (`many_connections.ts`) measurements follow, and everything is written to
 * `bench/results.md`.
 *
 * Usage: deno task bench [--quick] [--rounds N] [--duration S] [--warmup S]
 *                        [--no-extras] [--only-extras] [--connections N]
 *                        [--deno-client]
 *   --quick        one short round of three cells, Deno servers only (CI);
 *                  prints the table, leaves results.md alone
 *   --no-extras    skip the flow-control and many-connection measurements
 *   --only-extras  run only those (printed, results.md left alone)
 */
import { benchPath, kib, parseFlags } from "./_util.ts";
import { runFlowControl } from "./flow_control.ts";
import { runManyConnections } from "./many_connections.ts";

interface ServerSpec {
  name: string;
  cmd: string[];
}
interface Cell {
  size: number;
  conns: number;
}
interface Running {
  spec: ServerSpec;
  child: Deno.ChildProcess;
  port: number;
}
interface LoadResult {
  requests: number;
  bytes: number;
  seconds: number;
}

const flags = parseFlags(Deno.args);
const deno = Deno.execPath();
const commandLine = `deno task bench${
  Deno.args.length ? " " + Deno.args.join(" ") : ""
}`;

/** Python interpreters with asyncio, and whether each has uvloop; the first with uvloop wins. */
async function findPython(): Promise<
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

async function servers(): Promise<ServerSpec[]> {
  const run = (file: string) => [
    deno,
    "run",
    "--allow-net",
    benchPath(`servers/${file}`),
  ];
  const list: ServerSpec[] = [
    { name: "raw Deno.Conn", cmd: run("raw.ts") },
    { name: "node:net in Deno", cmd: run("node_net.ts") },
    { name: "aio Protocol", cmd: run("aio_protocol.ts") },
    { name: "aio BufferedProtocol", cmd: run("aio_buffered.ts") },
    { name: "aio streams", cmd: run("aio_streams.ts") },
  ];
  if (flags.quick) return list;
  const py = await findPython();
  if (!py) {
    console.error("no python3 with asyncio: CPython rows skipped");
    return list;
  }
  const script = benchPath("servers/asyncio_echo.py");
  list.push(
    { name: "asyncio protocol", cmd: [py.python, script, "protocol"] },
    { name: "asyncio streams", cmd: [py.python, script, "streams"] },
  );
  if (py.uvloop) {
    list.push(
      {
        name: "uvloop protocol",
        cmd: [py.python, script, "protocol", "uvloop"],
      },
      { name: "uvloop streams", cmd: [py.python, script, "streams", "uvloop"] },
    );
  } else {
    console.error(`${py.python} has no uvloop: uvloop rows skipped`);
  }
  return list;
}

async function start(spec: ServerSpec): Promise<Running> {
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

/** Builds load_client.c into a temporary directory; null without a working gcc. */
async function buildCClient(tmp: string): Promise<string | null> {
  const exe = `${tmp}/load_client`;
  try {
    const out = await new Deno.Command("gcc", {
      args: ["-O2", "-o", exe, benchPath("load_client.c")],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (out.success) return exe;
    console.error(
      `gcc failed, using load_client.ts:\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  } catch {
    console.error("no gcc: using load_client.ts");
  }
  return null;
}

let client: { name: string; cmd: string[] } = {
  name: "load_client.ts (Deno)",
  cmd: [deno, "run", "--allow-net", benchPath("load_client.ts")],
};

async function load(port: number, cell: Cell): Promise<LoadResult> {
  const out = await new Deno.Command(client.cmd[0]!, {
    args: [
      ...client.cmd.slice(1),
      String(port),
      String(cell.size),
      String(cell.conns),
      String(flags.warmup),
      String(flags.duration),
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout((flags.warmup + flags.duration + 30) * 1000),
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

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]!
    : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function machine(): string {
  const cpu =
    /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ??
      "unknown CPU";
  return `${navigator.hardwareConcurrency} cores (nproc), ${cpu.trim()}`;
}

const sizeLabel = (size: number) =>
  size >= 1024 ? `${size / 1024} KiB` : `${size} B`;

const cells: Cell[] = flags.quick
  ? [
    { size: 1024, conns: 10 },
    { size: 102400, conns: 10 },
    { size: 1024, conns: 100 },
  ]
  : [
    { size: 1024, conns: 10 },
    { size: 10240, conns: 10 },
    { size: 102400, conns: 10 },
    { size: 1024, conns: 1 },
    { size: 1024, conns: 100 },
  ];

async function extras(): Promise<string[]> {
  const flow = await runFlowControl();
  if (flow.some((line) => line.includes("OVER"))) Deno.exitCode = 1;
  return [...flow, "", ...await runManyConnections(flags.connections)];
}

if (flags.onlyExtras) {
  console.log((await extras()).join("\n"));
  Deno.exit();
}

const began = performance.now();
const tmp = await Deno.makeTempDir({ prefix: "aio-bench-" });
const running: Running[] = [];
try {
  if (!flags.denoClient) {
    const exe = await buildCClient(tmp);
    if (exe) client = { name: "load_client.c (gcc -O2, epoll)", cmd: [exe] };
  }
  for (const spec of await servers()) running.push(await start(spec));
  // rates[cell][server] = requests/s per round; ratios likewise.
  const rates = cells.map(() => running.map(() => [] as number[]));
  const mibs = cells.map(() => running.map(() => [] as number[]));
  const ratios = cells.map(() => running.map(() => [] as number[]));
  for (let round = 0; round < flags.rounds; round++) {
    for (const [c, cell] of cells.entries()) {
      const perServer: number[] = [];
      for (const [s, server] of running.entries()) {
        const r = await load(server.port, cell);
        const rate = r.requests / r.seconds;
        perServer.push(rate);
        rates[c]![s]!.push(rate);
        mibs[c]![s]!.push(r.bytes / r.seconds / (1024 * 1024));
      }
      for (const [s] of running.entries()) {
        ratios[c]![s]!.push(perServer[s]! / perServer[0]!);
      }
      console.error(
        `round ${round + 1}/${flags.rounds}, ${
          sizeLabel(cell.size)
        } x ${cell.conns}: ${
          running.map((r, s) => `${r.spec.name} ${Math.round(perServer[s]!)}`)
            .join(", ")
        }`,
      );
    }
  }

  const lines: string[] = [];
  lines.push(`# Echo benchmark results`, "");
  lines.push(
    `- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    `- Machine: ${machine()}`,
    `- Deno: ${Deno.version.deno} (V8 ${Deno.version.v8}), run as \`npx -y deno@2.9.6\``,
    `- Command: \`${commandLine}\`` +
      (flags.quick ? " (quick: not for quoting)" : ""),
    `- Load client: ${client.name}, one process, ping-pong (send S bytes, wait for all S back, check, repeat)`,
    `- Method: ${flags.warmup} s warm-up then ${flags.duration} s per server and cell, ${flags.rounds} round(s); ` +
      `all servers loaded in turn within a round, ratios to raw taken within each round, medians shown.`,
    "",
  );
  lines.push(
    "| server | message | conns | requests/s | MiB/s | ratio to raw | peak RSS |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  const peaks = running.map((r) => kib(r.child.pid, "VmHWM"));
  for (const [c, cell] of cells.entries()) {
    for (const [s, server] of running.entries()) {
      lines.push(
        `| ${server.spec.name} | ${sizeLabel(cell.size)} | ${cell.conns} | ${
          Math.round(median(rates[c]![s]!)).toLocaleString("en-US")
        } | ${median(mibs[c]![s]!).toFixed(1)} | ${
          median(ratios[c]![s]!).toFixed(2)
        } | ${(peaks[s]! / 1024).toFixed(0)} MiB |`,
      );
    }
  }
  lines.push(
    "",
    "MiB/s counts both directions. Peak RSS is each server process's VmHWM over the whole run.",
  );
  if (flags.extras) {
    // The echo servers go first, so they do not share the CPU and memory.
    for (const r of running.splice(0)) {
      try {
        r.child.kill("SIGKILL");
      } catch { /* gone */ }
      await r.child.status;
    }
    lines.push("", ...await extras());
  }
  lines.push(
    "",
    `Total run time: ${((performance.now() - began) / 1000).toFixed(0)} s.`,
  );
  const text = lines.join("\n") + "\n";
  console.log(text);
  if (!flags.quick) await Deno.writeTextFile(benchPath("results.md"), text);
} finally {
  for (const r of running) {
    try {
      r.child.kill("SIGKILL");
    } catch { /* gone */ }
    await r.child.status;
  }
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
