// Copyright 2026 the @aio/net authors. MIT license.
// Memory after a burst (issue 23): an echo server in a child process (its
// RSS is its own, `tests/fixtures/burst_server.ts`) echoes 1 MiB on each of
// its connections, which then sit idle; a server whose read memory follows
// the traffic has given back what the burst took by the time it is read.
import { assert, assertEquals } from "@std/assert";
import { delay, test, within } from "./_helpers.ts";

/**
 * The most a connection may keep of a burst, in KiB: issue 23's goal of
 * 32 KiB per connection for a connection that received 1 MiB and then went
 * quiet. It is measured from the level of the server with the same
 * connections open and idle before their burst, so that what each
 * connection costs anyway (its transport, protocol and socket) is not
 * counted, and after a warm-up burst on other connections, so that what a
 * burst costs the process once, whatever the number of connections, is
 * not either: free buffers kept in pools, the V8 heap grown to the burst's
 * pace (measured: 2 to 15 MiB, the most with 4 KiB reads), the allocator's
 * arenas. What is left is what the burst left behind in each connection.
 *
 * Every kind is held to it in live memory: the V8 heap and the
 * ArrayBuffers still reachable after a full GC. Resident memory (RSS) is
 * held to it only where the API makes no fresh memory for the bytes read
 * (`RSS_KINDS`): a `Protocol`'s `dataReceived` and `read()` hand out bytes
 * the application may keep, so each byte read is fresh memory, garbage once
 * dropped; an idle V8 does not collect it, and glibc keeps what it freed.
 * Those are held to it in RSS after a full GC and glibc's `malloc_trim(0)`
 * (`TRIM_KINDS`; both readings trimmed), which returns the free pages inside
 * the malloc heap: what the process still uses. The GC is V8's last-resort
 * one, which also gives back the heap pages it has emptied: after an
 * ordinary full GC, `readinto` kept 42 to 46 KiB a connection there, nearly
 * all of it V8 heap pages (its `heapTotal`, 21 KiB a connection more) that
 * V8's memory reducer gave back by itself 20 s later (2026-12-05). The
 * message shows every figure.
 */
const BOUND_KIB = 32;
/**
 * Connections measured: 32 KiB on each is 9.4 MiB, well above what the
 * warm-up leaves to chance, and each test stays under 10 s.
 */
const COUNT = 300;
/** What each connection sends and reads back. */
const BYTES = 1024 * 1024;
/** Connections that burst first, before the level is read (the warm-up). */
const WARMUP = 50;
/** How many connections burst at a time. */
const CONCURRENCY = 50;
/** How long the connections sit idle after the burst before the reading. */
const IDLE_MS = 2500;

/** The byte each connection's first exchange sends. */
const FIRST = 0x2a;

const kinds = ["protocol", "buffered", "streams", "readinto"] as const;
/** The kinds held to the bound in RSS too (see `BOUND_KIB`). */
const RSS_KINDS = new Set<string>(["buffered"]);
/** The kinds held to the bound in RSS after a GC and `malloc_trim(0)`. */
const TRIM_KINDS = new Set<string>([
  "protocol",
  "buffered",
  "streams",
  "readinto",
]);
const fixture = new URL("./fixtures/burst_server.ts", import.meta.url).pathname;

/** Where connection `c`'s bytes start in {@linkcode pattern} (4-aligned). */
const offsetOf = (c: number) => 4 * (c % 1021);
/** A pseudo-random byte for each position: every byte depends on where it is. */
const pattern = new Uint8Array(BYTES + offsetOf(1020));
for (let i = 0; i < pattern.length; i++) {
  pattern[i] = Math.imul(i, 2654435761) >>> 24;
}
const pattern32 = new Uint32Array(pattern.buffer, 0, pattern.length >>> 2);

/** The first byte at which `got` differs from connection `c`'s bytes, or -1. */
function firstDifference(got: Uint8Array, c: number): number {
  const words = new Uint32Array(got.buffer, got.byteOffset, BYTES >>> 2);
  const start = offsetOf(c) >>> 2;
  for (let w = 0; w < words.length; w++) {
    if (words[w] !== pattern32[start + w]) {
      for (let i = 4 * w;; i++) {
        if (got[i] !== pattern[offsetOf(c) + i]) return i;
      }
    }
  }
  return -1;
}

/** `/proc/PID/status` (through `cat` where Deno wants --allow-all for it). */
async function procStatus(pid: number): Promise<string> {
  try {
    return await Deno.readTextFile(`/proc/${pid}/status`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotCapable)) throw err;
  }
  const out = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** A process's current (VmRSS) and peak (VmHWM) resident memory, in KiB. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await procStatus(pid);
  const field = (name: string) =>
    Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/** The child's stdout, line by line. */
class Lines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #rest = "";
  constructor(stdout: ReadableStream<Uint8Array>) {
    this.#reader = stdout.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** The next line; rejects if the output ends first. */
  async next(): Promise<string> {
    while (!this.#rest.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the burst server's output ended");
      this.#rest += value;
    }
    const at = this.#rest.indexOf("\n");
    const line = this.#rest.slice(0, at);
    this.#rest = this.#rest.slice(at + 1);
    return line;
  }
  /** Reads to the end. */
  async drain(): Promise<void> {
    while (!(await this.#reader.read()).done) { /* discard */ }
  }
}

/** Sends connection `c`'s bytes and reads the echo into `into` at once. */
async function burst(
  conn: Deno.TcpConn,
  c: number,
  into: Uint8Array,
): Promise<void> {
  const bytes = pattern.subarray(offsetOf(c), offsetOf(c) + BYTES);
  const send = async () => {
    for (let off = 0; off < BYTES;) {
      off += await conn.write(bytes.subarray(off, off + 65536));
    }
  };
  const receive = async () => {
    for (let got = 0; got < BYTES;) {
      const n = await conn.read(into.subarray(got));
      if (n === null) throw new Error(`connection ${c} ended at byte ${got}`);
      got += n;
    }
  };
  await Promise.all([send(), receive()]);
  const at = firstDifference(into, c);
  assertEquals(at, -1, `connection ${c}: the echo differs at byte ${at}`);
}

/** KiB as MiB, for the report. */
const mib = (kib: number) => (kib / 1024).toFixed(1);

/** What `Deno.memoryUsage()` says in the child (bytes). */
type Usage = ReturnType<typeof Deno.memoryUsage>;

/** Bursts on `conns[from..to)`, `CONCURRENCY` at a time; returns the seconds taken. */
async function burstAll(
  conns: Deno.TcpConn[],
  from: number,
  to: number,
): Promise<number> {
  const began = performance.now();
  let next = from;
  await within(
    Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, to - from) }, async () => {
        const into = new Uint8Array(BYTES);
        while (next < to) {
          const c = next++;
          await burst(conns[c]!, c, into);
        }
      }),
    ),
    `the burst on ${to - from} connections`,
    60_000,
  );
  return (performance.now() - began) / 1000;
}

for (const kind of kinds) {
  test(
    `${kind}: after 1 MiB echoed on each of ${COUNT} connections and ${IDLE_MS} ms idle, the server keeps at most ${BOUND_KIB} KiB a connection more than before the burst, in live memory${
      RSS_KINDS.has(kind) ? " and in RSS" : ""
    }${TRIM_KINDS.has(kind) ? " and in RSS after malloc_trim(0)" : ""}`,
    {
      deadline: 120_000,
      ignore: Deno.build.os !== "linux" && "reads /proc, which only Linux has",
    },
    async () => {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-net",
          "--allow-ffi",
          "--v8-flags=--expose-gc",
          fixture,
          kind,
        ],
        cwd: new URL("../", import.meta.url),
        env: { DENO_NO_UPDATE_CHECK: "1" },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const out = new Lines(child.stdout);
      const stderr = new Response(child.stderr).text();
      const stdin = child.stdin.getWriter();
      /** The child's `Deno.memoryUsage()`, after a full GC for `gc`. */
      const usage = async (
        command: "mem" | "gc" | "trim",
      ): Promise<Usage & { trimmed?: boolean }> => {
        await stdin.write(new TextEncoder().encode(`${command}\n`));
        return JSON.parse(await within(out.next(), `the answer to ${command}`));
      };
      /**
       * Live memory: the usage after a full GC, once V8 has swept the
       * ArrayBuffers it freed (that runs behind the GC: `external` falls
       * about a second later).
       */
      const settled = async (): Promise<Usage> => {
        await usage("gc");
        await delay(1000);
        await usage("gc");
        await delay(300);
        return await usage("mem");
      };
      /**
       * Trims twice, a second apart, and reads after the second: once, one
       * trim left 41.5 KiB a connection where 3 to 10 is usual (what was
       * freed after it is not known); the second takes back what was
       * freed meanwhile.
       */
      const trimmedUsage = async () => {
        await usage("trim");
        await delay(1000);
        const u = await usage("trim");
        await delay(300);
        return u;
      };
      const conns: Deno.TcpConn[] = [];
      let failed = true;
      try {
        const port = Number(
          await within(out.next(), "the server's port", 30_000),
        );
        assert(port > 0, `the burst server printed ${port}`);
        // Open them all, and see each served: a byte there and back.
        for (let c = 0; c < WARMUP + COUNT; c++) {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        }
        await within(
          Promise.all(conns.map(async (conn) => {
            await conn.write(new Uint8Array([FIRST]));
            const one = new Uint8Array(1);
            assertEquals(await conn.read(one), 1);
            assertEquals(one[0], FIRST);
          })),
          "a byte echoed on every connection",
          30_000,
        );
        // The warm-up: what a burst costs the process once (see BOUND_KIB)
        // is paid before the level the bound is measured from. The warm-up
        // connections then idle as long as the measured ones will, so that
        // what they keep is the same in both readings.
        await burstAll(conns, 0, WARMUP);
        await delay(IDLE_MS);
        const before = await memoryOf(child.pid);
        const usageBefore = await settled();
        const canTrim = (await trimmedUsage()).trimmed !== false;
        const trimmedBefore = await memoryOf(child.pid);

        const seconds = await burstAll(conns, WARMUP, WARMUP + COUNT);
        // The connections sit idle: that is the state measured.
        await delay(IDLE_MS);
        const after = await memoryOf(child.pid);
        const usageAfter = await usage("mem");
        const usageCollected = await settled();
        const collected = await memoryOf(child.pid);
        await trimmedUsage();
        const trimmed = await memoryOf(child.pid);
        const perTrimmed = (trimmed.rss - trimmedBefore.rss) / COUNT;

        const per = (kib: number) => ((kib - before.rss) / COUNT).toFixed(1);
        const perBytes = (f: (u: Usage) => number, u: Usage) =>
          ((f(u) - f(usageBefore)) / 1024 / COUNT).toFixed(1);
        const js = (u: Usage) =>
          `V8 heap used ${perBytes((x) => x.heapUsed, u)}, ` +
          `heap total ${perBytes((x) => x.heapTotal, u)}, ` +
          `external (ArrayBuffers) ${perBytes((x) => x.external, u)}`;
        const report = [
          `${kind}: ${COUNT} connections, 1 MiB echoed on each in ${
            seconds.toFixed(1)
          } s (${CONCURRENCY} at a time), after a warm-up burst on ${WARMUP} others.`,
          `Server RSS idle before the burst ${mib(before.rss)} MiB; ` +
          `${IDLE_MS} ms after it ${mib(after.rss)} MiB (${
            per(after.rss)
          } KiB a connection more); ` +
          `after a forced GC ${mib(collected.rss)} MiB (${
            per(collected.rss)
          } KiB); peak ${mib(after.hwm)} MiB (${per(after.hwm)} KiB).`,
          canTrim
            ? `After malloc_trim(0) too: ${
              mib(trimmedBefore.rss)
            } MiB before, ${mib(trimmed.rss)} MiB after (${
              perTrimmed.toFixed(1)
            } KiB a connection more).`
            : "No malloc_trim here (not glibc): the trimmed RSS is not read.",
          `KiB a connection more, idle after the burst: ${js(usageAfter)}; ` +
          `after a forced GC (live): ${js(usageCollected)}.`,
        ].join("\n");
        console.log(report);
        const live = (u: Usage) => u.heapUsed + u.external;
        assert(
          (live(usageCollected) - live(usageBefore)) / 1024 / COUNT <=
            BOUND_KIB,
          `over the bound of ${BOUND_KIB} KiB a connection in live memory:\n${report}`,
        );
        if (canTrim && TRIM_KINDS.has(kind)) {
          assert(
            perTrimmed <= BOUND_KIB,
            `over the bound of ${BOUND_KIB} KiB a connection in RSS after a GC and malloc_trim(0):\n${report}`,
          );
        }
        if (RSS_KINDS.has(kind)) {
          assert(
            (after.rss - before.rss) / COUNT <= BOUND_KIB,
            `over the bound of ${BOUND_KIB} KiB a connection in RSS, without a forced GC:\n${report}`,
          );
        }
        failed = false;
      } finally {
        for (const conn of conns) conn.close();
        await stdin.close().catch(() => {});
        const status = await within(child.status, "the server's exit", 10_000)
          .catch(async (err) => {
            child.kill("SIGKILL");
            await child.status;
            if (!failed) throw err;
          });
        await out.drain();
        const text = await stderr;
        if (failed && text !== "") {
          console.error(`burst server (${kind}):\n${text}`);
        }
        // The server ends cleanly (unless the test failed already: its error
        // is the one to see).
        if (!failed) assertEquals(status?.code, 0, text);
      }
    },
  );
}
