// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The adapter protocol between the transport and the streams API (asyncio's
 * `StreamReaderProtocol`): it feeds a `StreamReader`, keeps the drain
 * waiters, and runs a server's client callback.
 *
 * @module
 */
import { logger } from "./_log.ts";
import { setReaderTransport, type StreamReader } from "./_reader.ts";
import { Protocol, type Transport } from "./protocol.ts";

/** What `startServer` calls for each client (typed loosely here to avoid a cycle). */
export type ClientCallback<W> = (
  reader: StreamReader,
  writer: W,
) => void | Promise<void>;

/** Feeds a reader from a transport and tracks the write side's flow control. */
export class StreamAdapter<W> extends Protocol {
  readonly reader: StreamReader;
  #transport: Transport | null = null;
  #onClient: {
    callback: ClientCallback<W>;
    makeWriter: (t: Transport, p: StreamAdapter<W>) => W;
  } | undefined;
  #writingPaused = false;
  #drainWaiters: PromiseWithResolvers<void>[] = [];
  #lost = false;
  #closed = Promise.withResolvers<void>();

  constructor(
    reader: StreamReader,
    onClient?: {
      callback: ClientCallback<W>;
      makeWriter: (t: Transport, p: StreamAdapter<W>) => W;
    },
  ) {
    super();
    this.reader = reader;
    this.#onClient = onClient;
    // Nobody may await waitClosed(); its rejection must not go unhandled.
    this.#closed.promise.catch(() => {});
  }

  /** Resolves when the connection is lost (rejects with its error). */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Whether this is the server's side (it runs a client callback). */
  get serverSide(): boolean {
    return this.#onClient !== undefined;
  }

  /** Talks to `transport` from now on (after `startTls`). */
  replaceTransport(transport: Transport): void {
    if (this.#lost) return;
    this.#transport = transport;
    setReaderTransport(this.reader, transport);
  }

  /** Whether `connectionLost` has run. */
  get lost(): boolean {
    return this.#lost;
  }

  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    setReaderTransport(this.reader, transport);
    if (!this.#onClient) return;
    const writer = this.#onClient.makeWriter(transport, this);
    let result: void | Promise<void>;
    try {
      result = this.#onClient.callback(this.reader, writer);
    } catch (err) {
      this.#clientFailed(err);
      return;
    }
    if (result instanceof Promise) {
      result.then(undefined, (err: unknown) => this.#clientFailed(err));
    }
  }

  #clientFailed(err: unknown): void {
    logger.error(
      "Unhandled exception in the client callback of startServer(): {error}",
      { error: err },
    );
    this.#transport?.close();
  }

  override dataReceived(data: Uint8Array): void {
    this.reader.feedData(data);
  }

  override eofReceived(): boolean {
    this.reader.feedEof();
    // Keep the write side open (half-close), except on TLS, which cannot.
    return this.#transport?.canWriteEof() ?? false;
  }

  override connectionLost(exc: Error | null): void {
    this.#lost = true;
    if (exc === null) this.reader.feedEof();
    else this.reader.setException(exc);
    setReaderTransport(this.reader, null);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) {
      if (exc === null) waiter.resolve();
      else waiter.reject(exc);
    }
    if (exc === null) this.#closed.resolve();
    else this.#closed.reject(exc);
    this.#transport = null;
  }

  override pauseWriting(): void {
    this.#writingPaused = true;
  }

  override resumeWriting(): void {
    this.#writingPaused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** Waits while writing is paused; throws once the connection is lost. */
  drainHelper(): Promise<void> {
    if (this.#lost) {
      return Promise.reject(
        new Deno.errors.ConnectionReset(
          "Cannot drain: the connection was lost",
        ),
      );
    }
    if (!this.#writingPaused) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    this.#drainWaiters.push(waiter);
    return waiter.promise;
  }
}
