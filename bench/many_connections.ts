// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Many connections: N (10,000) concurrent idle connections to our Protocol
 * echo server, opened by `many_client.ts` in another process, then one echo
 * on each; reports the server's RSS per connection. Both processes run with
 * `ulimit -n 65536` (or the hard limit).
 *
 * Usage: deno run -A bench/many_connections.ts [N]
 */
import { denoScript, kib, sleep, spawnLines } from "./_util.ts";

/** The server's RSS (KiB) with no connections, N idle ones, and after an echo on each. */
export interface ManyResult {
  count: number;
  baseKiB: number;
  idleKiB: number;
  afterKiB: number;
  peakKiB: number;
}

/** Measures the Protocol echo server's memory with `count` connections. */
export async function measureMany(count = 10000): Promise<ManyResult> {
  const server = spawnLines(denoScript("servers/aio_protocol.ts"));
  let client: ReturnType<typeof spawnLines> | undefined;
  try {
    const port = Number(await server.nextLine());
    await sleep(300);
    const baseKiB = kib(server.child.pid, "VmRSS");
    client = spawnLines(
      denoScript("many_client.ts", [`${port}`, `${count}`]),
      "piped",
    );
    const idle = await client.nextLine(120_000);
    if (idle !== "idle") throw new Error(`many_client said ${idle}`);
    await sleep(1000); // let the server accept them all
    const idleKiB = kib(server.child.pid, "VmRSS");
    const writer = client.child.stdin.getWriter();
    await writer.write(new TextEncoder().encode("go\n"));
    const done = await client.nextLine(120_000);
    if (done !== "done") throw new Error(`many_client said ${done}`);
    await sleep(300);
    const afterKiB = kib(server.child.pid, "VmRSS");
    const peakKiB = kib(server.child.pid, "VmHWM");
    await writer.close().catch(() => {});
    return { count, baseKiB, idleKiB, afterKiB, peakKiB };
  } finally {
    await client?.stop();
    await server.stop();
  }
}

/** Runs the measurement and returns the results.md section. */
export async function runManyConnections(count = 10000): Promise<string[]> {
  const r = await measureMany(count);
  console.error(
    `many connections: base ${r.baseKiB} KiB, idle ${r.idleKiB} KiB, after echo ${r.afterKiB} KiB`,
  );
  const n = count.toLocaleString("en-US");
  const per = (kiB: number) => ((kiB - r.baseKiB) / count).toFixed(1);
  const mib = (kiB: number) => (kiB / 1024).toFixed(1);
  return [
    `## ${n} concurrent connections (Protocol echo server)`,
    "",
    "The client (`many_client.ts`, another process) opens them all, idles, then",
    "sends 16 bytes on each and waits for the echo.",
    "",
    "| state | server RSS | per connection |",
    "| --- | ---: | ---: |",
    `| no connections | ${mib(r.baseKiB)} MiB | |`,
    `| ${n} idle | ${mib(r.idleKiB)} MiB | ${per(r.idleKiB)} KiB |`,
    `| after one echo on each | ${mib(r.afterKiB)} MiB | ${
      per(r.afterKiB)
    } KiB |`,
    `| peak (VmHWM) | ${mib(r.peakKiB)} MiB | ${per(r.peakKiB)} KiB |`,
  ];
}

if (import.meta.main) {
  console.log(
    (await runManyConnections(Number(Deno.args[0] ?? 10000))).join("\n"),
  );
}
