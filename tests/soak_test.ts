// Copyright 2026 the @aio/net authors. MIT license.
/**
 * A bounded soak run (issue 14; the long one is `tests/_soak.ts`): three echo
 * servers (protocol, streams, streams over TLS) under concurrent clients that
 * half-close, reset, abort, read slowly or send nothing, with a server closed
 * mid-load by `closeClients()` and another by `abortClients()`.
 *
 * Two runs at once: one in this process, under the test sanitizers, and one
 * in a process of its own (the CLI with `--json`), because the process-wide
 * measures (open descriptors back to the baseline exactly, RSS within a
 * tolerance) mean nothing in a process shared with other test modules, which
 * `deno test --parallel` runs in one process. In this process the soak's own
 * sockets are counted instead (those on the soak servers' ports: none may be
 * left).
 *
 * Set `SOAK_SEED` to replay a seed (the timing still varies).
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  formatFigures,
  runSoak,
  type SoakFigures,
  soakProblems,
} from "./_soak.ts";
import { test } from "./_helpers.ts";

const SEED = Number(
  Deno.env.get("SOAK_SEED") ?? Math.floor(Math.random() * 1_000_000),
);
const MiB = 1024 * 1024;
/** RSS the separate run may keep over its baseline (after GC and malloc_trim). */
const RSS_TOLERANCE_MIB = 64;

/** The same soak in a process of its own, for the process-wide measures. */
async function soakInOwnProcess(): Promise<
  { figures: SoakFigures; problems: string[]; stderr: string }
> {
  const { stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      new URL("./_soak.ts", import.meta.url).pathname,
      ...["--clients", "8", "--seconds", "1", "--seed", String(SEED + 1)],
      ...["--slow-reader-max", String(16 * MiB), "--hang-ms", "5000"],
      "--json",
    ],
    cwd: new URL("..", import.meta.url).pathname,
    // Deno's update check would open sockets of its own.
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  assert(text.trim().length > 0, `the soak process printed nothing:\n${err}`);
  return { ...JSON.parse(text), stderr: err };
}

test(
  `soak: three echo servers under load and faults, every echo exact, nothing left open (seed ${SEED})`,
  { deadline: 120_000 },
  async () => {
    const own = soakInOwnProcess();
    own.catch(() => {}); // awaited below
    const figures = await runSoak({
      clients: 12,
      seconds: 1.2,
      seed: SEED,
      // Well past what the kernel buffers between the server and a client
      // that does not read, so that the server's own write buffer fills.
      slowReaderMax: 16 * MiB,
      hangMs: 5000,
      ownProcess: false, // other test modules share it
    });
    const table = `\n${formatFigures(figures)}`;

    // In this process (sanitizers on).
    assertEquals(
      figures.unhandled,
      [],
      `unhandled rejections or errors${table}`,
    );
    assertEquals(figures.mismatches, [], `wrong echoes${table}`);
    assertEquals(figures.hangs, [], `hangs${table}`);
    assertEquals(figures.unexpected, [], `unexpected errors${table}`);
    assertEquals(
      figures.fds.soakSocketsAfter,
      0,
      `sockets of the soak left open${table}`,
    );
    assert(figures.postCheck, `a new server did not accept and echo${table}`);
    assert(figures.echoes > 0 && figures.bytesEchoed > 0, table);
    assert(figures.faults.serverCloseClients >= 1, table);
    assert(figures.faults.serverAbortClients >= 1, table);
    // Every other kind of fault was injected, no error was logged, and a slow
    // reader made a server's write buffer fill up.
    assertEquals(soakProblems(figures), [], table);

    // In a process of its own: descriptors back to the baseline exactly, RSS
    // within the tolerance.
    const { figures: alone, problems, stderr } = await own;
    const aloneTable = `\n${formatFigures(alone)}\n${stderr}`;
    assertEquals(
      alone.fds.after,
      alone.fds.before,
      `open descriptors after the run vs before${aloneTable}`,
    );
    assertEquals(alone.fds.soakSocketsAfter, 0, aloneTable);
    assert(
      alone.rssMiB.after - alone.rssMiB.before <= RSS_TOLERANCE_MIB,
      `RSS grew by ${
        (alone.rssMiB.after - alone.rssMiB.before).toFixed(1)
      } MiB${aloneTable}`,
    );
    assertEquals(problems, [], aloneTable);
  },
);
