/*
 * types — the data of the SMTP restriction engine: the transaction facts a check sees
 * (PolicyContext), the configuration and lookups it is given (PolicyEnv), parsed
 * restrictions and results.
 *
 * Replies carry both codes, chosen where the decision is made (CONVENTIONS 12).
 * Talks to nothing. Security: PolicyContext holds untrusted client data (HELO name,
 * addresses); it is only compared, looked up and quoted back in replies.
 */
import type { LookupTable } from "../../maps/index.js";
import type { Subject } from "./replies.js";

/** Facts of the current SMTP transaction. */
export interface PolicyContext {
  clientIp: string;
  /** Verified reverse name, or "unknown". */
  clientName: string;
  /** HELO/EHLO argument; "" before HELO. */
  helo: string;
  /** MAIL FROM address without <>; "" is the null sender; undefined before MAIL. */
  sender?: string;
  /** RCPT TO address without <>; undefined outside RCPT. */
  recipient?: string;
  saslUser?: string;
  stage: "CONNECT" | "HELO" | "MAIL" | "RCPT" | "DATA";
}

/** Injected configuration and lookups. */
export interface PolicyEnv {
  /** CIDRs or addresses; "[::1]/128" bracket form allowed. */
  mynetworks: string[];
  mydestination: string[];
  relayDomains: string[];
  /** Backed by local_recipient_maps: is addr a known local recipient? (At once when known.) */
  localRecipient(addr: string): boolean | "unknown-domain" | Promise<boolean | "unknown-domain">;
  /** DNS for reject_unknown_*_domain; without it those restrictions never reject. */
  resolveDomain?(domain: string): Promise<"ok" | "nxdomain" | "tempfail">;
  openMap(spec: string): LookupTable;
  /** unknown_local_recipient_reject_code (550). */
  unknownLocalRecipientRejectCode: number;
  /** Per check; a check that takes longer becomes 451 4.3.5. */
  timeoutMs: number;
  /** unknown_address_reject_code (default 450). */
  unknownAddressRejectCode?: number;
  /** smtpd_sender_login_maps: address → owner logins, for reject_*sender_login_mismatch. */
  senderLoginMaps?: readonly string[];
  /** recipient_delimiter, for access-map lookups of user+ext addresses (default: none). */
  recipientDelimiter?: string;
  /** Our own IP addresses: user@[addr] is then a local address. */
  myAddresses?: string[];
  /** Warnings and reject_warning lines for the maillog (the caller prefixes queue ID etc.). */
  onWarning?(message: string): void;
}

export interface SmtpReply {
  code: number;
  enhanced: string;
  text: string;
}

export type PolicyResult =
  | { action: "permit" }
  | { action: "dunno" }
  | { action: "reject"; reply: SmtpReply };

/** What one restriction decides; defer_if_permit is remembered and applied later. */
export type Verdict = PolicyResult | { action: "defer_if_permit"; reply: SmtpReply };

/** Which smtpd_*_restrictions list a restriction came from: decides the reply's wording. */
export type ListName = "client" | "helo" | "sender" | "relay" | "recipient" | "data";

interface RestrictionBase {
  readonly name: string;
  readonly list: ListName;
  /** Preceded by warn_if_reject: a reject is logged, not applied. */
  readonly warnOnly: boolean;
}

export type Restriction =
  | (RestrictionBase & { readonly kind: "simple" })
  | (RestrictionBase & { readonly kind: "map"; readonly spec: string });

/** A configuration problem in a restriction list (its message names the parameter). */
export class PolicyConfigError extends Error {
  readonly param: string;

  constructor(param: string, detail: string) {
    super(`${param}: ${detail}`);
    this.name = "PolicyConfigError";
    this.param = param;
  }
}

/** What a restriction's check is given: the facts, the environment and engine services. */
export interface CheckState {
  readonly ctx: PolicyContext;
  readonly env: PolicyEnv;
  readonly list: ListName;
  /** Who generic restrictions (permit, reject, defer) judge: the list's subject, or the table's. */
  readonly subject: Subject;
  /** Nesting depth of access-map results that name restrictions. */
  readonly depth: number;
  /** The table for a spec, opened once per environment. */
  table(spec: string): LookupTable;
  /** Evaluate restriction names found in an access-map result (one level deeper, judging subject). */
  nested(names: readonly string[], subject: Subject): Promise<Verdict>;
  warn(message: string): void;
}
