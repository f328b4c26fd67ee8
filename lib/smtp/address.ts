/*
 * address — envelope address handling for the SMTP server's policy checks: split an address
 * into local part and domain, strip RFC 5321 source routes, classify the destination as
 * local / relay / remote, strip recipient_delimiter extensions.
 *
 * Follows Postfix's ADDRESS_CLASS_README semantics with allow_percent_hack = no and
 * swap_bangpath = no: '%' and '!' are ordinary local-part characters, so an address whose
 * domain is in mydestination is local whatever its local part holds ("user%remote"@here is
 * the local user "user%remote", who does not exist). Such an address is however marked
 * `routed` when its local part contains '@', '!' or '%' — as Postfix's resolver does — and
 * reject_unauth_destination refuses routed addresses from untrusted clients, so none of the
 * classic relay tricks (user%remote@here, "user@remote"@here, user@remote@here,
 * remote!user@here) can relay. Source routes (@a,@b:user@d) are stripped per RFC 5321 §3.3
 * and the final address is what is classified: @here:user@remote is REMOTE.
 * Address literals (user@[192.0.2.1]) are local only when the literal is one of our own
 * addresses (ctx.myAddresses); otherwise they are remote.
 * Talks to nothing. Security: input is untrusted client data; every function is total
 * (never throws) and linear in the input.
 */
import { isIP } from "node:net";

export interface ParsedAddress {
  /** Internal form: quotes removed, backslash escapes resolved. */
  localPart: string;
  /** Lower-cased, one trailing dot removed; "" when the address has no '@'. */
  domain: string;
  /** The local part was (partly) a quoted string. */
  quoted: boolean;
}

export interface AddressContext {
  /** Final-delivery domains; ".example.com" also matches subdomains. */
  mydestination: readonly string[];
  /** Relay domains; "example.com" matches it and its subdomains (parent_domain_matches_subdomains). */
  relayDomains: readonly string[];
  /** Our own IP addresses: user@[addr] is local when addr is listed here. */
  myAddresses?: readonly string[];
}

export interface AddressClass {
  kind: "local" | "relay" | "remote";
  /** The local part contains '@', '!' or '%': the destination is uncertain. */
  routed: boolean;
  /** The address after source-route stripping, split. */
  address: ParsedAddress;
}

/** Remove an RFC 5321 source route: "@a,@b:user@d" → "user@d". */
export function stripSourceRoute(addr: string): string {
  if (!addr.startsWith("@")) return addr;
  const colon = addr.indexOf(":");
  return colon < 0 ? addr : addr.slice(colon + 1);
}

/** Normalise a domain for comparison: lower case, one trailing dot removed. */
export function normalizeDomain(domain: string): string {
  const d = domain.toLowerCase();
  return d.endsWith(".") && !d.endsWith("..") ? d.slice(0, -1) : d;
}

/** Index of the last '@' outside a quoted string, or -1. */
function lastUnquotedAt(addr: string): number {
  let inQuotes = false;
  let at = -1;
  for (let i = 0; i < addr.length; i++) {
    const ch = addr[i];
    if (inQuotes && ch === "\\") i++;
    else if (ch === '"') inQuotes = !inQuotes;
    else if (ch === "@" && !inQuotes) at = i;
  }
  return at;
}

/** Remove quotes and resolve backslash escapes inside them. */
function unquote(local: string): { text: string; quoted: boolean } {
  if (!local.includes('"')) return { text: local, quoted: false };
  let text = "";
  let inQuotes = false;
  for (let i = 0; i < local.length; i++) {
    const ch = local[i] ?? "";
    if (inQuotes && ch === "\\" && i + 1 < local.length) text += local[++i] ?? "";
    else if (ch === '"') inQuotes = !inQuotes;
    else text += ch;
  }
  return { text, quoted: true };
}

/** Split at the last unquoted '@' (after stripping a source route). No '@' → domain "". */
export function splitAddress(addr: string): ParsedAddress {
  const a = stripSourceRoute(addr);
  const at = lastUnquotedAt(a);
  const { text, quoted } = unquote(at < 0 ? a : a.slice(0, at));
  return { localPart: text, domain: at < 0 ? "" : normalizeDomain(a.slice(at + 1)), quoted };
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** A syntactically valid host name (Postfix valid_hostname): labels of letters, digits, '-', '_'. */
export function isValidHostname(name: string): boolean {
  const n = normalizeDomain(name);
  if (n === "" || n.length > 255) return false;
  const labels = n.split(".");
  if (!labels.every((l) => LABEL.test(l))) return false;
  return !/^[0-9.]+$/.test(n);
}

/** A fully-qualified domain name: a valid host name with at least one dot. */
export function isFqdn(domain: string): boolean {
  return isValidHostname(domain) && normalizeDomain(domain).includes(".");
}

/** "[192.0.2.1]" / "[IPv6:2001:db8::1]" → the bare address, or undefined when not a literal. */
export function addressLiteral(domain: string): string | undefined {
  if (!domain.startsWith("[") || !domain.endsWith("]")) return undefined;
  const inner = domain.slice(1, -1).replace(/^ipv6:/i, "");
  return isIP(inner) === 0 ? undefined : inner.toLowerCase();
}

/**
 * Does domain match a domain-list pattern? "example.com" matches itself (and its subdomains
 * when parentMatchesSubdomains); ".example.com" matches subdomains only.
 */
export function domainMatches(domain: string, pattern: string, parentMatchesSubdomains: boolean): boolean {
  const d = normalizeDomain(domain);
  const p = normalizeDomain(pattern.trim());
  if (p === "" || d === "") return false;
  if (p.startsWith(".")) return d.endsWith(p);
  return d === p || (parentMatchesSubdomains && d.endsWith(`.${p}`));
}

function isLocalDomain(domain: string, ctx: AddressContext): boolean {
  if (domain === "") return true;
  const literal = addressLiteral(domain);
  if (literal !== undefined) return (ctx.myAddresses ?? []).some((a) => a.toLowerCase() === literal);
  if (domain.startsWith("[")) return false;
  return ctx.mydestination.some((p) => domainMatches(domain, p, false));
}

/** Classify an envelope address as local (mydestination), relay (relay_domains) or remote. */
export function classifyAddress(addr: string, ctx: AddressContext): AddressClass {
  const address = splitAddress(addr);
  const routed = /[@!%]/.test(address.localPart);
  if (isLocalDomain(address.domain, ctx)) return { kind: "local", routed, address };
  const relay =
    !address.domain.startsWith("[") && ctx.relayDomains.some((p) => domainMatches(address.domain, p, true));
  return { kind: relay ? "relay" : "remote", routed, address };
}

/**
 * Strip a recipient_delimiter extension: "user+ext" → "user". delimiter is a set of
 * characters (Postfix ≥ 2.11); the first one found splits. A local part that starts with
 * a delimiter, or an empty delimiter, is returned unchanged.
 */
export function stripExtension(local: string, delimiter: string): string {
  if (delimiter === "") return local;
  for (let i = 1; i < local.length; i++) {
    if (delimiter.includes(local[i] ?? "")) return local.slice(0, i);
  }
  return local;
}
