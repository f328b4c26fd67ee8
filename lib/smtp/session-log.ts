/*
 * session-log — Postfix smtpd(8) maillog lines for an SMTP session, as pure functions.
 *
 * Each function returns the message part of one line (without the syslog prefix
 * "Mon dd hh:mm:ss host postern/smtpd[pid]: "), worded exactly as Postfix words it so that
 * pflogsumm, fail2ban's postfix filter and operators' greps keep working:
 *   connect from host[ip]
 *   disconnect from host[ip] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6
 *   lost connection after DATA (12 bytes) from host[ip]
 *   timeout after RCPT from host[ip]
 *   NOQUEUE: reject: RCPT from host[ip]: 550 5.1.1 <u@d>: ...; from=<s> to=<u@d> proto=ESMTP helo=<h>
 *   ID: client=host[ip], sasl_method=PLAIN, sasl_username=u
 *
 * Talks to: nothing; the daemon passes the result to lib/log.
 * Security: every client-controlled string is stripped of control characters, so a client
 * cannot forge a second log line.
 */
import type { CommandStats, SmtpStage } from "./engine-types.js";
import { replyLogText, type SmtpReply } from "./reply.js";

/** Postfix's smtpd command table order, used for the disconnect statistics. */
const STATS_ORDER = [
  "helo",
  "ehlo",
  "starttls",
  "auth",
  "mail",
  "rcpt",
  "data",
  "bdat",
  "rset",
  "noop",
  "vrfy",
  "help",
  "quit",
];

function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, "?");
}

export function clientOf(host: string, ip: string): string {
  return `${clean(host)}[${clean(ip)}]`;
}

export function connectLine(host: string, ip: string): string {
  return `connect from ${clientOf(host, ip)}`;
}

function count(ok: number, total: number): string {
  return ok === total ? String(total) : `${ok}/${total}`;
}

/** "ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6"; "commands=0" for a silent client. */
export function commandSummary(stats: CommandStats): string {
  const names = [
    ...STATS_ORDER,
    ...[...stats.keys()].filter((k) => !STATS_ORDER.includes(k) && k !== "unknown"),
  ];
  const parts: string[] = [];
  let ok = 0;
  let total = 0;
  for (const name of [...names, "unknown"]) {
    const entry = stats.get(name);
    if (entry === undefined || entry.total === 0) continue;
    parts.push(`${name}=${count(entry.ok, entry.total)}`);
    ok += entry.ok;
    total += entry.total;
  }
  parts.push(`commands=${count(ok, total)}`);
  return parts.join(" ");
}

export function disconnectLine(host: string, ip: string, stats: CommandStats): string {
  return `disconnect from ${clientOf(host, ip)} ${commandSummary(stats)}`;
}

export function lostConnectionLine(host: string, ip: string, after: string): string {
  return `lost connection after ${clean(after)} from ${clientOf(host, ip)}`;
}

export function timeoutLine(host: string, ip: string, after: string): string {
  return `timeout after ${clean(after)} from ${clientOf(host, ip)}`;
}

export interface RejectLogFields {
  /** The queue ID, or omitted for "NOQUEUE". */
  queueId?: string;
  stage: SmtpStage;
  host: string;
  ip: string;
  reply: SmtpReply;
  sender?: string;
  recipient?: string;
  proto: string;
  helo?: string;
}

/** Postfix's log_whatsup(): from=/to=/helo= only when known, proto= always. */
export function rejectLine(f: RejectLogFields): string {
  const fields: string[] = [];
  if (f.sender !== undefined) fields.push(`from=<${clean(f.sender)}>`);
  if (f.recipient !== undefined) fields.push(`to=<${clean(f.recipient)}>`);
  fields.push(`proto=${clean(f.proto)}`);
  if (f.helo !== undefined) fields.push(`helo=<${clean(f.helo)}>`);
  const id = f.queueId ?? "NOQUEUE";
  return `${id}: reject: ${f.stage} from ${clientOf(f.host, f.ip)}: ${replyLogText(f.reply)}; ${fields.join(" ")}`;
}

export interface ClientLineFields {
  queueId: string;
  host: string;
  ip: string;
  saslMethod?: string;
  saslUsername?: string;
}

export function clientLine(f: ClientLineFields): string {
  let line = `${f.queueId}: client=${clientOf(f.host, f.ip)}`;
  if (f.saslMethod !== undefined) line += `, sasl_method=${clean(f.saslMethod)}`;
  if (f.saslUsername !== undefined) line += `, sasl_username=${clean(f.saslUsername)}`;
  return line;
}

/** "warning: non-SMTP command from host[ip]: GET / HTTP/1.1" and similar protocol warnings. */
export function protocolWarningLine(host: string, ip: string, detail: string): string {
  const colon = detail.indexOf(": ");
  if (detail.startsWith("non-SMTP command") && colon > 0) {
    return `warning: non-SMTP command from ${clientOf(host, ip)}: ${clean(detail.slice(colon + 2))}`;
  }
  return `warning: ${clean(detail)} from ${clientOf(host, ip)}`;
}
