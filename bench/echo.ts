// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Echo throughput of every server against the raw Deno.Conn baseline.
 *
 * All servers start first, each in its own process; then, round after
 * round, the one load client (its own process) loads each server in turn,
 * and every ratio to raw is taken within its round (this machine's speed
 * drifts by 20% or more between minutes). The table shows the median over
 * rounds.
 *
 * Usage: deno task bench [--quick] [--rounds N] [--duration SECONDS] [--extras]
 *   --quick   one short round at 1 KiB x 10 connections (what CI runs)
 *   --extras  also run the flow-control and 10,000-connection measurements
 *   --only-extras  run only those (printed, results.md left alone)
 */
import { parseFlags, runFlowControl, runManyConnections } from "./_extras.ts";

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

const flags = parseFlags(Deno.args);
const here = new URL(".", import.meta.url);
const deno = Deno.execPath();
const dir = (path: string) => new URL(path, here).pathname;

/** The Python interpreter that has asyncio and uvloop, if any. */
async function findPython(): Promise<
  { python: string; uvloop: boolean } | null
> {
  let fallback: string | null = null;
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import uvloop"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (out.success) return { python, uvloop: true };
      fallback ??= python;
    } catch { /* not installed */ }
  }
  return fallback ? { python: fallback, uvloop: false } : null;
}

async function servers(): Promise<ServerSpec[]> {
  const run = (
    file: string,
  ) => [deno, "run", "--allow-net", dir(`servers/${file}`)];
  const list: ServerSpec[] = [
    { name: "raw Deno.Conn", cmd: run("raw.ts") },
    { name: "node:net in Deno", cmd: run("node_net.ts") },
    { name: "aio Protocol", cmd: run("aio_protocol.ts") },
    { name: "aio BufferedProtocol", cmd: run("aio_buffered.ts") },
    { name: "aio streams", cmd: run("aio_streams.ts") },
  ];
  if (flags.quick) return list;
  const py = await findPython();
  if (py) {
    const script = dir("servers/asyncio_echo.py");
    list.push({
      name: "asyncio protocol",
      cmd: [py.python, script, "protocol"],
    });
    list.push({ name: "asyncio streams", cmd: [py.python, script, "streams"] });
    if (py.uvloop) {
      list.push({
        name: "uvloop protocol",
        cmd: [py.python, script, "protocol", "uvloop"],
      });
      list.push({
        name: "uvloop streams",
        cmd: [py.python, script, "streams", "uvloop"],
      });
    }
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
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${spec.name} exited before printing its port`);
    text += value;
  }
  reader.releaseLock();
  void child.stdout.cancel().catch(() => {});
  return { spec, child, port: Number(text.trim().split("\n")[0]) };
}

/** Peak resident memory of a process in KiB (VmHWM). */
export function peakRssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function load(port: number, cell: Cell): Promise<number> {
  const out = await new Deno.Command(deno, {
    args: [
      "run",
      "--allow-net",
      dir("load_client.ts"),
      String(port),
      String(cell.size),
      String(cell.conns),
      String(flags.warmup),
      String(flags.duration),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `load client failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const { requests, seconds } = JSON.parse(
    new TextDecoder().decode(out.stdout),
  );
  return requests / seconds;
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
  return `${navigator.hardwareConcurrency} cores, ${cpu}, Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`;
}

const cells: Cell[] = flags.quick ? [{ size: 1024, conns: 10 }] : [
  { size: 1024, conns: 10 },
  { size: 10240, conns: 10 },
  { size: 102400, conns: 10 },
  { size: 1024, conns: 1 },
  { size: 1024, conns: 100 },
];

if (flags.onlyExtras) {
  console.log(
    [...await runFlowControl(flags), "", ...await runManyConnections(flags)]
      .join("\n"),
  );
  Deno.exit(0);
}

const specs = await servers();
const running: Running[] = [];
try {
  for (const spec of specs) running.push(await start(spec));
  // rates[cell][server] = requests/s per round; ratios likewise.
  const rates = cells.map(() => running.map(() => [] as number[]));
  const ratios = cells.map(() => running.map(() => [] as number[]));
  for (let round = 0; round < flags.rounds; round++) {
    for (const [c, cell] of cells.entries()) {
      const perServer: number[] = [];
      for (const [s, server] of running.entries()) {
        const rate = await load(server.port, cell);
        perServer.push(rate);
        rates[c]![s]!.push(rate);
      }
      for (const [s] of running.entries()) {
        ratios[c]![s]!.push(perServer[s]! / perServer[0]!);
      }
      console.error(
        `round ${round + 1}/${flags.rounds}, ${cell.size} B x ${cell.conns}: ${
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
  );
  lines.push(`- Machine: ${machine()}`);
  lines.push(
    `- Command: \`deno task bench ${Deno.args.join(" ")}\`` +
      (flags.quick ? " (quick: not for quoting)" : ""),
  );
  lines.push(
    `- Method: ping-pong, ${flags.warmup} s warm-up then ${flags.duration} s per cell, ${flags.rounds} round(s); ` +
      `ratios to raw taken within each round, medians shown.`,
    "",
  );
  lines.push(
    "| server | message | conns | requests/s | MiB/s | ratio to raw | peak RSS |",
  );
  lines.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [c, cell] of cells.entries()) {
    for (const [s, server] of running.entries()) {
      const rps = median(rates[c]![s]!);
      const mib = (rps * cell.size * 2) / (1024 * 1024);
      lines.push(
        `| ${server.spec.name} | ${
          cell.size >= 1024 ? `${cell.size / 1024} KiB` : `${cell.size} B`
        } | ${cell.conns} | ${Math.round(rps).toLocaleString("en-US")} | ${
          mib.toFixed(1)
        } | ${median(ratios[c]![s]!).toFixed(2)} | ${
          (peakRssKiB(server.child.pid) / 1024).toFixed(0)
        } MiB |`,
      );
    }
  }
  lines.push(
    "",
    "MiB/s counts both directions. Peak RSS is each server process's VmHWM over the whole run.",
  );
  if (flags.extras) {
    lines.push(
      "",
      ...await runFlowControl(flags),
      "",
      ...await runManyConnections(flags),
    );
  }
  const text = lines.join("\n") + "\n";
  console.log(text);
  if (!flags.quick) await Deno.writeTextFile(dir("results.md"), text);
} finally {
  for (const r of running) {
    try {
      r.child.kill("SIGKILL");
    } catch { /* gone */ }
    await r.child.status;
  }
}
