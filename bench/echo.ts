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
 * A second table, "TLS echo", does the same over TLS (the test certificate
 * in `tests/fixtures/tls`): a raw `Deno.listenTls` read/write loop (Deno's
 * native TLS) is the baseline, against our Protocol, BufferedProtocol,
 * streams and readInto echo over TLS (plain TCP with NODELAY under the
 * `node:tls` engine), and (outside `--quick`) the streams echo after
 * STARTTLS (`servers/aio_starttls.ts`: plain TCP, `STARTTLS`/`OK`, then
 * `writer.startTls`), all loaded by one TLS client: `load_client.c` built
 * with OpenSSL (`-lssl -lcrypto`, from libssl-dev), or `load_client.ts`
 * over `Deno.connectTls` (and `Deno.startTls` for STARTTLS) when that build
 * fails.
 *
 * In full mode the flow-control (`flow_control.ts`), many-connection
 * (`many_connections.ts`) and memory-after-a-burst (`burst_memory.ts`)
 * measurements follow, and everything is written to `bench/results.md`.
 *
 * Usage: deno task bench [--quick] [--rounds N] [--duration S] [--warmup S]
 *                        [--no-extras] [--only-extras] [--connections N]
 *                        [--burst-connections N]
 *                        [--deno-client] [--no-tls] [--only-tls] [--no-udp]
 *                        [--cells LIST] [--compare DIR]
 *   --quick        one short round of three plain cells and one TLS cell,
 *                  Deno servers only (CI); prints the tables, leaves
 *                  results.md alone
 *   --no-extras    skip the flow-control, many-connection and
 *                  memory-after-a-burst measurements
 *   --only-extras  run only those (printed, results.md left alone)
 *   --burst-connections N  connections of the memory-after-a-burst
 *                  measurement (default 2,000)
 *   --deno-client  load with load_client.ts even where gcc works
 *   --no-tls       skip the TLS echo table
 *   --only-tls     run only the TLS echo table (printed, results.md left
 *                  alone)
 *   --no-udp       skip the UDP echo table (bench/udp_echo.ts; full mode only)
 *   --no-pin       do not pin the servers to CPU 0 and the load client to
 *                  CPU 1 (pinned by default where `taskset` works)
 *   --cells LIST   only these plain cells (SIZExCONNS,...) and the Deno
 *                  servers, printed, no other table, results.md left alone
 *   --compare DIR  also run the aio servers of another checkout (an older
 *                  commit) as rows "(DIR)" of the same run: a same-run A/B
 */
import {
  benchPath,
  canPin,
  findPython,
  kib,
  machine,
  median,
  parseFlags,
  pinned,
  runLoadClient,
  type Running,
  type ServerSpec,
  sizeLabel,
  startServerProcess,
} from "./_util.ts";
import { runBurstMemory } from "./burst_memory.ts";
import { runFlowControl } from "./flow_control.ts";
import { runManyConnections } from "./many_connections.ts";

interface Cell {
  size: number;
  conns: number;
}
interface LoadResult {
  requests: number;
  bytes: number;
  seconds: number;
  /** load_client.c over TLS: OpenSSL's version, and the negotiated version and cipher. */
  tls?: string;
}
interface Client {
  name: string;
  cmd: string[];
}

const flags = parseFlags(Deno.args);
const deno = Deno.execPath();
const commandLine = `deno task bench${
  Deno.args.length ? " " + Deno.args.join(" ") : ""
}`;
/** The test certificates: the TLS servers read server.pem and server.key, the clients trust ca.pem. */
const tlsDir = benchPath("../tests/fixtures/tls/");
const caFile = `${tlsDir}ca.pem`;

/**
 * The rows of `--compare DIR`: each server `file` of that checkout, run
 * with `before` ahead of its path and `after` behind it.
 */
function compared(
  before: string[],
  after: string[],
  files: string[],
): ServerSpec[] {
  const dir = flags.compare;
  if (dir === undefined) return [];
  const names: Record<string, string> = {
    "aio_protocol.ts": "aio Protocol",
    "aio_buffered.ts": "aio BufferedProtocol",
    "aio_streams.ts": "aio streams",
    "aio_readinto.ts": "aio streams readInto",
  };
  return files.map((file) => ({
    name: `${names[file] ?? file} (${dir})`,
    cmd: [...before, `${dir}/bench/servers/${file}`, ...after],
  }));
}

async function plainServers(): Promise<ServerSpec[]> {
  const run = (file: string) => [
    deno,
    "run",
    "--allow-net",
    benchPath(`servers/${file}`),
  ];
  const list: ServerSpec[] = [
    { name: "raw Deno.Conn", cmd: run("raw.ts") },
    { name: "raw, one copy a write", cmd: run("raw_copy.ts") },
    { name: "node:net in Deno", cmd: run("node_net.ts") },
    { name: "aio Protocol", cmd: run("aio_protocol.ts") },
    { name: "aio BufferedProtocol", cmd: run("aio_buffered.ts") },
    { name: "aio streams", cmd: run("aio_streams.ts") },
    { name: "aio streams readInto", cmd: run("aio_readinto.ts") },
    ...compared([deno, "run", "--allow-net"], [], [
      "aio_protocol.ts",
      "aio_buffered.ts",
      "aio_streams.ts",
      "aio_readinto.ts",
    ]),
  ];
  if (flags.quick || flags.cells) return list;
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

/**
 * The TLS echo servers: the same files with --tls; the raw loop first, as
 * the baseline. Outside `--quick`, CPython asyncio's TLS protocol echo
 * (`ssl=` on `create_server`) and Node's own `node:tls` echo under Node,
 * where those are installed.
 */
async function tlsServers(): Promise<ServerSpec[]> {
  const run = (file: string) => [
    deno,
    "run",
    "--allow-net",
    `--allow-read=${tlsDir}`,
    benchPath(`servers/${file}`),
    "--tls",
  ];
  const list: ServerSpec[] = [
    { name: "raw Deno.listenTls", cmd: run("raw.ts") },
    { name: "aio Protocol", cmd: run("aio_protocol.ts") },
    { name: "aio BufferedProtocol", cmd: run("aio_buffered.ts") },
    { name: "aio streams", cmd: run("aio_streams.ts") },
    { name: "aio streams readInto", cmd: run("aio_readinto.ts") },
    {
      name: "aio streams after startTls",
      cmd: run("aio_starttls.ts"),
      clientArgs: ["starttls"],
    },
    ...compared(
      // That checkout's servers read that checkout's certificates.
      [deno, "run", "--allow-net", `--allow-read=${flags.compare}`],
      ["--tls"],
      ["aio_protocol.ts", "aio_buffered.ts", "aio_streams.ts"],
    ),
  ];
  if (flags.quick) return list.slice(0, 2);
  const [cert, key] = [`${tlsDir}server.pem`, `${tlsDir}server.key`];
  const py = await findPython();
  if (py) {
    const script = benchPath("servers/asyncio_echo.py");
    list.push({
      name: "asyncio protocol (ssl=)",
      cmd: [py.python, script, "protocol", "--tls", cert, key],
    });
  } else console.error("no python3 with asyncio: the CPython TLS row skipped");
  try {
    await new Deno.Command("node", { args: ["--version"], stdout: "null" })
      .output();
    list.push({
      name: "Node node:tls (under Node)",
      cmd: ["node", benchPath("servers/node_tls.mjs"), cert, key],
    });
  } catch {
    console.error("no node on PATH: the Node TLS row skipped");
  }
  return list;
}

/**
 * Builds load_client.c into `exe` with gcc and `extra` arguments; null
 * (after saying why, and what is used instead) without a working gcc.
 */
async function gcc(
  exe: string,
  extra: string[],
  instead: string,
): Promise<string | null> {
  try {
    const out = await new Deno.Command("gcc", {
      args: ["-O2", "-o", exe, benchPath("load_client.c"), ...extra],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    if (out.success) return exe;
    console.error(
      `gcc ${extra.join(" ")} failed, ${instead}:\n${
        new TextDecoder().decode(out.stderr).split("\n").slice(0, 10).join("\n")
      }`,
    );
  } catch {
    console.error(`no gcc: ${instead}`);
  }
  return null;
}

const denoClient: Client = {
  name: "load_client.ts (Deno)",
  cmd: [deno, "run", "--allow-net", benchPath("load_client.ts")],
};
const denoTlsClient: Client = {
  name: "load_client.ts (Deno, `Deno.connectTls`)",
  cmd: [
    deno,
    "run",
    "--allow-net",
    `--allow-read=${tlsDir}`,
    benchPath("load_client.ts"),
  ],
};

/** The plain load client: load_client.c if gcc builds it, else load_client.ts. */
async function plainClient(tmp: string): Promise<Client> {
  if (flags.denoClient) return denoClient;
  const exe = await gcc(`${tmp}/load_client`, [], "using load_client.ts");
  return exe
    ? { name: "load_client.c (gcc -O2, epoll)", cmd: [exe] }
    : denoClient;
}

/** The TLS load client: load_client.c with OpenSSL if it builds (libssl-dev), else load_client.ts. */
async function tlsClient(tmp: string): Promise<Client> {
  if (flags.denoClient) return denoTlsClient;
  const exe = await gcc(
    `${tmp}/load_client_tls`,
    ["-DLOAD_CLIENT_TLS", "-lssl", "-lcrypto"],
    "so no OpenSSL (is libssl-dev installed?): the TLS table uses load_client.ts",
  );
  return exe
    ? { name: "load_client.c (gcc -O2, epoll) with OpenSSL", cmd: [exe] }
    : denoTlsClient;
}

/** One load run; `extra` follows the usual arguments (the CA file, for TLS, then `starttls` if the server wants it). */
function load(
  client: Client,
  port: number,
  cell: Cell,
  extra: string[],
): Promise<LoadResult> {
  return runLoadClient<LoadResult>(
    pinned(
      [
        ...client.cmd,
        String(port),
        String(cell.size),
        String(cell.conns),
        String(flags.warmup),
        String(flags.duration),
        ...extra,
      ],
      1,
      flags.pin,
    ),
    port,
    flags.warmup + flags.duration + 30,
  );
}

const cells: Cell[] = flags.cells ?? (flags.quick
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
  ]);

// The 100 KiB cells show the delayed-ACK stall of the raw Deno.listenTls
// loop (Deno.TlsConn cannot set TCP_NODELAY: a reply of several TLS records
// waits ~40 ms for the client's delayed ACK at every turn), which our TLS
// servers, plain TCP with NODELAY under the node:tls engine, do not have.
const tlsCells: Cell[] = flags.quick ? [{ size: 1024, conns: 10 }] : [
  { size: 1024, conns: 10 },
  { size: 10240, conns: 10 },
  { size: 102400, conns: 1 },
  { size: 102400, conns: 10 },
];

async function stop(running: Running[]): Promise<void> {
  for (const r of running.splice(0)) {
    try {
      r.child.kill("SIGKILL");
    } catch { /* gone */ }
    await r.child.status;
  }
}

/**
 * Starts `specs`, loads each in turn, round after round, over every cell,
 * stops them, and returns the table rows (ratios to `specs[0]`) and what the
 * client said about TLS.
 */
async function measure(
  label: string,
  specs: ServerSpec[],
  grid: Cell[],
  client: Client,
  extra: string[] = [],
): Promise<{ rows: string[]; tls: string | undefined }> {
  const running: Running[] = [];
  try {
    for (const spec of specs) {
      const cmd = pinned(spec.cmd, 0, flags.pin);
      running.push(await startServerProcess({ ...spec, cmd }));
    }
    let tls: string | undefined;
    // rates[cell][server] = requests/s per round; ratios likewise.
    const rates = grid.map(() => running.map(() => [] as number[]));
    const mibs = grid.map(() => running.map(() => [] as number[]));
    const ratios = grid.map(() => running.map(() => [] as number[]));
    for (let round = 0; round < flags.rounds; round++) {
      for (const [c, cell] of grid.entries()) {
        const perServer: number[] = [];
        for (const [s, server] of running.entries()) {
          const r = await load(client, server.port, cell, [
            ...extra,
            ...server.spec.clientArgs ?? [],
          ]);
          tls ??= r.tls;
          const rate = r.requests / r.seconds;
          perServer.push(rate);
          rates[c]![s]!.push(rate);
          mibs[c]![s]!.push(r.bytes / r.seconds / (1024 * 1024));
        }
        for (const [s] of running.entries()) {
          ratios[c]![s]!.push(perServer[s]! / perServer[0]!);
        }
        console.error(
          `${label}round ${round + 1}/${flags.rounds}, ${
            sizeLabel(cell.size)
          } x ${cell.conns}: ${
            running.map((r, s) => `${r.spec.name} ${Math.round(perServer[s]!)}`)
              .join(", ")
          }`,
        );
      }
    }
    const peaks = running.map((r) => kib(r.child.pid, "VmHWM"));
    const rows: string[] = [];
    for (const [c, cell] of grid.entries()) {
      for (const [s, server] of running.entries()) {
        rows.push(
          `| ${server.spec.name} | ${sizeLabel(cell.size)} | ${cell.conns} | ${
            Math.round(median(rates[c]![s]!)).toLocaleString("en-US")
          } | ${median(mibs[c]![s]!).toFixed(1)} | ${
            median(ratios[c]![s]!).toFixed(2)
          } | ${(peaks[s]! / 1024).toFixed(0)} MiB |`,
        );
      }
    }
    return { rows, tls };
  } finally {
    await stop(running);
  }
}

/** The UDP echo table: `bench/udp_echo.ts` in a process of its own, same rounds and duration. */
async function udpTable(): Promise<string[]> {
  const out = await new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      benchPath("udp_echo.ts"),
      "--rounds",
      String(flags.rounds),
      "--duration",
      String(flags.duration),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exitCode = 1;
  return [
    "## UDP echo",
    "",
    "Round trips of 1 KiB datagrams, 1 or 10 in flight, from a `Deno.listenDatagram` load client:",
    "our endpoint against a raw `node:dgram` echo loop (the same engine: the baseline), a `Deno.listenDatagram`",
    "loop (the other engine, which needs `--unstable-net`) and CPython asyncio's datagram echo.",
    "",
    ...new TextDecoder().decode(out.stdout).trim().split("\n"),
  ];
}

async function extras(): Promise<string[]> {
  const flow = await runFlowControl();
  if (flow.some((line) => line.includes("OVER"))) Deno.exitCode = 1;
  return [
    ...flow,
    "",
    ...await runManyConnections(flags.connections),
    "",
    ...await runBurstMemory(flags.burstConnections),
  ];
}

if (flags.onlyExtras) {
  console.log((await extras()).join("\n"));
  Deno.exit();
}

const began = performance.now();
const tmp = await Deno.makeTempDir({ prefix: "aio-bench-" });
try {
  const plain = flags.onlyTls ? null : await plainClient(tmp);
  const lines: string[] = [];
  lines.push(`# Echo benchmark results`, "");
  lines.push(
    `- Date: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    `- Machine: ${machine()}`,
    `- Deno: ${Deno.version.deno} (V8 ${Deno.version.v8}), run as \`npx -y deno@2.9.6\``,
    `- Command: \`${commandLine}\`` +
      (flags.quick ? " (quick: not for quoting)" : ""),
  );
  if (plain) {
    lines.push(
      `- Load client: ${plain.name}, one process, ping-pong (send S bytes, wait for all S back, check, repeat)`,
    );
  }
  lines.push(
    `- Method: ${flags.warmup} s warm-up then ${flags.duration} s per server and cell, ${flags.rounds} round(s); ` +
      `all servers loaded in turn within a round, ratios to raw taken within each round, medians shown; ` +
      (flags.pin && canPin
        ? "servers pinned to CPU 0 and the load client to CPU 1 (taskset)."
        : "no CPU pinning."),
    "",
  );
  if (plain) {
    const { rows } = await measure("", await plainServers(), cells, plain);
    lines.push(
      "| server | message | conns | requests/s | MiB/s | ratio to raw | peak RSS |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "MiB/s counts both directions. Peak RSS is each server process's VmHWM over the whole run.",
    );
  }
  if (flags.tls) {
    const client = await tlsClient(tmp);
    const { rows, tls } = await measure(
      "TLS ",
      await tlsServers(),
      tlsCells,
      client,
      [caFile],
    );
    if (plain) lines.push("");
    lines.push(
      "## TLS echo",
      "",
      "The same ping-pong over TLS, with the test certificate (`tests/fixtures/tls`).",
      "The baseline is a raw read/write loop over `Deno.listenTls` (`servers/raw.ts --tls`), Deno's native TLS;",
      "the aio servers are `servers/aio_*.ts --tls` (`createServer`/`startServer` with the `tls` option): plain TCP",
      'with `TCP_NODELAY`, and the `node:tls` engine over our transport. "aio streams after startTls"',
      "(`servers/aio_starttls.ts`) answers `STARTTLS\\r\\n` with `OK\\r\\n` on a plain connection and upgrades with",
      "`writer.startTls({ cert, key })`: the same engine, reached another way.",
      "",
      `- Load client: ${client.name}${
        tls ? ` (${tls})` : ""
      }; one process for every TLS server, checking the certificate against \`ca.pem\`; ` +
        (client === denoTlsClient
          ? "handshakes fall in the warm-up."
          : "handshakes happen before the clock starts."),
      "",
      "| server | message | conns | requests/s | MiB/s | ratio to raw TLS | peak RSS |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      ...rows,
      "",
      "MiB/s counts the echoed bytes both ways, not TLS framing. Peak RSS is each TLS server process's VmHWM over the TLS run.",
      "At 100 KiB the raw loop waits at every turn for the client's delayed ACK (about 40 ms): `Deno.TlsConn` cannot",
      "set `TCP_NODELAY`, and a reply of more than one TLS record then stalls. The aio servers do not.",
    );
  }
  if (!flags.quick && !flags.onlyTls && flags.udp) {
    lines.push("", ...await udpTable());
  }
  if (flags.extras && !flags.onlyTls) lines.push("", ...await extras());
  lines.push(
    "",
    `Total run time: ${((performance.now() - began) / 1000).toFixed(0)} s.`,
  );
  const text = lines.join("\n") + "\n";
  console.log(text);
  if (!flags.quick && !flags.onlyTls && !flags.cells) {
    await Deno.writeTextFile(benchPath("results.md"), text);
  }
} finally {
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
