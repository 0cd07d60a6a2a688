// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The module's one logger. LogTape is library-first: nothing is emitted until
 * the application calls `configure()`.
 *
 * @module
 */
import { getLogger, type Logger } from "@logtape/logtape";

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

/** Called for errors raised by protocol code after the transport is gone. */
export function logCallbackError(err: unknown, what: string): void {
  logger.error(
    "Exception in {callback} after the connection was lost: {error}",
    {
      callback: what,
      error: err,
    },
  );
}
