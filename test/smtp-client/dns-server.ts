/*
 * dns-server — a tiny authoritative DNS server for tests (RFC 1035 over UDP on 127.0.0.1):
 * answers MX, A and AAAA questions from a table, NXDOMAIN for names it does not know,
 * NODATA for known names without records of the asked type, SERVFAIL where told to.
 * The smtp client reaches it through smtp_dns_servers = 127.0.0.1:PORT.
 */
import { createSocket, type Socket } from "node:dgram";
import { isIPv4 } from "node:net";

export interface ZoneEntry {
  mx?: [preference: number, exchange: string][];
  a?: string[];
  aaaa?: string[];
  servfail?: boolean;
}

export type Zone = Record<string, ZoneEntry>;

const TYPE_A = 1;
const TYPE_MX = 15;
const TYPE_AAAA = 28;

function encodeName(name: string): Buffer {
  const parts = name
    .replace(/\.$/, "")
    .split(".")
    .filter(Boolean)
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, "ascii")]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function ipv6Bytes(address: string): Buffer {
  const [head = "", tail = ""] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

function record(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(60, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function answersFor(entry: ZoneEntry, qtype: number): Buffer[] {
  if (qtype === TYPE_A)
    return (entry.a ?? []).filter(isIPv4).map((a) => record(TYPE_A, Buffer.from(a.split(".").map(Number))));
  if (qtype === TYPE_AAAA) return (entry.aaaa ?? []).map((a) => record(TYPE_AAAA, ipv6Bytes(a)));
  if (qtype === TYPE_MX)
    return (entry.mx ?? []).map(([pref, host]) => {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(pref, 0);
      return record(TYPE_MX, Buffer.concat([p, encodeName(host)]));
    });
  return [];
}

/** Parse the question; returns its name, type and end offset, or null when malformed. */
function parseQuestion(msg: Buffer): { name: string; qtype: number; end: number } | null {
  const labels: string[] = [];
  let off = 12;
  while (off < msg.length) {
    const len = msg[off] ?? 0;
    if (len === 0) break;
    if (len > 63) return null;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString("ascii"));
    off += len + 1;
  }
  if (off + 5 > msg.length) return null;
  return { name: labels.join(".").toLowerCase(), qtype: msg.readUInt16BE(off + 1), end: off + 5 };
}

export function answer(query: Buffer, zone: Zone): Buffer | null {
  if (query.length < 12) return null;
  const q = parseQuestion(query);
  if (!q) return null;
  const entry = zone[q.name];
  const rcode = entry === undefined ? 3 : entry.servfail ? 2 : 0;
  const answers = entry && !entry.servfail ? answersFor(entry, q.qtype) : [];
  const head = Buffer.alloc(12);
  head.writeUInt16BE(query.readUInt16BE(0), 0);
  head.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(answers.length, 6);
  return Buffer.concat([head, query.subarray(12, q.end), ...answers]);
}

export interface DnsServer {
  readonly address: string;
  readonly queries: string[];
  close(): Promise<void>;
}

/** Start the server on 127.0.0.1 with a random port; `zone` may be changed while it runs. */
export function startDnsServer(zone: Zone): Promise<DnsServer> {
  const sock: Socket = createSocket("udp4");
  const queries: string[] = [];
  sock.on("message", (msg, rinfo) => {
    const q = parseQuestion(msg);
    if (q) queries.push(`${q.name}/${q.qtype}`);
    const reply = answer(msg, zone);
    if (reply) sock.send(reply, rinfo.port, rinfo.address);
  });
  return new Promise((resolve) => {
    sock.bind(0, "127.0.0.1", () => {
      const { port } = sock.address();
      resolve({
        address: `127.0.0.1:${port}`,
        queries,
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}
