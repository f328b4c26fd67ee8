/*
 * restrictions — the table of restrictions postern's smtpd_*_restrictions understand:
 * name → { takesMap, check }. Each check is async and decides permit, reject, dunno or
 * defer_if_permit for the current transaction, with Postfix's exact reply texts and codes
 * (reject_code 554, defer_code 450, relay_domains_reject_code 554, non_fqdn_reject_code
 * 504, invalid_hostname_reject_code 501, unknown_address_reject_code 450,
 * unknown_local_recipient_reject_code 550, access_map_reject_code 554,
 * access_map_defer_code 450).
 * A check that needs a fact the transaction does not have yet (a recipient at HELO time)
 * says dunno, as Postfix does.
 * Talks to the injected PolicyEnv (local recipients, DNS, tables). Security: every input
 * here is client-controlled; relay decisions follow permit_auth_destination exactly:
 * source-routed addresses (local part with @ ! %) are never an authorised destination.
 */
import { isIP } from "node:net";
import { addressLiteral, classifyAddress, isFqdn, isValidHostname, normalizeDomain } from "../address.js";
import { checkClientAccess, checkHeloAccess, checkMailAccess } from "./access.js";
import { inNetworks } from "./networks.js";
import {
  CLASS_HELO,
  CLASS_RECIPIENT,
  CLASS_SENDER,
  clientSubject,
  deferIfPermit,
  reject,
  rejectSubject,
  type Subject,
} from "./replies.js";
import { senderLoginMismatch } from "./sender-login.js";
import type { CheckState, PolicyEnv, Verdict } from "./types.js";

/** A check answers at once when it can (no table or lookup): then the engine sets no timer. */
export type RestrictionDef =
  | { readonly takesMap: false; check(state: CheckState): Verdict | Promise<Verdict> }
  | { readonly takesMap: true; check(state: CheckState, spec: string): Verdict | Promise<Verdict> };

const DUNNO: Verdict = { action: "dunno" };
const PERMIT: Verdict = { action: "permit" };

function addressContext(env: PolicyEnv) {
  return {
    mydestination: env.mydestination,
    relayDomains: env.relayDomains,
    myAddresses: env.myAddresses ?? [],
  };
}

const senderSubject = (s: CheckState): Subject => ({ name: s.ctx.sender ?? "", klass: CLASS_SENDER });
const recipientSubject = (s: CheckState): Subject => ({
  name: s.ctx.recipient ?? "",
  klass: CLASS_RECIPIENT,
});
const heloSubject = (s: CheckState): Subject => ({ name: s.ctx.helo, klass: CLASS_HELO });

/** permit_auth_destination: is the recipient ours (mydestination) or one we relay to? */
function authorisedDestination(state: CheckState, recipient: string): boolean {
  const c = classifyAddress(recipient, addressContext(state.env));
  if (c.routed) return false;
  return c.kind === "local" || c.kind === "relay";
}

function unauthDestination(code: number, dsn: string) {
  return (state: CheckState): Verdict => {
    const rcpt = state.ctx.recipient;
    if (rcpt === undefined || authorisedDestination(state, rcpt)) return DUNNO;
    return reject(code, dsn, `<${rcpt}>: Relay access denied`);
  };
}

/** reject_non_fqdn_sender / _recipient. */
function nonFqdnAddress(addr: string, s: Subject): Verdict {
  const at = addr.lastIndexOf("@");
  const domain = at < 0 ? "" : addr.slice(at + 1);
  if (domain.startsWith("[") && domain.endsWith("]")) return DUNNO;
  return isFqdn(domain) ? DUNNO : rejectSubject(504, "5.5.2", s, "need fully-qualified address");
}

/** reject_unknown_sender_domain / _recipient_domain: DNS for non-local, non-literal domains. */
async function unknownDomain(state: CheckState, addr: string, s: Subject): Promise<Verdict> {
  const c = classifyAddress(addr, addressContext(state.env));
  const domain = c.address.domain;
  if (c.kind === "local" || domain === "" || domain.startsWith("[") || state.env.resolveDomain === undefined)
    return DUNNO;
  const status = await state.env.resolveDomain(normalizeDomain(domain));
  if (status === "ok") return DUNNO;
  const dsn = s.klass === CLASS_SENDER ? "4.1.8" : "4.1.2";
  if (status === "nxdomain")
    return rejectSubject(state.env.unknownAddressRejectCode ?? 450, dsn, s, "Domain not found");
  return deferIfPermit(450, dsn, s, "Domain not found");
}

/** reject_unlisted_recipient / _sender: unknown users in local domains. */
function unlisted(state: CheckState, addr: string, s: Subject): Verdict | Promise<Verdict> {
  const c = classifyAddress(addr, addressContext(state.env));
  if (c.kind !== "local") return DUNNO;
  let known: boolean | "unknown-domain" | Promise<boolean | "unknown-domain">;
  try {
    known = state.env.localRecipient(addr);
  } catch (err) {
    return lookupFailure(state, addr, err);
  }
  // Answered at once (smtpd's cache of auth's answers): no promise, so no timer either.
  if (typeof known === "object")
    return known.then(
      (k) => unlistedVerdict(state, k, s),
      (err: unknown) => lookupFailure(state, addr, err),
    );
  return unlistedVerdict(state, known, s);
}

function lookupFailure(state: CheckState, addr: string, err: unknown): Verdict {
  state.warn(
    `local recipient lookup error for "${addr}": ${err instanceof Error ? err.message : String(err)}`,
  );
  return reject(451, "4.3.0", `<${addr}>: Temporary lookup failure`);
}

function unlistedVerdict(state: CheckState, known: boolean | "unknown-domain", s: Subject): Verdict {
  if (known !== false) return DUNNO;
  const dsn = s.klass === CLASS_SENDER ? "5.1.0" : "5.1.1";
  return rejectSubject(
    state.env.unknownLocalRecipientRejectCode,
    dsn,
    s,
    "User unknown in local recipient table",
  );
}

function nonFqdnHelo(state: CheckState): Verdict {
  const helo = state.ctx.helo;
  if (helo === "" || helo.startsWith("[") || isFqdn(helo)) return DUNNO;
  return rejectSubject(504, "5.5.2", heloSubject(state), "need fully-qualified hostname");
}

function invalidHelo(state: CheckState): Verdict {
  const helo = state.ctx.helo;
  if (helo === "") return DUNNO;
  if (helo.startsWith("[")) {
    return addressLiteral(helo) === undefined
      ? rejectSubject(501, "5.5.2", heloSubject(state), "invalid ip address")
      : DUNNO;
  }
  if (isValidHostname(helo) || isIP(helo) !== 0) return DUNNO;
  return rejectSubject(501, "5.5.2", heloSubject(state), "Invalid name");
}

function simple(check: (state: CheckState) => Verdict | Promise<Verdict>): RestrictionDef {
  return { takesMap: false, check };
}

function withMap(check: (state: CheckState, spec: string) => Verdict | Promise<Verdict>): RestrictionDef {
  return { takesMap: true, check };
}

const ifSender = (f: (s: CheckState, sender: string) => Promise<Verdict> | Verdict) =>
  simple((s) => (s.ctx.sender === undefined || s.ctx.sender === "" ? DUNNO : f(s, s.ctx.sender)));
const ifRecipient = (f: (s: CheckState, rcpt: string) => Promise<Verdict> | Verdict) =>
  simple((s) => (s.ctx.recipient === undefined || s.ctx.recipient === "" ? DUNNO : f(s, s.ctx.recipient)));

const reasonless = (code: number, dsn: string, reason: string) =>
  simple((s) => rejectSubject(code, dsn, s.subject, reason));

const unlistedRecipient = ifRecipient((s, r) => unlisted(s, r, recipientSubject(s)));
const nonFqdnHeloDef = simple(nonFqdnHelo);
const invalidHeloDef = simple(invalidHelo);

/** Every restriction name, lower case. warn_if_reject is a modifier handled by the parser. */
export const RESTRICTIONS: ReadonlyMap<string, RestrictionDef> = new Map<string, RestrictionDef>([
  ["permit", simple(() => PERMIT)],
  ["dunno", simple(() => DUNNO)],
  ["reject", reasonless(554, "5.7.1", "Access denied")],
  ["defer", reasonless(450, "4.7.1", "Try again later")],
  ["defer_if_permit", simple((s) => deferIfPermit(450, "4.7.1", s.subject, "defer_if_permit requested"))],
  ["permit_mynetworks", simple((s) => (inNetworks(s.ctx.clientIp, s.env.mynetworks) ? PERMIT : DUNNO))],
  ["permit_sasl_authenticated", simple((s) => (s.ctx.saslUser ? PERMIT : DUNNO))],
  ["permit_auth_destination", ifRecipient((s, r) => (authorisedDestination(s, r) ? PERMIT : DUNNO))],
  ["reject_unauth_destination", simple(unauthDestination(554, "5.7.1"))],
  ["defer_unauth_destination", simple(unauthDestination(454, "4.7.1"))],
  ["reject_unknown_sender_domain", ifSender((s, a) => unknownDomain(s, a, senderSubject(s)))],
  ["reject_unknown_recipient_domain", ifRecipient((s, a) => unknownDomain(s, a, recipientSubject(s)))],
  ["reject_non_fqdn_sender", ifSender((s, a) => nonFqdnAddress(a, senderSubject(s)))],
  ["reject_non_fqdn_recipient", ifRecipient((s, a) => nonFqdnAddress(a, recipientSubject(s)))],
  ["reject_non_fqdn_helo_hostname", nonFqdnHeloDef],
  ["reject_non_fqdn_hostname", nonFqdnHeloDef],
  ["reject_invalid_helo_hostname", invalidHeloDef],
  ["reject_invalid_hostname", invalidHeloDef],
  ["reject_unlisted_recipient", unlistedRecipient],
  ["check_recipient_maps", unlistedRecipient],
  ["reject_unlisted_sender", ifSender((s, a) => unlisted(s, a, senderSubject(s)))],
  ["reject_sender_login_mismatch", ifSender((s, a) => senderLoginMismatch(s, a, "both"))],
  [
    "reject_authenticated_sender_login_mismatch",
    ifSender((s, a) => senderLoginMismatch(s, a, "authenticated")),
  ],
  [
    "reject_unauthenticated_sender_login_mismatch",
    ifSender((s, a) => senderLoginMismatch(s, a, "unauthenticated")),
  ],
  ["reject_known_sender_login_mismatch", ifSender((s, a) => senderLoginMismatch(s, a, "known"))],
  ["check_client_access", withMap((s, spec) => checkClientAccess(s, spec, clientSubject(s.ctx)))],
  [
    "check_helo_access",
    withMap((s, spec) => (s.ctx.helo === "" ? DUNNO : checkHeloAccess(s, spec, heloSubject(s)))),
  ],
  [
    "check_sender_access",
    withMap((s, spec) =>
      s.ctx.sender === undefined ? DUNNO : checkMailAccess(s, spec, s.ctx.sender, senderSubject(s)),
    ),
  ],
  [
    "check_recipient_access",
    withMap((s, spec) =>
      s.ctx.recipient === undefined ? DUNNO : checkMailAccess(s, spec, s.ctx.recipient, recipientSubject(s)),
    ),
  ],
]);

/** Restrictions that make a relay/recipient list safe against open relaying (Postfix's check). */
export const RELAY_GUARDS = new Set([
  "reject",
  "defer",
  "defer_if_permit",
  "reject_unauth_destination",
  "defer_unauth_destination",
]);
