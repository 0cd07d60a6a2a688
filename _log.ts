// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The module's diagnostics: one LogTape logger, and the reporting of
 * exceptions that have no caller to go to.
 *
 * LogTape is library-first: nothing is emitted until the application calls
 * `configure()`. An exception from user code must never vanish, though, so
 * {@linkcode reportException} works as asyncio's default exception handler:
 * through the logger once the application has configured LogTape, else
 * printed to stderr, and to the application's own handler instead of both
 * once it has set one with {@linkcode setExceptionHandler}.
 *
 * @module
 */
import { getConfig, getLogger, type Logger } from "@logtape/logtape";
import type { ExceptionContext, ExceptionHandler } from "./_contract.ts";

/** Logger category of every diagnostic this module emits. */
export const LOG_CATEGORY: readonly ["aio", "net"] = ["aio", "net"];

/** The module's logger. */
export const logger: Logger = getLogger([...LOG_CATEGORY]);

/**
 * Whether an error is an expected way for a peer to go away (reset, broken
 * pipe, aborted, or silent past a timeout). Those are logged at debug level,
 * as asyncio does.
 */
export function isConnectionError(err: unknown): boolean {
  return err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.UnexpectedEof ||
    err instanceof Deno.errors.TimedOut;
}

let handler: ExceptionHandler | null = null;

/**
 * Sets the handler of exceptions that have no caller to go to (asyncio's
 * `loop.set_exception_handler`): those of protocol callbacks, protocol
 * factories, streams client callbacks, server-side TLS handshakes and
 * accept loops. Each is reported once, with its context. `null` restores
 * the default, {@linkcode defaultExceptionHandler}: the logger once the
 * application has configured LogTape, else stderr.
 *
 * The handler is one for the whole module (there is no event loop object
 * to hang it on) and runs synchronously; what it throws goes to the default
 * handler, with the original exception.
 *
 * @param next The new handler, or `null` for the default.
 * @returns The handler it replaces (`null` for the default).
 * @throws {TypeError} If `next` is neither a function nor `null`.
 *
 * @example Collect the exceptions of a server's protocols
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import {
 *   createConnection,
 *   createServer,
 *   type ExceptionContext,
 *   Protocol,
 *   setExceptionHandler,
 * } from "@aio/net/protocol";
 *
 * const seen: ExceptionContext[] = [];
 * const reported = Promise.withResolvers<void>();
 * const previous = setExceptionHandler((context) => {
 *   seen.push(context);
 *   reported.resolve();
 * });
 * class Broken extends Protocol {
 *   override dataReceived(): void {
 *     throw new Error("bug in dataReceived");
 *   }
 * }
 * try {
 *   await using server = await createServer(() => new Broken(), "127.0.0.1", 0);
 *   const { port } = server.sockets[0]!.addr as Deno.NetAddr;
 *   const [transport] = await createConnection(() => new Protocol(), "127.0.0.1", port);
 *   transport.write(new TextEncoder().encode("hi"));
 *   await reported.promise;
 *   transport.close();
 * } finally {
 *   setExceptionHandler(previous);
 * }
 * assertEquals(seen[0]!.message, "Exception in dataReceived()");
 * assertEquals(seen[0]!.exception.message, "bug in dataReceived");
 * ```
 */
export function setExceptionHandler(
  next: ExceptionHandler | null,
): ExceptionHandler | null {
  if (next !== null && typeof next !== "function") {
    throw new TypeError(
      `handler must be a function or null, got ${
        next === undefined ? "undefined" : typeof next
      }`,
    );
  }
  const previous = handler;
  handler = next;
  return previous;
}

/**
 * The handler set by {@linkcode setExceptionHandler}, or `null` when the
 * default is in use (asyncio's `loop.get_exception_handler`).
 *
 * @returns The handler, or `null`.
 *
 * @example The default is in use until one is set
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { getExceptionHandler } from "@aio/net/protocol";
 *
 * assertEquals(getExceptionHandler(), null);
 * ```
 */
export function getExceptionHandler(): ExceptionHandler | null {
  return handler;
}

/** Where an exception happened, as `" (peer 127.0.0.1:5, server …)"`. */
function where(context: ExceptionContext): string {
  const parts = [];
  if (context.peer !== undefined) parts.push(`peer ${context.peer}`);
  if (context.server !== undefined) parts.push(`server ${context.server}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/**
 * The default handler (asyncio's `loop.default_exception_handler`): logs
 * the exception as an error under the `["aio", "net"]` category once the
 * application has configured LogTape, else prints it, with its context and
 * stack, to stderr. A handler of your own can call it for what it does not
 * handle itself.
 *
 * @param context What failed, and where.
 *
 * @example Handle some exceptions, pass the rest on
 * ```ts
 * import {
 *   defaultExceptionHandler,
 *   setExceptionHandler,
 * } from "@aio/net/protocol";
 *
 * const previous = setExceptionHandler((context) => {
 *   if (context.exception instanceof Deno.errors.PermissionDenied) return;
 *   defaultExceptionHandler(context);
 * });
 * setExceptionHandler(previous);
 * ```
 */
export function defaultExceptionHandler(context: ExceptionContext): void {
  if (getConfig() !== null) {
    logger.error("{message}{where}: {error}", {
      message: context.message,
      where: where(context),
      error: context.exception,
      ...(context.peer !== undefined ? { peer: context.peer } : {}),
      ...(context.server !== undefined ? { server: context.server } : {}),
    });
    return;
  }
  console.error(
    `@aio/net: ${context.message}${where(context)}\n${
      Deno.inspect(context.exception)
    }`,
  );
}

/**
 * Reports an exception that has no caller to go to, once: to the
 * application's handler if it set one (and, should that throw, both to the
 * default handler), else to the default handler.
 */
export function reportException(context: ExceptionContext): void {
  if (handler === null) {
    defaultExceptionHandler(context);
    return;
  }
  try {
    handler(context);
  } catch (err) {
    defaultExceptionHandler({
      message: "Exception in the exception handler",
      exception: err instanceof Error ? err : new Error(String(err)),
    });
    defaultExceptionHandler(context);
  }
}
