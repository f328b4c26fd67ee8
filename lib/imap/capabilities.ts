/*
 * capabilities — the IMAP capability lists postern announces: before login (imap-login's
 * greeting and CAPABILITY answer) and, later, after login (the mail process).
 *
 * Pre-login, as Dovecot's imap-login: the protocol and the extensions usable in every
 * state (IMAP4rev1, SASL-IR, ID, ENABLE, IDLE, LITERAL+), then STARTTLS while TLS can
 * still be started, LOGINDISABLED when LOGIN would be refused, and one AUTH=<mech> per
 * SASL mechanism usable on this connection now. LOGIN-REFERRALS is not listed: postern
 * sends no referrals.
 * RFCs: 3501 6.1.1, 6.2.1, 7.2.1 (CAPABILITY, STARTTLS, LOGINDISABLED), 4959 (SASL-IR),
 * 2971 (ID), 5161 (ENABLE), 2177 (IDLE), 7888 (LITERAL+).
 * Talks to: nothing. Security: what is listed decides what clients try; plaintext
 * mechanisms must already be filtered out by the caller on connections that may not use
 * them (disable_plaintext_auth).
 */

/** Announced in every state, before and after login. */
export const BASE_CAPABILITIES: readonly string[] = [
  "IMAP4rev1",
  "SASL-IR",
  "ID",
  "ENABLE",
  "IDLE",
  "LITERAL+",
];

export interface LoginCapabilityOptions {
  /** TLS is configured and the connection is not TLS yet. */
  readonly starttls: boolean;
  /** LOGIN would be refused (plaintext not allowed here, or PLAIN not configured). */
  readonly loginDisabled: boolean;
  /** SASL mechanisms usable on this connection now, in the order to list them. */
  readonly mechanisms: readonly string[];
}

/** The pre-login capability list, for the greeting's [CAPABILITY ...] and CAPABILITY. */
export function loginCapabilities(opts: LoginCapabilityOptions): string[] {
  const list = [...BASE_CAPABILITIES];
  if (opts.starttls) list.push("STARTTLS");
  if (opts.loginDisabled) list.push("LOGINDISABLED");
  for (const mech of opts.mechanisms) list.push(`AUTH=${mech.toUpperCase()}`);
  return list;
}
