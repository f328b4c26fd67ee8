/*
 * replies — building restriction replies exactly as Postfix's smtpd_check.c words them.
 *
 * "<name>: Class rejected: reason", where name and Class depend on what is being judged:
 * the client ("unknown[192.0.2.1]", "Client host"), the HELO name ("Helo command"), the
 * sender or recipient ("Sender address" / "Recipient address"), DATA ("Data command").
 * The enhanced status code's class digit always follows the reply code (smtpd_check_reject),
 * and address-specific codes are adjusted to what is rejected (smtpd_dsn_fix): a 5.1.1 given
 * while rejecting a sender becomes 5.1.7, while rejecting a client it becomes 5.0.0.
 * Talks to nothing. Security: quoted client data is passed through printable() so a reply
 * line can never carry CR, LF or other control characters.
 */
import type { ListName, PolicyContext, SmtpReply, Verdict } from "./types.js";

export const CLASS_CLIENT = "Client host";
export const CLASS_HELO = "Helo command";
export const CLASS_SENDER = "Sender address";
export const CLASS_RECIPIENT = "Recipient address";
export const CLASS_DATA = "Data command";

/** Who is being judged: the name quoted in <...> and the reply class. */
export interface Subject {
  readonly name: string;
  readonly klass: string;
}

/** Replace control characters with '?', as Postfix's printable() (UTF-8 text is kept). */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, "?");
}

export function clientSubject(ctx: PolicyContext): Subject {
  return { name: `${ctx.clientName}[${ctx.clientIp}]`, klass: CLASS_CLIENT };
}

/** The subject of the generic restrictions (permit/reject/defer) in a given list. */
export function listSubject(list: ListName, ctx: PolicyContext): Subject {
  switch (list) {
    case "client":
      return clientSubject(ctx);
    case "helo":
      return { name: ctx.helo, klass: CLASS_HELO };
    case "sender":
      return { name: ctx.sender ?? "", klass: CLASS_SENDER };
    case "relay":
    case "recipient":
      return { name: ctx.recipient ?? "", klass: CLASS_RECIPIENT };
    case "data":
      return { name: "DATA", klass: CLASS_DATA };
  }
}

const SENDER_DSN: Record<string, string> = {
  "1": "1.7",
  "2": "1.8",
  "3": "1.7",
  "4": "1.7",
  "5": "1.0",
  "6": "1.7",
  "7": "1.7",
  "8": "1.8",
};
const RCPT_DSN: Record<string, string> = {
  "1": "1.1",
  "2": "1.2",
  "3": "1.3",
  "4": "1.4",
  "5": "1.5",
  "6": "1.6",
  "7": "1.3",
  "8": "1.2",
};

/** smtpd_dsn_fix: make an address-specific X.1.Y status fit what is being rejected. */
export function dsnFix(dsn: string, klass: string): string {
  const m = /^(\d)\.1\.(\d+)$/.exec(dsn);
  if (m === null) return dsn;
  const [, cls, detail] = m as unknown as [string, string, string];
  if (klass === CLASS_SENDER) return `${cls}.${SENDER_DSN[detail] ?? "1.0"}`;
  if (klass === CLASS_RECIPIENT) return `${cls}.${RCPT_DSN[detail] ?? "1.0"}`;
  return `${cls}.0.0`;
}

/** A reply whose enhanced code's class digit matches the reply code (smtpd_check_reject). */
export function makeReply(code: number, enhanced: string, text: string): SmtpReply {
  const cls = String(code).charAt(0);
  const fixed = /^[245]\./.test(enhanced) ? cls + enhanced.slice(1) : `${cls}.0.0`;
  return { code, enhanced: fixed, text: printable(text) };
}

export function reject(code: number, enhanced: string, text: string): Verdict {
  return { action: "reject", reply: makeReply(code, enhanced, text) };
}

/** "<name>: Class rejected: reason" */
export function rejectSubject(code: number, enhanced: string, s: Subject, reason: string): Verdict {
  return reject(code, enhanced, `<${s.name}>: ${s.klass} rejected: ${reason}`);
}

export function deferIfPermit(code: number, enhanced: string, s: Subject, reason: string): Verdict {
  return {
    action: "defer_if_permit",
    reply: makeReply(code, enhanced, `<${s.name}>: ${s.klass} rejected: ${reason}`),
  };
}

/** 451 4.3.5 Server configuration error — a broken table or list; details go to the log. */
export function serverConfigError(): Verdict {
  return reject(451, "4.3.5", "Server configuration error");
}

export function formatReply(r: SmtpReply): string {
  return `${r.code} ${r.enhanced} ${r.text}`;
}
