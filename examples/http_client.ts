// Copyright 2026 the @aio/net authors. MIT license.
/**
 * The HTTP GET client that the asyncio document 004 grows step by step, in
 * its final form on streams: `new ClientSession().get(url)` sends `GET` with
 * `Host` and `Connection: close`, parses the status line and headers, and
 * reads a body framed by `Content-Length`, chunked transfer encoding, or EOF.
 *
 * Run: deno run --allow-net examples/http_client.ts http://127.0.0.1:8000/
 *
 * @module
 */
import {
  IncompleteReadError,
  openConnection,
  type StreamReader,
} from "../mod.ts";

/** A parsed HTTP response. */
export interface HttpResponse {
  status: number;
  reason: string;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Map<string, string>;
  body: Uint8Array;
}

const decoder = new TextDecoder();

/** Thrown for a response that is not valid HTTP/1.x. */
export class MalformedResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedResponseError";
  }
}

/** One line without its CRLF; malformed if the stream ends first. */
async function readLine(reader: StreamReader, what: string): Promise<string> {
  const line = await reader.readline();
  if (line.length === 0 || line[line.length - 1] !== 0x0a) {
    throw new MalformedResponseError(
      `Malformed response: the connection closed in the ${what}`,
    );
  }
  return decoder.decode(line).replace(/\r?\n$/, "");
}

/** Reads exactly `n` body bytes. */
async function readBody(reader: StreamReader, n: number): Promise<Uint8Array> {
  try {
    return await reader.readexactly(n);
  } catch (err) {
    if (err instanceof IncompleteReadError) {
      throw new MalformedResponseError(
        `Malformed response: body ended after ${err.partial.length} of ${n} bytes`,
      );
    }
    throw err;
  }
}

/** A minimal HTTP/1.1 client session, as in the document. */
export class ClientSession {
  /**
   * Fetches `url` with GET.
   *
   * @throws {TypeError} For a URL that does not parse or is not `http:`.
   * @throws {MalformedResponseError} For a response that is not HTTP/1.x.
   */
  async get(url: string): Promise<HttpResponse> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TypeError(`Invalid URL: ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== "http:") {
      throw new TypeError(
        `Unsupported URL scheme ${
          JSON.stringify(parsed.protocol)
        }: only http: URLs are supported`,
      );
    }
    const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = parsed.port === "" ? 80 : Number(parsed.port);
    const [reader, writer] = await openConnection(host, port);
    try {
      const target = `${parsed.pathname}${parsed.search}`;
      writer.write(new TextEncoder().encode(
        `GET ${target} HTTP/1.1\r\nHost: ${parsed.host}\r\nConnection: close\r\nUser-Agent: aio-net-example\r\n\r\n`,
      ));
      await writer.drain();

      const statusLine = await readLine(reader, "status line");
      const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!match) {
        throw new MalformedResponseError(
          `Malformed status line: ${JSON.stringify(statusLine)}`,
        );
      }
      const headers = new Map<string, string>();
      while (true) {
        const line = await readLine(reader, "headers");
        if (line === "") break;
        const colon = line.indexOf(":");
        if (colon <= 0) {
          throw new MalformedResponseError(
            `Malformed header line: ${JSON.stringify(line)}`,
          );
        }
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers.set(
          name,
          headers.has(name) ? `${headers.get(name)}, ${value}` : value,
        );
      }

      let body: Uint8Array;
      const encoding = headers.get("transfer-encoding")?.toLowerCase() ?? "";
      const length = headers.get("content-length");
      if (encoding.split(",").map((s) => s.trim()).includes("chunked")) {
        const parts: Uint8Array[] = [];
        while (true) {
          const sizeLine = await readLine(reader, "chunk size");
          const size = parseInt(sizeLine.split(";")[0]!.trim(), 16);
          if (
            !Number.isFinite(size) || size < 0 ||
            !/^[0-9a-fA-F]+$/.test(sizeLine.split(";")[0]!.trim())
          ) {
            throw new MalformedResponseError(
              `Malformed chunk size: ${JSON.stringify(sizeLine)}`,
            );
          }
          if (size === 0) break;
          parts.push(await readBody(reader, size));
          if (await readLine(reader, "chunk") !== "") {
            throw new MalformedResponseError(
              "Malformed chunk: no CRLF after the data",
            );
          }
        }
        while ((await readLine(reader, "trailers")) !== "") {
          /* skip trailers */
        }
        body = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of parts) {
          body.set(p, off);
          off += p.length;
        }
      } else if (length !== undefined) {
        if (!/^\d+$/.test(length)) {
          throw new MalformedResponseError(
            `Malformed Content-Length: ${JSON.stringify(length)}`,
          );
        }
        body = await readBody(reader, Number(length));
      } else {
        body = await reader.read(); // framed by EOF
      }
      return {
        status: Number(match[1]),
        reason: match[2] ?? "",
        headers,
        body,
      };
    } finally {
      writer.close();
      await writer.waitClosed().catch(() => {});
    }
  }
}

/** Prints the response to `url` as the document does. */
export async function main(args: string[]): Promise<void> {
  const url = args[0] ?? "http://127.0.0.1:8000/";
  const response = await new ClientSession().get(url);
  console.log(`HTTP ${response.status} ${response.reason}`);
  for (const [name, value] of response.headers) {
    console.log(`${name}: ${value}`);
  }
  console.log("");
  console.log(decoder.decode(response.body));
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`error: ${err instanceof Error ? err.message : err}`);
    Deno.exit(1);
  }
}
