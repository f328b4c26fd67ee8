/*
 * access — access(5) tables for check_client_access, check_helo_access,
 * check_sender_access and check_recipient_access: the Postfix search order and the
 * meaning of a table's result.
 *
 * Search order (parent_domain_matches_subdomains includes smtpd_access_maps, Postfix's
 * default, so "example.com" also matches sub.example.com):
 *   host names   sub.example.com, example.com, com (numeric names: only themselves)
 *   client IPs   192.0.2.7, 192.0.2, 192.0, 192   (IPv6: drop ':'-separated parts)
 *   addresses    user+ext@domain, user@domain, domain and its parents, user+ext@, user@
 *   null sender  <>  (smtpd_null_access_lookup_key)
 * Results: OK, RELAY or all digits → permit; REJECT/DEFER [[d.d.d] text]; 4NN/5NN text;
 * DEFER_IF_PERMIT [text]; DUNNO; WARN/INFO [text] (logged); a restriction list such as
 * "permit_mynetworks, reject" (evaluated in place, depth ≤ 100). HOLD, DISCARD, FILTER,
 * REDIRECT, BCC, PREPEND need cleanup support postern does not have: they are logged
 * and ignored. A table that fails gives "451 4.3.5 <name>: Class rejected: Server
 * configuration error", as in Postfix. An OK for a source-routed recipient is not trusted.
 * Talks to lookup tables. Security: keys come from the client; results come from the
 * operator's tables.
 */
import { isIP } from "node:net";
import { classifyAddress, normalizeDomain, splitAddress, stripExtension } from "../address.js";
import { normalizeIp } from "./networks.js";
import {
  CLASS_RECIPIENT,
  deferIfPermit,
  dsnFix,
  rejectSubject,
  type Subject,
  serverConfigError,
} from "./replies.js";
import type { CheckState, Verdict } from "./types.js";

const MAX_DEPTH = 100;

/** The name and its parent domains: a.b.c, b.c, c. Numeric names yield only themselves. */
export function domainKeys(name: string): string[] {
  const d = normalizeDomain(name);
  if (d === "") return [];
  if (isIP(d) !== 0 || d.startsWith("[")) return [d];
  const keys: string[] = [];
  for (let rest = d; rest !== ""; ) {
    keys.push(rest);
    const dot = rest.indexOf(".", 1);
    rest = dot < 0 ? "" : rest.slice(dot + 1);
  }
  return keys;
}

/** The address and its parent networks: 192.0.2.7, 192.0.2, 192.0, 192. */
export function addressKeys(ip: string): string[] {
  const addr = normalizeIp(ip);
  const sep = addr.includes(":") ? ":" : ".";
  const keys: string[] = [];
  for (let rest = addr; rest !== ""; ) {
    keys.push(rest);
    const cut = rest.lastIndexOf(sep);
    rest = cut < 0 ? "" : rest.slice(0, cut);
  }
  return keys;
}

/** Postfix's mail_addr_find order for an envelope address (see the header). */
export function mailAddressKeys(addr: string, delimiter = ""): string[] {
  if (addr === "") return ["<>"];
  const { localPart, domain } = splitAddress(addr);
  const local = localPart.toLowerCase();
  const bare = stripExtension(local, delimiter);
  const at = domain === "" ? "" : `@${domain}`;
  const keys = [`${local}${at}`];
  if (bare !== local) keys.push(`${bare}${at}`);
  keys.push(...domainKeys(domain));
  keys.push(`${local}@`);
  if (bare !== local) keys.push(`${bare}@`);
  return keys;
}

/** First hit in key order; a lookup failure propagates. */
async function findFirst(
  state: CheckState,
  spec: string,
  keys: readonly string[],
): Promise<string | undefined> {
  const table = state.table(spec);
  for (const key of keys) {
    const value = await table.lookup(key);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** "5.7.1 text" → ["5.7.1", "text"]; no status code → [fallback, text]. */
function splitDsn(text: string, fallback: string): [string, string] {
  const m = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)(.*)$/s.exec(text);
  return m === null ? [fallback, text] : [m[1] ?? fallback, m[2] ?? ""];
}

function rejectFromTable(code: number, defaultDsn: string, text: string, s: Subject): Verdict {
  const [dsn, reason] = splitDsn(text, defaultDsn);
  return rejectSubject(code, dsnFix(dsn, s.klass), s, reason === "" ? "Access denied" : reason);
}

const IGNORED_ACTIONS = new Set([
  "HOLD",
  "DISCARD",
  "FILTER",
  "REDIRECT",
  "BCC",
  "PREPEND",
  "DEFER_IF_REJECT",
  "HANGUP",
]);

/** Interpret an access-table result (Postfix's check_table_result). */
export async function tableResult(
  state: CheckState,
  spec: string,
  value: string,
  s: Subject,
): Promise<Verdict> {
  const trimmed = value.trim();
  const m = /^(\S*)\s*(.*)$/s.exec(trimmed);
  const word = m?.[1] ?? "";
  const text = (m?.[2] ?? "").trim();
  const cmd = word.toUpperCase();
  if (cmd === "DUNNO") return { action: "dunno" };
  if (cmd === "OK" || cmd === "RELAY" || /^\d+$/.test(trimmed)) return { action: "permit" };
  if (cmd === "REJECT") return rejectFromTable(554, "5.7.1", text, s);
  if (cmd === "DEFER") return rejectFromTable(450, "4.7.1", text, s);
  if (/^[45]\d\d$/.test(word) && text !== "") return rejectFromTable(Number(word), `${word[0]}.7.1`, text, s);
  if (cmd === "DEFER_IF_PERMIT") {
    const [dsn, reason] = splitDsn(text, "4.7.1");
    return deferIfPermit(450, dsnFix(dsn, s.klass), s, reason === "" ? "Service unavailable" : reason);
  }
  if (cmd === "WARN" || cmd === "INFO" || IGNORED_ACTIONS.has(cmd)) {
    state.warn(
      `${cmd.toLowerCase()}: <${s.name}>: ${s.klass} ${text === "" ? `triggers ${cmd}` : text}; from ${spec}`,
    );
    return { action: "dunno" };
  }
  return restrictionsResult(state, spec, trimmed, s);
}

/** A result that names restrictions ("permit_mynetworks, reject"): evaluate them in place. */
function restrictionsResult(
  state: CheckState,
  spec: string,
  value: string,
  s: Subject,
): Promise<Verdict> | Verdict {
  if (value.includes(":")) {
    state.warn(`access table ${spec} has entry with lookup table: ${value}`);
    return serverConfigError();
  }
  if (value === "") {
    state.warn(`access table ${spec} entry has empty value`);
    return { action: "permit" };
  }
  if (state.depth >= MAX_DEPTH) {
    state.warn(`access table ${spec} entry ${value} causes unreasonable recursion`);
    return serverConfigError();
  }
  return state.nested(
    value.split(/[\s,]+/).filter((n) => n !== ""),
    s,
  );
}

/** Look keys up in order and interpret the first hit; a failing table gives 451 4.3.5. */
async function checkKeys(
  state: CheckState,
  spec: string,
  keys: readonly string[],
  s: Subject,
): Promise<Verdict> {
  let value: string | undefined;
  try {
    value = await findFirst(state, spec, keys);
  } catch (err) {
    state.warn(
      `${spec} lookup error for "${keys[0] ?? ""}": ${err instanceof Error ? err.message : String(err)}`,
    );
    return tableResult(state, spec, "451 4.3.5 Server configuration error", s);
  }
  return value === undefined ? { action: "dunno" } : tableResult(state, spec, value, s);
}

export function checkClientAccess(state: CheckState, spec: string, s: Subject): Promise<Verdict> {
  const { clientName, clientIp } = state.ctx;
  return checkKeys(state, spec, [...domainKeys(clientName), ...addressKeys(clientIp)], s);
}

export function checkHeloAccess(state: CheckState, spec: string, s: Subject): Promise<Verdict> {
  return checkKeys(state, spec, domainKeys(state.ctx.helo), s);
}

/** check_sender_access / check_recipient_access on one envelope address. */
export async function checkMailAccess(
  state: CheckState,
  spec: string,
  addr: string,
  s: Subject,
): Promise<Verdict> {
  const verdict = await checkKeys(state, spec, mailAddressKeys(addr, state.env.recipientDelimiter ?? ""), s);
  if (verdict.action === "permit" && s.klass === CLASS_RECIPIENT && addr !== "") {
    const env = state.env;
    const c = classifyAddress(addr, { mydestination: env.mydestination, relayDomains: env.relayDomains });
    if (c.routed) return { action: "dunno" };
  }
  return verdict;
}
