// Copyright 2026 the @aio/net authors. MIT license.
// Writes TOTAL bytes to each client as fast as flow control allows, over the
// protocol API (pauseWriting/resumeWriting) or streams (drain), then closes.
// Usage: flood.ts protocol|streams TOTAL
import {
  createServer,
  Protocol,
  startServer,
  type Transport,
} from "../../mod.ts";

const [kind, totalArg] = Deno.args;
const total = Number(totalArg);
const chunk = new Uint8Array(64 * 1024).fill(0x5a);

class Flood extends Protocol {
  #transport?: Transport;
  #sent = 0;
  #paused = false;
  override connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#pump();
  }
  override pauseWriting(): void {
    this.#paused = true;
  }
  override resumeWriting(): void {
    this.#paused = false;
    this.#pump();
  }
  #pump(): void {
    while (!this.#paused && this.#sent < total) {
      this.#transport!.write(chunk);
      this.#sent += chunk.length;
    }
    if (this.#sent >= total) this.#transport!.close();
  }
}

const server = kind === "protocol"
  ? await createServer(() => new Flood(), "127.0.0.1", 0)
  : await startServer(
    async (_reader, writer) => {
      for (let sent = 0; sent < total; sent += chunk.length) {
        writer.write(chunk);
        await writer.drain();
      }
      writer.close();
    },
    "127.0.0.1",
    0,
  );
console.log((server.sockets[0]!.addr as Deno.NetAddr).port);
await server.serveForever();
