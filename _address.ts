// Copyright 2026 the @aio/net authors. MIT license.
/**
 * Addresses: IP literals parsed and classified once for every module (UDP's
 * checks and families, TLS's "is this a name or an address"), and socket
 * addresses written out for messages. Imports nothing but types.
 *
 * @module
 */
import type { DatagramFamily } from "./_options.ts";

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** The longest UDP payload over IPv4: 65,535 less the IP and UDP headers. */
export const MAX_DATAGRAM_IPV4 = 65507;
/** The longest UDP payload over IPv6 (without jumbograms): 65,535 less the UDP header. */
export const MAX_DATAGRAM_IPV6 = 65527;

/** Parses a dotted-quad IPv4 address; `null` if `text` is not one. */
export function parseIPv4(text: string): number[] | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    bytes.push(n);
  }
  return bytes;
}

/** Parses an IPv6 address (a `%zone` suffix allowed) into 16 bytes; `null` if `text` is not one. */
function parseIPv6(text: string): number[] | null {
  const zone = text.indexOf("%");
  if (zone === 0 || zone === text.length - 1) return null;
  const addr = zone > 0 ? text.slice(0, zone) : text;
  const halves = addr.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string, last: boolean): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (const [i, item] of items.entries()) {
      if (last && i === items.length - 1 && item.includes(".")) {
        const v4 = parseIPv4(item);
        if (!v4) return null;
        out.push(v4[0]! << 8 | v4[1]!, v4[2]! << 8 | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else return null;
    }
    return out;
  };
  const head = groups(halves[0]!, halves.length === 1);
  if (!head) return null;
  let all: number[];
  if (halves.length === 1) {
    if (head.length !== 8) return null;
    all = head;
  } else {
    const tail = groups(halves[1]!, true);
    if (!tail || head.length + tail.length > 7) return null;
    all = [
      ...head,
      ...new Array<number>(8 - head.length - tail.length).fill(0),
      ...tail,
    ];
  }
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** 4 for an IPv4 address, 6 for an IPv6 one, 0 for anything else (a host name). */
export function ipVersion(hostname: string): 0 | 4 | 6 {
  if (parseIPv4(hostname)) return 4;
  if (parseIPv6(hostname)) return 6;
  return 0;
}

/**
 * A canonical form of an IP address, to compare two spellings: IPv4
 * dotted-quad, IPv6 as eight hex groups, an IPv4-mapped IPv6 address
 * (`::ffff:a.b.c.d`) as its IPv4 address. Host names come back as given.
 */
export function ipKey(hostname: string): string {
  const v6 = parseIPv6(hostname);
  if (!v6) return parseIPv4(hostname)?.join(".") ?? hostname;
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff &&
    v6[11] === 0xff;
  if (mapped) return v6.slice(12).join(".");
  const out: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    out.push((v6[i]! << 8 | v6[i + 1]!).toString(16));
  }
  return out.join(":");
}

/** Whether `hostname` is a multicast address (224.0.0.0/4, ff00::/8) of `family`. */
export function isMulticast(hostname: string, family: DatagramFamily): boolean {
  if (family === "ipv4") {
    const v4 = parseIPv4(hostname);
    return v4 !== null && v4[0]! >= 224 && v4[0]! <= 239;
  }
  return parseIPv6(hostname)?.[0] === 0xff;
}

/**
 * Whether an IPv6 endpoint's datagrams to `hostname` go over IPv4: an
 * IPv4 address, or an IPv4-mapped IPv6 one (`::ffff:a.b.c.d`).
 */
export function overIPv4(hostname: string): boolean {
  return hostname.includes(".") && ipVersion(ipKey(hostname)) === 4;
}

/** The family a literal address belongs to, or `undefined` for a host name. */
export function familyOf(hostname: string): DatagramFamily | undefined {
  const version = ipVersion(hostname);
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : undefined;
}

/** `"IPv4"` or `"IPv6"`, for messages. */
export function familyName(family: DatagramFamily): string {
  return family === "ipv4" ? "IPv4" : "IPv6";
}

/** A readable form of a socket address. */
export function formatAddr(addr: Deno.Addr): string {
  switch (addr.transport) {
    case "tcp":
    case "udp":
      return hostPort(addr.hostname, addr.port);
    default:
      return "path" in addr ? addr.path || "(unnamed)" : String(addr.transport);
  }
}
