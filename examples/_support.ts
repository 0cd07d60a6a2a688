// Copyright 2026 the @aio/net authors. MIT license.
/**
 * What the examples share: command-line options and a LogTape setup that
 * prints `name: message` lines to stderr at debug level, as the asyncio
 * documents' `logging.basicConfig(format="%(name)s: %(message)s")` does.
 *
 * @module
 */
import { configure, type LogRecord } from "@logtape/logtape";

/** Options the examples accept on the command line. */
export interface ExampleArgs {
  host: string;
  port: number;
  path: string;
  /** The remaining (positional) arguments. */
  rest: string[];
}

/** Parses `--host H`, `--port N` and `--path P`; the rest is positional. */
export function parseExampleArgs(
  args: string[],
  defaults: Partial<ExampleArgs>,
): ExampleArgs {
  const out: ExampleArgs = {
    host: defaults.host ?? "localhost",
    port: defaults.port ?? 10000,
    path: defaults.path ?? "",
    rest: [],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new TypeError(`${arg} needs a value`);
      return v;
    };
    if (arg === "--host") out.host = value();
    else if (arg === "--port") out.port = Number(value());
    else if (arg === "--path") out.path = value();
    else out.rest.push(arg);
  }
  return out;
}

/** Parses `--name value` options into a map; the rest is positional. */
export function parseOptions(
  args: string[],
): { opts: Map<string, string>; rest: string[] } {
  const opts = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i]!.startsWith("--")) opts.set(args[i]!.slice(2), args[++i] ?? "");
    else rest.push(args[i]!);
  }
  return { opts, rest };
}

/** The Unix socket path the Unix examples use by default. */
export function defaultSocketPath(): string {
  return `${Deno.env.get("TMPDIR") ?? "/tmp"}/aio_net_echo.sock`;
}

/** Shows bytes as a quoted string, as Python's `{!r}` shows `b'...'`. */
export function show(data: Uint8Array): string {
  return JSON.stringify(new TextDecoder().decode(data));
}

/** Renders a LogTape record as `name: message`. */
function line(record: LogRecord): string {
  const name = record.category.at(-1) ?? "root";
  const text = record.message.map((part) =>
    typeof part === "string" ? part : Deno.inspect(part)
  ).join("");
  return `${name}: ${text}\n`;
}

let configured = false;

/** Sends every log record (the library's too) to stderr as `name: message`. */
export async function setupLogging(): Promise<void> {
  if (configured) return;
  configured = true;
  const encoder = new TextEncoder();
  await configure({
    sinks: {
      stderr: (record: LogRecord) =>
        Deno.stderr.writeSync(encoder.encode(line(record))),
    },
    loggers: [
      { category: [], lowestLevel: "debug", sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
        parentSinks: "override",
      },
    ],
  });
}

/** An AbortSignal that fires on SIGINT or SIGTERM (for servers run from the command line). */
export function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  controller.signal.addEventListener("abort", () => {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  });
  return controller.signal;
}
