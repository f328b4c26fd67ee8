/*
 * added-headers — the headers cleanup writes itself: Received:, and when missing
 * Message-ID:, Date: and From:. Formats follow Postfix so that log and header parsers
 * written for Postfix read ours:
 *
 *   Received: from helo.name (client.name [192.0.2.1])
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))
 *   	(No client certificate requested)
 *   	(Authenticated sender: user)
 *   	by myhostname (Postern) with ESMTPSA id QUEUEID
 *   	for <rcpt@example.org>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)
 *
 *   Received: by myhostname (Postern, from userid 1000)
 *   	id QUEUEID; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)
 *
 * "for <...>" appears only with exactly one recipient (more would disclose Bcc
 * recipients). Dates are RFC 5322 in local time with the zone name as a comment, like
 * Postfix's mail_date(): "%a, %e %b %Y %H:%M:%S %z (%Z)".
 *
 * Talks to: nothing. Security: values come from the SMTP session (HELO name, SASL user);
 * smtpd has already restricted them to printable text, and this module strips CR/LF
 * once more so no value can start a header of its own.
 */

export interface ReceivedInfo {
  heloName: string;
  clientName: string;
  clientIp: string;
  /** "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", ... (RFC 3848). */
  protocol: string;
  /** What follows "using", e.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)". */
  tls?: string;
  /** Shown as (Authenticated sender: ...) when given (Postfix: smtpd_sasl_authenticated_header). */
  saslUser?: string;
  forRecipient?: string;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function two(n: number): string {
  return String(n).padStart(2, "0");
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/** Building an Intl.DateTimeFormat costs ~0.8 ms: one per process, made on first use. */
let zoneFormat: Intl.DateTimeFormat | undefined;
/** The process's time zone is fixed, so a UTC offset always has the same name: look it up once. */
const zoneNameByOffset = new Map<number, string | undefined>();

function zoneName(date: Date): string | undefined {
  const offset = date.getTimezoneOffset();
  if (zoneNameByOffset.has(offset)) return zoneNameByOffset.get(offset);
  zoneFormat ??= new Intl.DateTimeFormat("en-US", { timeZoneName: "short" });
  const name = zoneFormat.formatToParts(date).find((part) => part.type === "timeZoneName")?.value;
  // Names like "GMT+1" are Intl's invention, not what %Z prints: leave the comment out.
  const printable = name !== undefined && /^[A-Z]{2,6}$/.test(name) ? name : undefined;
  zoneNameByOffset.set(offset, printable);
  return printable;
}

/** RFC 5322 date-time in local time, Postfix style: "Sun, 22 Nov 2026 10:00:00 +0000 (UTC)". */
export function mailDate(date: Date): string {
  // Every message of a second has the same Received/Date stamp: make it once per second.
  const ms = date.getTime();
  const second = Math.floor(ms / 1000);
  if (second === lastDate.second && Number.isFinite(ms)) return lastDate.text;
  const text = formatMailDate(date);
  if (Number.isFinite(ms)) {
    lastDate.second = second;
    lastDate.text = text;
  }
  return text;
}

const lastDate = { second: Number.NaN, text: "" };

function formatMailDate(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${two(Math.floor(Math.abs(offset) / 60))}${two(Math.abs(offset) % 60)}`;
  const day = String(date.getDate()).padStart(2, " ");
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  const name = zoneName(date);
  const text = `${DAYS[date.getDay()]}, ${day} ${MONTHS[date.getMonth()]} ${date.getFullYear()} ${time} ${zone}`;
  return name === undefined ? text : `${text} (${name})`;
}

/** "<YYYYMMDDhhmmss.QUEUEID@myhostname>" (UTC), as Postfix makes them. */
export function newMessageId(date: Date, id: string, myhostname: string): string {
  const stamp =
    `${date.getUTCFullYear()}${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}` +
    `${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}`;
  return `<${stamp}.${id}@${myhostname}>`;
}

function bracketIp(ip: string): string {
  return ip.includes(":") ? `[IPv6:${ip}]` : `[${ip}]`;
}

/** The Received: header for mail from an SMTP client, with its final LF. */
export function smtpReceived(opts: {
  info: ReceivedInfo;
  id: string;
  myhostname: string;
  mailName: string;
  date: Date;
  recipient: string | undefined;
}): string {
  const { info } = opts;
  const helo = oneLine(info.heloName || info.clientName);
  const lines = [`Received: from ${helo} (${oneLine(info.clientName)} ${bracketIp(oneLine(info.clientIp))})`];
  if (info.tls !== undefined) lines.push(`(using ${oneLine(info.tls)})`, "(No client certificate requested)");
  if (info.saslUser !== undefined) lines.push(`(Authenticated sender: ${oneLine(info.saslUser)})`);
  const by = `by ${opts.myhostname} (${opts.mailName}) with ${oneLine(info.protocol)} id ${opts.id}`;
  if (opts.recipient !== undefined)
    lines.push(by, `for <${oneLine(opts.recipient)}>; ${mailDate(opts.date)}`);
  else lines.push(`${by};`, mailDate(opts.date));
  return `${lines.join("\n\t")}\n`;
}

/** The Received: header for locally submitted mail (pickup), with its final LF. */
export function localReceived(opts: {
  id: string;
  myhostname: string;
  mailName: string;
  date: Date;
  uid: string | undefined;
}): string {
  const who = opts.uid === undefined ? opts.mailName : `${opts.mailName}, from userid ${oneLine(opts.uid)}`;
  return `Received: by ${opts.myhostname} (${who})\n\tid ${opts.id}; ${mailDate(opts.date)}\n`;
}
