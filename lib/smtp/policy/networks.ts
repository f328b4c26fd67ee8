/*
 * networks — mynetworks matching for permit_mynetworks.
 *
 * Entries are Postfix's numeric forms: "192.0.2.0/24", "192.0.2.7", "[2001:db8::]/32",
 * "[::1]/128", "::1". Host names, /file/name and type:table entries are not supported and
 * are a configuration error (the brief of this engine: numeric networks only). IPv4-mapped
 * IPv6 clients (::ffff:192.0.2.7) match IPv4 networks. Uses node:net BlockList.
 * Talks to nothing. Security: client addresses are untrusted strings; a malformed one simply
 * does not match.
 */
import { BlockList, isIP } from "node:net";

export class NetworkListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetworkListError";
  }
}

/** "IPv6:::1", "[::1]", "::ffff:192.0.2.1" → a bare, lower-case address ("192.0.2.1"). */
export function normalizeIp(ip: string): string {
  let a = ip.trim().toLowerCase();
  if (a.startsWith("[") && a.endsWith("]")) a = a.slice(1, -1);
  if (a.startsWith("ipv6:")) a = a.slice(5);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return mapped?.[1] ?? a;
}

function addEntry(list: BlockList, entry: string): void {
  const m = /^\[?([^\]/]+)\]?(?:\/(\d{1,3}))?$/.exec(entry.trim());
  const addr = m?.[1] === undefined ? "" : normalizeIp(m[1]);
  const family = isIP(addr);
  if (m === null || family === 0) {
    throw new NetworkListError(
      `mynetworks: unsupported or invalid network "${entry}" (numeric networks only)`,
    );
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  const max = family === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) throw new NetworkListError(`mynetworks: bad network mask in "${entry}"`);
  list.addSubnet(addr, prefix, type);
}

/** Compile a mynetworks list; throws NetworkListError naming the bad entry. */
export function compileNetworks(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    if (e.trim() !== "") addEntry(list, e);
  }
  return list;
}

const compiled = new WeakMap<readonly string[], { list: BlockList; seen: Map<string, boolean> }>();
/** Answers kept per list: a client asks the same question at every RCPT (and of several lists). */
const SEEN_MAX = 256;

/** Is ip inside one of the networks? The compiled list (and recent answers) are cached per array. */
export function inNetworks(ip: string, entries: readonly string[]): boolean {
  let c = compiled.get(entries);
  if (c === undefined) {
    c = { list: compileNetworks(entries), seen: new Map() };
    compiled.set(entries, c);
  }
  const known = c.seen.get(ip);
  if (known !== undefined) return known;
  const addr = normalizeIp(ip);
  const family = isIP(addr);
  const inside = family !== 0 && c.list.check(addr, family === 4 ? "ipv4" : "ipv6");
  if (c.seen.size >= SEEN_MAX) c.seen.clear();
  c.seen.set(ip, inside);
  return inside;
}
