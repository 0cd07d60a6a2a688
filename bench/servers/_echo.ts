// Copyright 2026 the @aio/net authors. MIT license.
// The streams echo loop the streams servers share: read(65536), write, drain.
import type { StreamReader, StreamWriter } from "../../mod.ts";

/** Echoes until EOF, then closes. */
export async function echoStreams(
  reader: StreamReader,
  writer: StreamWriter,
): Promise<void> {
  while (true) {
    const data = await reader.read(65536);
    if (data.length === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}
