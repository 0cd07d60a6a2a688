// Copyright 2026 the @aio/net authors. MIT license.
/** The benchmark's flags, and its memory measurements: flow control and many idle connections. */

/** Options of `deno task bench`. */
export interface BenchFlags {
  quick: boolean;
  rounds: number;
  duration: number;
  warmup: number;
  extras: boolean;
  onlyExtras: boolean;
  connections: number;
}

/** Parses `--quick`, `--rounds N`, `--duration S`, `--extras`, `--only-extras`, `--connections N`. */
export function parseFlags(args: string[]): BenchFlags {
  const flags: BenchFlags = {
    quick: false,
    rounds: 3,
    duration: 2,
    warmup: 0.5,
    extras: false,
    onlyExtras: false,
    connections: 10000,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") {
      Object.assign(flags, {
        quick: true,
        rounds: 1,
        duration: 0.5,
        warmup: 0.2,
      });
    } else if (arg === "--rounds") flags.rounds = Number(args[++i]);
    else if (arg === "--duration") flags.duration = Number(args[++i]);
    else if (arg === "--extras") flags.extras = true;
    else if (arg === "--only-extras") {
      Object.assign(flags, { extras: true, onlyExtras: true });
    } else if (arg === "--connections") flags.connections = Number(args[++i]);
    else throw new TypeError(`Unknown flag ${arg}`);
  }
  return flags;
}

const here = new URL(".", import.meta.url);
const dir = (path: string) => new URL(path, here).pathname;

function kib(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
}

/** Spawns `deno run` on a bench script (with a raised file limit) and reads its first stdout line. */
function spawn(
  script: string,
  args: string[],
  stdin: "piped" | "null" = "null",
) {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n 65536 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$0" run -A "$@"`,
      Deno.execPath(),
      dir(script),
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
    stdin,
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const nextLine = async (): Promise<string> => {
    while (!buffer.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`${script} ended early`);
      buffer += value;
    }
    const at = buffer.indexOf("\n");
    const line = buffer.slice(0, at);
    buffer = buffer.slice(at + 1);
    return line;
  };
  return { child, nextLine, lines };
}

/** A server floods 1 GiB to a client that reads slowly: the server's RSS must stay flat. */
export async function runFlowControl(_flags: BenchFlags): Promise<string[]> {
  const total = 1024 * 1024 * 1024;
  const out = [
    "## Flow control: 1 GiB to a slow reader",
    "",
    "| server API | RSS before | peak RSS | growth |",
    "| --- | ---: | ---: | ---: |",
  ];
  for (const kind of ["protocol", "streams"]) {
    const server = await spawn("servers/flood.ts", [kind, String(total)]);
    const port = Number(await server.nextLine());
    await new Promise((r) => setTimeout(r, 300));
    const before = kib(server.child.pid, "VmRSS");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buf = new Uint8Array(256 * 1024);
    let got = 0;
    let nextPause = 8 * 1024 * 1024;
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
      if (got >= nextPause) {
        nextPause += 8 * 1024 * 1024;
        await new Promise((r) => setTimeout(r, 2)); // a slow reader
      }
    }
    conn.close();
    if (got !== total) throw new Error(`flow control run got ${got} bytes`);
    const peak = kib(server.child.pid, "VmHWM");
    server.child.kill("SIGKILL");
    await server.child.status;
    await server.lines.cancel().catch(() => {});
    const growth = (peak - before) / 1024;
    out.push(
      `| ${kind} | ${(before / 1024).toFixed(1)} MiB | ${
        (peak / 1024).toFixed(1)
      } MiB | ${growth.toFixed(1)} MiB |`,
    );
    console.error(
      `flow control (${kind}): RSS ${before} KiB -> peak ${peak} KiB`,
    );
  }
  out.push(
    "",
    "Target: growth under 32 MiB (the watermarks bound what is buffered).",
  );
  return out;
}

/** 10,000 idle connections to the Protocol echo server, then one echo on each. */
export async function runManyConnections(flags: BenchFlags): Promise<string[]> {
  const n = flags.connections;
  const server = await spawn("servers/aio_protocol.ts", []);
  const port = Number(await server.nextLine());
  await new Promise((r) => setTimeout(r, 300));
  const base = kib(server.child.pid, "VmRSS");
  const client = await spawn(
    "many_client.ts",
    [String(port), String(n)],
    "piped",
  );
  if ((await client.nextLine()) !== "idle") {
    throw new Error("many_client did not connect");
  }
  await new Promise((r) => setTimeout(r, 1000));
  const idle = kib(server.child.pid, "VmRSS");
  const writer = client.child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("go\n"));
  if ((await client.nextLine()) !== "done") {
    throw new Error("many_client did not finish");
  }
  await writer.close();
  const after = kib(server.child.pid, "VmRSS");
  await client.child.status;
  await client.lines.cancel().catch(() => {});
  server.child.kill("SIGKILL");
  await server.child.status;
  await server.lines.cancel().catch(() => {});
  const perIdle = ((idle - base) * 1024) / n / 1024;
  const perAfter = ((after - base) * 1024) / n / 1024;
  console.error(
    `many connections: base ${base} KiB, idle ${idle} KiB, after echo ${after} KiB`,
  );
  return [
    `## ${
      n.toLocaleString("en-US")
    } concurrent connections (Protocol echo server)`,
    "",
    "| state | server RSS | per connection |",
    "| --- | ---: | ---: |",
    `| no connections | ${(base / 1024).toFixed(1)} MiB | |`,
    `| ${n.toLocaleString("en-US")} idle | ${(idle / 1024).toFixed(1)} MiB | ${
      perIdle.toFixed(1)
    } KiB |`,
    `| after one echo on each | ${(after / 1024).toFixed(1)} MiB | ${
      perAfter.toFixed(1)
    } KiB |`,
    "",
    "Target: at most 16 KiB per idle connection.",
  ];
}
