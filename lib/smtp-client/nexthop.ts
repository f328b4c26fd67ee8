/*
 * nexthop — where the smtp client takes mail for a domain (Postfix's smtp_connect.c and
 * dns_lookup.c, minus the sockets): transport_maps ("user@domain", "domain", ".parent" ...,
 * "*" → "smtp:[host]:port"), else relayhost, else the recipient domain itself. A next hop
 * "[host]:port" or an address literal is used as is; "host[:port]" is looked up as MX
 * (by preference, random among equal preferences, the domain's own A/AAAA when it has no
 * MX), each MX host then resolved to addresses of the families inet_protocols allows.
 *
 * Talks to DNS through an injected Resolver (smtp_dns_servers → resolver.setServers(), so
 * tests point it at a local server) and, for smtp_host_lookup=native, getaddrinfo.
 * RFCs: 5321 5.1 (MX, implicit MX), 1035. Security: DNS answers are untrusted data; only
 * host names and addresses come out of here, never text from a response.
 */
import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import type { LookupTable } from "../maps/index.js";

/** A parsed next-hop spec: "[mx.example]:2525" → { host, port: 2525, mxLookup: false }. */
export interface NexthopSpec {
  readonly host: string;
  readonly port: number;
  readonly mxLookup: boolean;
}

/** One address to try, in order. */
export interface Target {
  readonly hostname: string;
  readonly address: string;
  readonly port: number;
}

/** A lookup failure, already phrased as Postfix's smtp logs it. */
export interface NexthopError {
  readonly temporary: boolean;
  readonly dsn: string;
  readonly text: string;
}

export type NexthopResult = { ok: true; targets: Target[] } | { ok: false; error: NexthopError };

export interface NexthopConfig {
  readonly transportMaps: readonly LookupTable[];
  readonly relayhost: string;
  /** smtp_host_lookup: "dns" and/or "native", in order. */
  readonly hostLookup: readonly string[];
  /** inet_protocols: "all", "ipv4", "ipv6". */
  readonly inetProtocols: readonly string[];
  readonly defaultPort: number;
  /** Picks among equal-preference MX hosts; Math.random in production. */
  readonly random?: () => number;
}

/** The resolver smtp_dns_servers describes; an empty list keeps the system's resolv.conf. */
export function createResolver(servers: readonly string[], timeoutMs = 5000): dns.Resolver {
  const resolver = new dns.Resolver({ timeout: timeoutMs, tries: 2 });
  if (servers.length > 0) resolver.setServers(servers.map(normaliseServer));
  return resolver;
}

/** "127.0.0.1:5353" and "[::1]:53" as setServers expects; a bare address stays as is. */
function normaliseServer(server: string): string {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return v6[2] ? `[${v6[1]}]:${v6[2]}` : (v6[1] ?? server);
  return server;
}

/** Parse "[host]:port", "host:port", "[host]", "host", "[ipv6:...]:port". Null when malformed. */
export function parseNexthop(spec: string, defaultPort: number): NexthopSpec | null {
  const text = spec.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const plain = /^([^[\]:\s]+)(?::(\d+))?$/.exec(text);
  const m = bracketed ?? plain;
  if (!m?.[1]) return null;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  const host = m[1].replace(/^ipv6:/i, "");
  return { host, port, mxLookup: bracketed === null && isIP(host) === 0 };
}

/** transport_maps search order: the address, the domain, each parent as ".parent", "*". */
export function transportKeys(recipient: string): string[] {
  const at = recipient.lastIndexOf("@");
  const domain = (at < 0 ? "" : recipient.slice(at + 1)).toLowerCase().replace(/\.$/, "");
  const keys = at < 0 ? [] : [recipient.toLowerCase()];
  if (domain !== "") keys.push(domain);
  const labels = domain.split(".");
  for (let i = 1; i < labels.length; i++) keys.push(`.${labels.slice(i).join(".")}`);
  keys.push("*");
  return keys;
}

/** The nexthop text of a transport_maps value "transport:nexthop"; "" when it names none. */
export async function lookupTransport(
  recipient: string,
  maps: readonly LookupTable[],
): Promise<string | undefined> {
  for (const key of transportKeys(recipient)) {
    for (const map of maps) {
      const value = await map.lookup(key);
      if (value === undefined) continue;
      const colon = value.indexOf(":");
      return colon < 0 ? "" : value.slice(colon + 1).trim();
    }
  }
  return undefined;
}

/** The next-hop spec for a recipient: transport_maps, else relayhost, else its domain. */
export async function nexthopFor(recipient: string, cfg: NexthopConfig): Promise<string> {
  const fromMaps = await lookupTransport(recipient, cfg.transportMaps);
  if (fromMaps) return fromMaps;
  if (cfg.relayhost.trim() !== "") return cfg.relayhost.trim();
  const at = recipient.lastIndexOf("@");
  return recipient.slice(at + 1).replace(/\.$/, "");
}

/** Resolve a recipient to the ordered addresses to try. */
export async function resolveTargets(
  recipient: string,
  cfg: NexthopConfig,
  resolver: dns.Resolver,
): Promise<NexthopResult> {
  const spec = await nexthopFor(recipient, cfg);
  const hop = parseNexthop(spec, cfg.defaultPort);
  if (!hop) return fail(false, "5.3.5", `bad next-hop specification: ${spec}`);
  if (isIP(hop.host) !== 0)
    return { ok: true, targets: [{ hostname: hop.host, address: hop.host, port: hop.port }] };
  let hosts: string[] = [hop.host];
  if (hop.mxLookup) {
    const mx = await lookupMx(hop.host, resolver, cfg.random ?? Math.random);
    if (!mx.ok) return mx;
    hosts = mx.hosts;
  }
  const targets: Target[] = [];
  let lastError: NexthopError | undefined;
  for (const hostname of hosts) {
    const found = await lookupAddresses(hostname, cfg, resolver);
    if (!found.ok) {
      lastError = found.error;
      continue;
    }
    for (const address of found.addresses) targets.push({ hostname, address, port: hop.port });
  }
  if (targets.length > 0) return { ok: true, targets };
  return {
    ok: false,
    error: lastError ?? { temporary: true, dsn: "4.4.3", text: `no address for ${hop.host}` },
  };
}

function fail(temporary: boolean, dsn: string, text: string): { ok: false; error: NexthopError } {
  return { ok: false, error: { temporary, dsn, text } };
}

function errCode(err: unknown): string {
  return typeof err === "object" && err !== null && "code" in err
    ? String((err as { code: unknown }).code)
    : "";
}

/** Postfix's wording for a failed DNS query: permanent for NXDOMAIN, temporary otherwise. */
function dnsFailure(name: string, type: string, err: unknown): { ok: false; error: NexthopError } {
  const code = errCode(err);
  if (code === "ENOTFOUND" || code === "ENODATA")
    return fail(
      false,
      "5.4.4",
      `Host or domain name not found. Name service error for name=${name} type=${type}: Host not found`,
    );
  return fail(
    true,
    "4.4.3",
    `Host or domain name not found. Name service error for name=${name} type=${type}: Host not found, try again`,
  );
}

type MxResult = { ok: true; hosts: string[] } | { ok: false; error: NexthopError };

/** MX hosts by preference, shuffled among equals; the domain itself when it has no MX (RFC 5321 5.1). */
export async function lookupMx(
  domain: string,
  resolver: dns.Resolver,
  random: () => number,
): Promise<MxResult> {
  let records: { exchange: string; priority: number }[];
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    if (errCode(err) === "ENODATA") return { ok: true, hosts: [domain] };
    return dnsFailure(domain, "MX", err);
  }
  if (records.length === 0) return { ok: true, hosts: [domain] };
  if (records.length === 1 && records[0]?.exchange === "")
    return fail(false, "5.1.0", `${domain}: MX record is a null MX: the domain accepts no mail (RFC 7505)`);
  const keyed = records.map((r) => ({ r, k: random() }));
  keyed.sort((a, b) => a.r.priority - b.r.priority || a.k - b.k);
  const hosts: string[] = [];
  for (const { r } of keyed) {
    const host = r.exchange.replace(/\.$/, "").toLowerCase();
    if (host !== "" && !hosts.includes(host)) hosts.push(host);
  }
  return { ok: true, hosts };
}

type AddrResult = { ok: true; addresses: string[] } | { ok: false; error: NexthopError };

function familiesOf(inetProtocols: readonly string[]): { v4: boolean; v6: boolean } {
  const all = inetProtocols.length === 0 || inetProtocols.includes("all");
  return { v4: all || inetProtocols.includes("ipv4"), v6: all || inetProtocols.includes("ipv6") };
}

/** A host's addresses by smtp_host_lookup order; IPv4 first, as Postfix's smtp_address_preference=any on most hosts. */
export async function lookupAddresses(
  host: string,
  cfg: NexthopConfig,
  resolver: dns.Resolver,
): Promise<AddrResult> {
  if (isIP(host) !== 0) return { ok: true, addresses: [host] };
  const fam = familiesOf(cfg.inetProtocols);
  let last: AddrResult = fail(true, "4.4.3", `no address lookup method for ${host}`);
  for (const method of cfg.hostLookup.length > 0 ? cfg.hostLookup : ["dns"]) {
    last = method === "native" ? await nativeLookup(host, fam) : await dnsLookup(host, fam, resolver);
    if (last.ok) return last;
  }
  return last;
}

async function dnsLookup(
  host: string,
  fam: { v4: boolean; v6: boolean },
  resolver: dns.Resolver,
): Promise<AddrResult> {
  const addresses: string[] = [];
  let firstError: unknown;
  const queries: [string, () => Promise<string[]>][] = [];
  if (fam.v4) queries.push(["A", () => resolver.resolve4(host)]);
  if (fam.v6) queries.push(["AAAA", () => resolver.resolve6(host)]);
  for (const [, query] of queries) {
    try {
      addresses.push(...(await query()));
    } catch (err) {
      firstError ??= err;
    }
  }
  if (addresses.length > 0) return { ok: true, addresses };
  return dnsFailure(
    host,
    fam.v4 ? "A" : "AAAA",
    firstError ?? Object.assign(new Error("no data"), { code: "ENODATA" }),
  );
}

async function nativeLookup(host: string, fam: { v4: boolean; v6: boolean }): Promise<AddrResult> {
  try {
    const found = await dns.lookup(host, { all: true, order: "ipv4first" });
    const addresses = found
      .filter((a) => (a.family === 4 && fam.v4) || (a.family === 6 && fam.v6))
      .map((a) => a.address);
    if (addresses.length > 0) return { ok: true, addresses };
    return fail(
      false,
      "5.4.4",
      `Host or domain name not found. Name service error for name=${host} type=A: Host not found`,
    );
  } catch (err) {
    return dnsFailure(host, "A", err);
  }
}
