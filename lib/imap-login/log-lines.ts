/*
 * log-lines — imap-login's maillog lines, in Dovecot's words so that pflogsumm-like tools
 * and fail2ban's dovecot filter read them unchanged:
 *   imap-login: Login: user=<u>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, mpid=42, TLS, session=<id>
 *   imap-login: Disconnected (auth failed, 2 attempts in 5 secs): user=<u>, method=PLAIN, rip=..., lip=..., session=<id>
 *   imap-login: Aborted login (no auth attempts in 0 secs): rip=..., lip=..., session=<id>
 *   imap-login: Disconnected (tried to use disallowed plaintext auth): user=<u>, rip=..., lip=..., session=<id>
 * The parenthesised reason follows Dovecot's login-common get_disconnect_reason().
 * Talks to: nothing (pure). Security: user names are sanitised (lib/auth/penalty.ts).
 */
import { sanitizeLogValue } from "../auth/penalty.js";

export interface LoginEnd {
  /** "Disconnected", "Aborted login", "Disconnected: Inactivity", ... */
  ending: string;
  attempts: number;
  secs: number;
  user?: string;
  method?: string;
  triedPlaintext: boolean;
  triedUnsupportedMechanism: boolean;
  /** The last attempt was cancelled by the client ("*"). */
  aborted: boolean;
  rip: string;
  lip: string;
  tls: boolean;
  session: string;
}

function reason(e: LoginEnd): string {
  if (e.triedPlaintext) return "tried to use disallowed plaintext auth";
  if (e.triedUnsupportedMechanism) return "tried to use unsupported auth mechanism";
  if (e.aborted && e.attempts === 1) return "auth aborted";
  if (e.attempts === 0) return `no auth attempts in ${e.secs} secs`;
  return `auth failed, ${e.attempts} attempts in ${e.secs} secs`;
}

export function formatLoginEnd(e: LoginEnd): string {
  const fields: string[] = [];
  if (e.user !== undefined) fields.push(`user=<${sanitizeLogValue(e.user)}>`);
  if (e.method !== undefined && e.attempts > 0) fields.push(`method=${sanitizeLogValue(e.method, 20)}`);
  fields.push(`rip=${e.rip}`, `lip=${e.lip}`);
  if (e.tls) fields.push("TLS");
  fields.push(`session=<${e.session}>`);
  return `${e.ending} (${reason(e)}): ${fields.join(", ")}`;
}

export function formatLogin(e: {
  user: string;
  method: string;
  rip: string;
  lip: string;
  mpid: number;
  tls: boolean;
  session: string;
}): string {
  const tls = e.tls ? ", TLS" : "";
  return `Login: user=<${sanitizeLogValue(e.user)}>, method=${e.method}, rip=${e.rip}, lip=${e.lip}, mpid=${e.mpid}${tls}, session=<${e.session}>`;
}
