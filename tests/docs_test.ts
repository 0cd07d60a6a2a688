// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The TypeScript examples of the Markdown pages (the README, `docs/`,
 * CONTRIBUTING, and the bench and examples READMEs) type-check, so that none
 * can drift from the API.
 *
 * They are type-checked, not run: they listen on fixed ports, serve forever
 * or read files a reader has to make, which is why `deno.json` keeps the
 * Markdown pages out of `deno test --doc` (which would run them). Each code
 * block is checked as a module of its own, so every example carries its own
 * imports. A `sh` or `text` block is not checked.
 */
import { assert } from "@std/assert";
import { test } from "./_helpers.ts";

const root = new URL("../", import.meta.url);

/** The Markdown pages whose examples are checked, relative to the root. */
async function pages(): Promise<string[]> {
  const found = [
    "README.md",
    "CONTRIBUTING.md",
    "bench/README.md",
    "examples/README.md",
  ];
  for await (const entry of Deno.readDir(new URL("docs/", root))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      found.push(`docs/${entry.name}`);
    }
  }
  const exists = await Promise.all(
    found.map((page) =>
      Deno.stat(new URL(page, root)).then(() => true, () => false)
    ),
  );
  return found.filter((_, i) => exists[i]).sort();
}

test("docs: every TypeScript example in the README and docs/ type-checks", {
  deadline: 120_000,
}, async () => {
  const files = await pages();
  assert(files.includes("README.md") && files.length > 1, `${files}`);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc-only", ...files],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  assert(
    code === 0,
    `deno check --doc-only ${files.join(" ")} failed:\n` +
      dec.decode(stdout) + dec.decode(stderr),
  );
});
