// Copyright 2026 the @aio/net authors. MIT license.
/**
 * UDP echo round trips per second: our datagram endpoint against a raw
 * `node:dgram` echo loop (the same engine, the baseline), CPython
 * asyncio's datagram echo (and uvloop's, where it is installed) and, for
 * reference, a `Deno.listenDatagram` loop (the other engine, which needs
 * `--unstable-net`).
 *
 * Every server starts first, each in its own process; then, round after
 * round, the load client (its own process) loads each server in turn with
 * every cell, and each ratio to raw is taken within its round (this
 * machine's speed drifts between minutes). The table shows medians over
 * rounds.
 *
 * The load client is this file with `--client`: one `Deno.listenDatagram`
 * socket (the cheaper of Deno's two engines) keeps a fixed number of
 * datagrams in flight, each carrying its slot and sequence number; every
 * reply is checked (size and header) and answered with the next datagram
 * of its slot. A slot whose reply has not come within 200 ms is counted
 * lost and sent again.
 *
 * Usage: deno run -A bench/udp_echo.ts [--rounds N] [--duration S] [--warmup S] [--large] [--quick]
 *   --rounds N     rounds (default 2)
 *   --duration S   seconds measured per run (default 2)
 *   --warmup S     seconds before measuring (default 0.5)
 *   --large        add a 16 KiB x 10 cell
 *   --quick        one round of 0.5 s, one cell (for CI)
 *
 * @module
 */
import {
  benchPath,
  findPython,
  kib,
  machine,
  median,
  runLoadClient,
  type Running,
  type ServerSpec,
  sizeLabel,
  startServerProcess,
  timingFlag,
  type TimingFlags,
} from "./_util.ts";

// ---- The load client -------------------------------------------------------

/** What one load run reports. */
interface LoadResult {
  /** Round trips completed while measuring. */
  requests: number;
  seconds: number;
  /** Datagrams whose reply did not come within 200 ms (sent again). */
  lost: number;
  /** Replies of the wrong size or with a wrong header. */
  bad: number;
}

/** Loads the echo server on `port` with `inflight` datagrams of `size` bytes. */
async function loadClient(
  port: number,
  size: number,
  inflight: number,
  warmup: number,
  duration: number,
): Promise<LoadResult> {
  const conn = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const server: Deno.NetAddr = {
    transport: "udp",
    hostname: "127.0.0.1",
    port,
  };
  // One buffer per slot: a slot's buffer is rewritten only after its reply
  // came, so the send that used it is done.
  const slots = Array.from({ length: inflight }, () => {
    const buf = new Uint8Array(size);
    crypto.getRandomValues(buf.subarray(8, Math.min(size, 65536)));
    return { buf, view: new DataView(buf.buffer), seq: 0, sentAt: 0 };
  });
  const send = (slot: number) => {
    const s = slots[slot]!;
    s.seq++;
    s.view.setUint32(0, slot);
    s.view.setUint32(4, s.seq);
    s.sentAt = performance.now();
    conn.send(s.buf, server).catch(() => {}); // counted lost if it fails
  };
  const result: LoadResult = {
    requests: 0,
    seconds: duration,
    lost: 0,
    bad: 0,
  };
  const start = performance.now();
  const measureFrom = start + warmup * 1000;
  const end = measureFrom + duration * 1000;
  let running = true;
  const watchdog = setInterval(() => {
    const now = performance.now();
    slots.forEach((s, i) => {
      if (now - s.sentAt > 200) {
        result.lost++;
        send(i);
      }
    });
  }, 50);
  const stop = setTimeout(() => {
    running = false;
    conn.close(); // ends the pending receive
  }, end - start);
  for (let i = 0; i < inflight; i++) send(i);
  const rbuf = new Uint8Array(65536);
  try {
    while (running) {
      const [data] = await conn.receive(rbuf);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const slot = data.length >= 8 ? view.getUint32(0) : -1;
      const s = slots[slot];
      if (data.length !== size || !s) {
        result.bad++;
        continue;
      }
      if (view.getUint32(4) !== s.seq) continue; // a late reply to a resent slot
      const now = performance.now();
      if (now >= measureFrom && now < end) result.requests++;
      send(slot);
    }
  } catch (err) {
    if (running) throw err;
  } finally {
    clearInterval(watchdog);
    clearTimeout(stop);
    try {
      conn.close();
    } catch { /* closed by the timer */ }
  }
  return result;
}

if (Deno.args[0] === "--client") {
  const [port, size, inflight, warmup, duration] = Deno.args.slice(1).map(
    Number,
  );
  console.log(
    JSON.stringify(
      await loadClient(port!, size!, inflight!, warmup!, duration!),
    ),
  );
  Deno.exit(0);
}

// ---- The runner --------------------------------------------------------------

interface Flags extends TimingFlags {
  large: boolean;
  quick: boolean;
}

function parseFlags(args: string[]): Flags {
  const flags: Flags = {
    rounds: 2,
    duration: 2,
    warmup: 0.5,
    large: false,
    quick: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const taken = timingFlag(args, i, flags);
    if (taken !== -1) i = taken;
    else if (arg === "--large") flags.large = true;
    else if (arg === "--quick") {
      Object.assign(flags, {
        quick: true,
        rounds: 1,
        duration: 0.5,
        warmup: 0.2,
      });
    } else throw new TypeError(`Unknown flag ${arg}`);
  }
  return flags;
}

interface Cell {
  size: number;
  inflight: number;
}

const flags = parseFlags(Deno.args);
const deno = Deno.execPath();

async function servers(): Promise<ServerSpec[]> {
  const run = (file: string, extra: string[] = []) => [
    deno,
    "run",
    "--allow-net",
    ...extra,
    benchPath(`servers/${file}`),
  ];
  const list: ServerSpec[] = [
    { name: "raw node:dgram loop", cmd: run("udp_raw.ts") },
    { name: "aio datagram endpoint", cmd: run("udp_aio.ts") },
  ];
  if (flags.quick) return list;
  list.push({
    name: "raw Deno.listenDatagram loop (--unstable-net)",
    cmd: run("udp_listen_datagram.ts", ["--unstable-net"]),
  });
  const py = await findPython();
  if (!py) {
    console.error("no python3 with asyncio: CPython rows skipped");
    return list;
  }
  const script = benchPath("servers/asyncio_udp.py");
  list.push({ name: "CPython asyncio datagram", cmd: [py.python, script] });
  if (py.uvloop) {
    list.push({
      name: "uvloop datagram",
      cmd: [py.python, script, "uvloop"],
    });
  } else console.error(`${py.python} has no uvloop: uvloop row skipped`);
  return list;
}

function load(port: number, cell: Cell): Promise<LoadResult> {
  return runLoadClient<LoadResult>(
    [
      deno,
      "run",
      "--allow-net",
      "--unstable-net",
      benchPath("udp_echo.ts"),
      "--client",
      String(port),
      String(cell.size),
      String(cell.inflight),
      String(flags.warmup),
      String(flags.duration),
    ],
    port,
    flags.warmup + flags.duration + 30,
  );
}

const cells: Cell[] = flags.quick ? [{ size: 1024, inflight: 10 }] : [
  { size: 1024, inflight: 1 },
  { size: 1024, inflight: 10 },
  ...flags.large ? [{ size: 16384, inflight: 10 }] : [],
];

const running: Running[] = [];
try {
  for (const spec of await servers()) {
    running.push(await startServerProcess(spec));
  }
  // rates[cell][server], ratios likewise, lost[cell][server]: per round.
  const rates = cells.map(() => running.map(() => [] as number[]));
  const ratios = cells.map(() => running.map(() => [] as number[]));
  const lost = cells.map(() => running.map(() => 0));
  let bad = 0;
  for (let round = 0; round < flags.rounds; round++) {
    for (const [c, cell] of cells.entries()) {
      const perServer: number[] = [];
      for (const [s, server] of running.entries()) {
        const r = await load(server.port, cell);
        const rate = r.requests / r.seconds;
        perServer.push(rate);
        rates[c]![s]!.push(rate);
        lost[c]![s]! += r.lost;
        bad += r.bad;
      }
      for (const [s] of running.entries()) {
        ratios[c]![s]!.push(perServer[s]! / perServer[0]!);
      }
      console.error(
        `round ${round + 1}/${flags.rounds}, ${
          sizeLabel(cell.size)
        } x ${cell.inflight}: ${
          running.map((r, s) => `${r.spec.name} ${Math.round(perServer[s]!)}`)
            .join(", ")
        }`,
      );
    }
  }
  const peaks = running.map((r) => kib(r.child.pid, "VmHWM"));
  const lines = [
    `UDP echo, ${flags.rounds} round(s) x ${flags.duration} s per cell, ${machine()}, Deno ${Deno.version.deno}`,
    `(deno run -A bench/udp_echo.ts${
      Deno.args.length ? " " + Deno.args.join(" ") : ""
    })`,
    "",
    `| server | ${
      cells.map((c) => `${sizeLabel(c.size)} x ${c.inflight}: req/s (ratio)`)
        .join(" | ")
    } | peak RSS |`,
    `| --- | ${cells.map(() => "---:").join(" | ")} | ---: |`,
    ...running.map((r, s) =>
      `| ${r.spec.name} | ${
        cells.map((_, c) =>
          `${Math.round(median(rates[c]![s]!)).toLocaleString("en-US")} (${
            median(ratios[c]![s]!).toFixed(2)
          })${lost[c]![s]! ? `, ${lost[c]![s]} lost` : ""}`
        ).join(" | ")
      } | ${(peaks[s]! / 1024).toFixed(0)} MiB |`
    ),
  ];
  if (bad) lines.push("", `${bad} replies were of the wrong size or content`);
  console.log(lines.join("\n"));
  if (bad) Deno.exitCode = 1;
} finally {
  for (const r of running) {
    try {
      r.child.kill("SIGKILL");
    } catch { /* gone */ }
    await r.child.status;
  }
}
