// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Flow control: a server writes 1 GiB to a client that reads slowly (it
 * pauses 1 ms after every MiB); the server's RSS must stay flat (growth
 * under 32 MiB), over the protocol API (pauseWriting/resumeWriting) and over
 * streams (drain). The server is `servers/flood.ts`, in its own process.
 *
 * Usage: deno run -A bench/flow_control.ts [TOTAL_MIB]
 */
import { denoScript, kib, sleep, spawnLines } from "./_util.ts";

/** One measurement: the server's RSS before the transfer and its peak. */
export interface FlowResult {
  kind: "protocol" | "streams";
  beforeKiB: number;
  peakKiB: number;
  seconds: number;
}

/** The growth limit the run is held to. */
export const LIMIT_MIB = 32;

/** Floods `totalMiB` MiB from a `kind` server to a slow reader and reads its memory. */
export async function floodOnce(
  kind: "protocol" | "streams",
  totalMiB = 1024,
): Promise<FlowResult> {
  const total = totalMiB * 1024 * 1024;
  const server = spawnLines(denoScript("servers/flood.ts", [kind, `${total}`]));
  try {
    const port = Number(await server.nextLine());
    await sleep(300);
    const beforeKiB = kib(server.child.pid, "VmRSS");
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buf = new Uint8Array(256 * 1024);
    let got = 0;
    let nextPause = 1024 * 1024;
    const start = performance.now();
    const deadline = start + 120_000; // bounded: 1 GiB takes a few seconds
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        got += n;
        if (got >= nextPause) {
          nextPause += 1024 * 1024;
          await sleep(1); // a slow reader: 1 ms after every MiB
          if (performance.now() > deadline) {
            throw new Error("flow control run took over 120 s");
          }
        }
      }
    } finally {
      conn.close();
    }
    const seconds = (performance.now() - start) / 1000;
    if (got !== total) throw new Error(`flow control run got ${got} bytes`);
    const peakKiB = kib(server.child.pid, "VmHWM");
    return { kind, beforeKiB, peakKiB, seconds };
  } finally {
    await server.stop();
  }
}

/** Runs both APIs and returns the results.md section. */
export async function runFlowControl(totalMiB = 1024): Promise<string[]> {
  const out = [
    `## Flow control: ${
      totalMiB >= 1024 ? `${totalMiB / 1024} GiB` : `${totalMiB} MiB`
    } to a slow reader`,
    "",
    "The client pauses 1 ms after every MiB it reads; the server writes as fast as",
    "flow control lets it (protocol: `pauseWriting`/`resumeWriting`; streams:",
    "`await writer.drain()`).",
    "",
    "| server API | RSS before | peak RSS | growth | time | verdict |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const kind of ["protocol", "streams"] as const) {
    const r = await floodOnce(kind, totalMiB);
    const growth = (r.peakKiB - r.beforeKiB) / 1024;
    console.error(
      `flow control (${kind}): RSS ${r.beforeKiB} KiB -> peak ${r.peakKiB} KiB in ${
        r.seconds.toFixed(1)
      } s`,
    );
    out.push(
      `| ${kind} | ${(r.beforeKiB / 1024).toFixed(1)} MiB | ${
        (r.peakKiB / 1024).toFixed(1)
      } MiB | ${growth.toFixed(1)} MiB | ${r.seconds.toFixed(1)} s | ${
        growth < LIMIT_MIB ? "ok" : `OVER ${LIMIT_MIB} MiB`
      } |`,
    );
  }
  out.push("", `Target: growth under ${LIMIT_MIB} MiB.`);
  return out;
}

if (import.meta.main) {
  console.log((await runFlowControl(Number(Deno.args[0] ?? 1024))).join("\n"));
}
