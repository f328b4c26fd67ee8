/*
 * inet-endpoints — where an inet service of master.cf listens (Postfix master(5), inet).
 *
 * The service name is `[host]:port`, `host:port`, `[::1]:25` or a bare port; the port may
 * be a number or a name from the services file (smtp → 25), with a built-in fallback for the
 * mail ports when the file lacks the name or is missing (minimal containers ship without
 * /etc/services). A bare port (or `*:port`) listens on every address of inet_interfaces:
 * `all` → 0.0.0.0 and/or ::, `loopback-only` → 127.0.0.1 and/or ::1, or the addresses
 * listed (IPv6 ones optionally in brackets), keeping those of the families inet_protocols
 * enables (ipv4, ipv6, all). `localhost` stands for the loopback addresses. Other host
 * names are refused: listening addresses must not depend on DNS at start-up.
 * Callers listening on both 0.0.0.0 and :: must set ipv6Only on the IPv6 socket.
 * Talks to the file system (reads the services file). Security: trusted configuration.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { ConfigError, type Origin } from "./errors.js";
import type { MainCf } from "./index.js";
import { P } from "./params.js";

export interface InetEndpoint {
  host: string;
  port: number;
  family: 4 | 6;
}

/** The master.cf entry being resolved; with a line, errors point at it. */
export interface InetServiceRef {
  readonly name: string;
  readonly line?: number;
}

type Family = 4 | 6;

/** Used when the services file does not know a name (IANA assignments). */
const WELL_KNOWN_PORTS: Readonly<Record<string, number>> = {
  lmtp: 24,
  smtp: 25,
  pop3: 110,
  imap: 143,
  imap2: 143,
  submissions: 465,
  smtps: 465,
  submission: 587,
  imaps: 993,
  pop3s: 995,
};

const WILDCARD: Readonly<Record<Family, string>> = { 4: "0.0.0.0", 6: "::" };
const LOOPBACK: Readonly<Record<Family, string>> = { 4: "127.0.0.1", 6: "::1" };

export function inetEndpoints(
  service: string | InetServiceRef,
  main: MainCf,
  servicesFile = "/etc/services",
): InetEndpoint[] {
  const ref = typeof service === "string" ? { name: service } : service;
  const where: Origin = { file: join(main.configDir, "master.cf"), line: ref.line };
  const fail = (detail: string): ConfigError => new ConfigError(`service ${ref.name}: ${detail}`, where);
  const { host, portText } = splitHostPort(ref.name, fail);
  const port = resolvePort(portText, servicesFile, fail);
  const families = enabledFamilies(main);
  const hosts =
    host === "" || host === "*" ? interfaceAddresses(main, families) : hostAddresses(host, families, fail);
  if (hosts.length === 0) {
    const what = host === "" || host === "*" ? "inet_interfaces" : host;
    throw fail(`no address of ${what} is usable with inet_protocols = ${main.expand("inet_protocols")}`);
  }
  return hosts.map((h) => ({ host: h.host, port, family: h.family }));
}

function splitHostPort(name: string, fail: (d: string) => ConfigError): { host: string; portText: string } {
  if (name.startsWith("[")) {
    const m = /^\[([^\]]*)\]:([^:]+)$/.exec(name);
    if (m === null) throw fail(`expected [address]:port`);
    return { host: m[1] ?? "", portText: m[2] ?? "" };
  }
  const colon = name.lastIndexOf(":");
  if (colon < 0) return { host: "", portText: name };
  const host = name.slice(0, colon);
  if (host.includes(":")) throw fail(`an IPv6 address must be written in brackets: [address]:port`);
  return { host, portText: name.slice(colon + 1) };
}

function resolvePort(text: string, servicesFile: string, fail: (d: string) => ConfigError): number {
  if (/^\d+$/.test(text)) {
    const port = Number(text);
    if (port < 1 || port > 65535) throw fail(`bad port number: ${text}`);
    return port;
  }
  const port = lookupServicesFile(text, servicesFile) ?? WELL_KNOWN_PORTS[text];
  if (port === undefined) throw fail(`unknown service: ${text}/tcp`);
  return port;
}

/** The TCP port of `name` (or one of its aliases) in a services(5) file; undefined if absent. */
export function lookupServicesFile(name: string, servicesFile: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(servicesFile, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const fields = (line.split("#")[0] ?? "").trim().split(/\s+/);
    const m = /^(\d+)\/tcp$/.exec(fields[1] ?? "");
    if (m === null) continue;
    if (fields[0] === name || fields.slice(2).includes(name)) return Number(m[1]);
  }
  return undefined;
}

function mainOrigin(main: MainCf, name: string): Origin | undefined {
  const line = main.explicit.get(name)?.line;
  return line === undefined || line === 0 ? undefined : { file: main.file, line };
}

/** The address families inet_protocols enables. */
export function enabledFamilies(main: MainCf): ReadonlySet<Family> {
  const families = new Set<Family>();
  for (const item of main.get(P.inet_protocols)) {
    const v = item.toLowerCase();
    if (v === "all") {
      families.add(4);
      families.add(6);
    } else if (v === "ipv4") families.add(4);
    else if (v === "ipv6") families.add(6);
    else throw new ConfigError(`bad inet_protocols value: ${item}`, mainOrigin(main, "inet_protocols"));
  }
  if (families.size === 0) {
    throw new ConfigError("inet_protocols: no address family enabled", mainOrigin(main, "inet_protocols"));
  }
  return families;
}

interface Address {
  readonly host: string;
  readonly family: Family;
}

function interfaceAddresses(main: MainCf, families: ReadonlySet<Family>): Address[] {
  const items = main.get(P.inet_interfaces).map((i) => i.toLowerCase());
  const each = (table: Readonly<Record<Family, string>>): Address[] =>
    [...families].sort().map((family) => ({ host: table[family], family }));
  if (items.includes("all")) return each(WILDCARD);
  if (items.includes("loopback-only")) return each(LOOPBACK);
  const out: Address[] = [];
  for (const item of items) {
    const host = item.startsWith("[") && item.endsWith("]") ? item.slice(1, -1) : item;
    for (const a of literalAddresses(host, families)) {
      if (!out.some((o) => o.host === a.host)) out.push(a);
    }
    if (literalAddresses(host, new Set([4, 6])).length === 0) {
      throw new ConfigError(
        `bad inet_interfaces value: ${item}: expected an IP address`,
        mainOrigin(main, "inet_interfaces"),
      );
    }
  }
  return out;
}

function hostAddresses(
  host: string,
  families: ReadonlySet<Family>,
  fail: (d: string) => ConfigError,
): Address[] {
  if (literalAddresses(host, new Set([4, 6])).length === 0) {
    throw fail(`${host} is not an IP address (host names are not resolved for listening)`);
  }
  return literalAddresses(host, families);
}

/** An IP literal (or localhost) as addresses of the given families. */
function literalAddresses(host: string, families: ReadonlySet<Family>): Address[] {
  if (host.toLowerCase() === "localhost") {
    return [...families].sort().map((family) => ({ host: LOOPBACK[family], family }));
  }
  const family = isIP(host);
  if (family !== 4 && family !== 6) return [];
  return families.has(family) ? [{ host, family }] : [];
}
