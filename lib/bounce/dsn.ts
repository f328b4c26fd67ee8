/*
 * dsn — builds RFC 3464 delivery status notifications (Postfix's bounce templates).
 *
 * buildDsn() turns a queued message and the recipients to report into the notification
 * text, as a stream of chunks: a multipart/report (RFC 6522) with report-type
 * delivery-status, holding
 *   1. the human part, in Postfix's wording ("This is the mail system at host ..."),
 *   2. a message/delivery-status part (RFC 3464): per-message fields (Reporting-MTA,
 *      X-Postern-Queue-ID, X-Postern-Sender, Original-Envelope-Id, Arrival-Date) and one
 *      block per recipient (Final-Recipient, Original-Recipient, Action, Status,
 *      Remote-MTA, Diagnostic-Code, Last-Attempt-Date, Will-Retry-Until),
 *   3. the original: message/rfc822 (RET=FULL, the default) or text/rfc822-headers
 *      (RET=HDRS, delay warnings, postmaster copies and messages over the size limit).
 * The original is streamed from the queue file, never held in memory; for headers only,
 * reading stops at the first empty line. Output uses LF line endings like queue content;
 * cleanup adds Received:, Message-ID: and Date:.
 *
 * Pure apart from reading the content stream it is given. Security: the report echoes
 * sender-controlled text (addresses, ENVID, ORCPT, diagnostics); every such value is
 * folded to one line so it cannot inject header fields or MIME boundaries.
 */
import { mailDate } from "../cleanup/added-headers.js";
import type { QueueFileInfo } from "../queue/index.js";

/** failure: "Undelivered Mail"; delay: warning; postmaster: the double-bounce notice. */
export type DsnKind = "failure" | "delay" | "postmaster";

export interface DsnRecipient {
  address: string;
  /** The raw ORCPT parameter ("rfc822;xtext"), when the client gave one. */
  orcpt?: string;
  action: "failed" | "delayed";
  /** Enhanced status code, e.g. "5.1.1". */
  status: string;
  /** Where the attempt went: "mx.example.com[192.0.2.1]:25", "local", "none". */
  relay: string;
  /** Postfix's reason text, e.g. "host mx[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)". */
  text: string;
  /** Time of the last attempt, ms. */
  time: number;
}

export interface DsnOptions {
  kind: DsnKind;
  recipients: readonly DsnRecipient[];
  /** Reporting-MTA and the human part's host. */
  myhostname: string;
  /** The notification's recipient (To:): the original sender, or postmaster. */
  to: string;
  openContent: () => NodeJS.ReadableStream;
  /** Delay warnings: when the message expires (Will-Retry-Until and the human text), ms. */
  willRetryUntil?: number;
  /** Originals larger than this are returned as headers only (Postfix's bounce_size_limit). */
  returnSizeLimit?: number;
  /** The time of the report (tests); defaults to now. */
  now?: number;
}

export const DEFAULT_RETURN_SIZE_LIMIT = 50_000;

const SUBJECTS: Record<DsnKind, string> = {
  failure: "Undelivered Mail Returned to Sender",
  delay: "Delayed Mail (still being retried)",
  postmaster: "Postmaster Copy: Undelivered Mail",
};

/** One line of text: CR/LF runs become a space, so values cannot start new fields. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+\s*/g, " ");
}

/** RFC 3461 xtext decoding ("+2B" → "+"); invalid escapes are kept as they are. */
export function xtextDecode(text: string): string {
  return text.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** "host[1.2.3.4]:25" → "host" for Remote-MTA; undefined for local, none and the like. */
export function remoteMta(relay: string): string | undefined {
  const match = /^([^[\s]+)\[[^\]]*\](?::\d+)?$/.exec(relay);
  return match?.[1];
}

/** Diagnostic-Code: the remote SMTP reply when the text carries one, else our own reason. */
export function diagnosticCode(text: string): string {
  const said = /(?:^|said: )(\d{3}[ -].*?)(?: \(in reply to .* command\))?$/.exec(text);
  if (said?.[1] !== undefined) return `smtp; ${oneLine(said[1])}`;
  return `X-Postern; ${oneLine(text)}`;
}

function returnsFullMessage(info: QueueFileInfo, opts: DsnOptions): boolean {
  if (opts.kind !== "failure") return false;
  if ((info.envelope.attrs["ret"] ?? "").toUpperCase() === "HDRS") return false;
  return info.contentLength <= (opts.returnSizeLimit ?? DEFAULT_RETURN_SIZE_LIMIT);
}

function topHeaders(opts: DsnOptions, boundary: string): string {
  return [
    `From: MAILER-DAEMON@${opts.myhostname} (Mail Delivery System)`,
    `Subject: ${SUBJECTS[opts.kind]}`,
    `To: ${oneLine(opts.to)}`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    "Content-Type: multipart/report; report-type=delivery-status;",
    `\tboundary="${boundary}"`,
    "Content-Transfer-Encoding: 8bit",
    "",
    "This is a MIME-encapsulated message.",
    "",
  ].join("\n");
}

function spanText(ms: number): string {
  const hours = Math.floor(ms / 3_600_000);
  if (hours >= 48) return `${Math.floor(hours / 24)} day(s)`;
  if (hours >= 1) return `${hours} hour(s)`;
  return `${Math.max(1, Math.floor(ms / 60_000))} minute(s)`;
}

function introduction(info: QueueFileInfo, opts: DsnOptions, now: number): string[] {
  if (opts.kind === "postmaster") return ["Enclosed is the message delivery report that you requested.", ""];
  if (opts.kind === "failure")
    return [
      "I'm sorry to have to inform you that your message could not",
      "be delivered to one or more recipients. It's attached below.",
      "",
    ];
  const lines = [
    "####################################################################",
    "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
    "####################################################################",
    "",
    `Your message could not be delivered for more than ${spanText(now - info.envelope.arrivalTime)}.`,
  ];
  if (opts.willRetryUntil !== undefined)
    lines.push(
      `It will be retried until it is ${spanText(opts.willRetryUntil - info.envelope.arrivalTime)} old.`,
    );
  return [...lines, ""];
}

function humanPart(info: QueueFileInfo, opts: DsnOptions, now: number): string {
  const lines = [
    "Content-Description: Notification",
    "Content-Type: text/plain; charset=utf-8",
    "",
    `This is the mail system at host ${opts.myhostname}.`,
    "",
    ...introduction(info, opts, now),
    "For further assistance, please send mail to postmaster.",
    "",
    "If you do so, please include this problem report. You can",
    "delete your own text from the attached returned message.",
    "",
    "                   The mail system",
    "",
  ];
  for (const r of opts.recipients) {
    const original = originalAddress(r);
    const expanded = original !== undefined && original.toLowerCase() !== r.address.toLowerCase();
    const from = expanded ? ` (expanded from <${oneLine(original)}>)` : "";
    lines.push(`<${oneLine(r.address)}>${from}: ${oneLine(r.text)}`, "");
  }
  return lines.join("\n");
}

function originalAddress(r: DsnRecipient): string | undefined {
  if (r.orcpt === undefined) return undefined;
  const semi = r.orcpt.indexOf(";");
  return semi < 0 ? undefined : xtextDecode(r.orcpt.slice(semi + 1));
}

function recipientBlock(r: DsnRecipient, opts: DsnOptions): string[] {
  const lines = [`Final-Recipient: rfc822; ${oneLine(r.address)}`];
  const semi = r.orcpt?.indexOf(";") ?? -1;
  if (r.orcpt !== undefined && semi > 0)
    lines.push(`Original-Recipient: ${oneLine(r.orcpt.slice(0, semi))};${oneLine(originalAddress(r) ?? "")}`);
  lines.push(`Action: ${r.action}`, `Status: ${oneLine(r.status)}`);
  const mta = remoteMta(r.relay);
  if (mta !== undefined) lines.push(`Remote-MTA: dns; ${mta}`);
  lines.push(`Diagnostic-Code: ${diagnosticCode(r.text)}`);
  if (r.time > 0) lines.push(`Last-Attempt-Date: ${mailDate(new Date(r.time))}`);
  if (r.action === "delayed" && opts.willRetryUntil !== undefined)
    lines.push(`Will-Retry-Until: ${mailDate(new Date(opts.willRetryUntil))}`);
  return [...lines, ""];
}

function statusPart(info: QueueFileInfo, opts: DsnOptions): string {
  const env = info.envelope;
  const lines = [
    "Content-Description: Delivery report",
    "Content-Type: message/delivery-status",
    "",
    `Reporting-MTA: dns; ${opts.myhostname}`,
    `X-Postern-Queue-ID: ${info.id}`,
    `X-Postern-Sender: rfc822; ${oneLine(env.sender)}`,
  ];
  const envid = env.attrs["envid"];
  if (envid !== undefined && envid !== "") lines.push(`Original-Envelope-Id: ${oneLine(xtextDecode(envid))}`);
  lines.push(`Arrival-Date: ${mailDate(new Date(env.arrivalTime))}`, "");
  for (const r of opts.recipients) lines.push(...recipientBlock(r, opts));
  return lines.join("\n");
}

function originalPartHeader(full: boolean, kind: DsnKind): string {
  const what = kind === "failure" ? "Undelivered Message" : "Delayed Message";
  return full
    ? `Content-Description: ${what}\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n`
    : `Content-Description: ${what} Headers\nContent-Type: text/rfc822-headers\nContent-Transfer-Encoding: 8bit\n\n`;
}

/** The boundary: the queue ID, the time and the host, as Postfix makes it; unique enough. */
export function dsnBoundary(info: QueueFileInfo, myhostname: string, now: number): string {
  return `${info.id}.${Math.floor(now / 1000)}/${myhostname}`;
}

/** The notification, chunk by chunk (LF line endings). */
export async function* buildDsn(info: QueueFileInfo, opts: DsnOptions): AsyncGenerator<Buffer> {
  const now = opts.now ?? Date.now();
  const boundary = dsnBoundary(info, opts.myhostname, now);
  const full = returnsFullMessage(info, opts);
  const parts = [topHeaders(opts, boundary), humanPart(info, opts, now), statusPart(info, opts)];
  yield Buffer.from(parts.join(`\n--${boundary}\n`), "utf8");
  yield Buffer.from(`\n--${boundary}\n${originalPartHeader(full, opts.kind)}`, "utf8");
  let last = 0x0a;
  const source = full ? streamAll(opts.openContent()) : streamHeaders(opts.openContent());
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    last = chunk[chunk.length - 1] ?? last;
    yield chunk;
  }
  yield Buffer.from(`${last === 0x0a ? "" : "\n"}\n--${boundary}--\n`, "utf8");
}

async function* streamAll(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  for await (const chunk of stream) yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}

/**
 * The header section only (through the LF of the last header line): stops at the first
 * empty line and closes the stream without reading the body.
 */
export async function* streamHeaders(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let previous = 0x0a; // the content starts at a line start: an immediate LF means no headers
  try {
    for await (const raw of stream) {
      const chunk = typeof raw === "string" ? Buffer.from(raw) : raw;
      const end = headerEnd(chunk, previous);
      if (end >= 0) {
        yield chunk.subarray(0, end);
        return;
      }
      if (chunk.length > 0) previous = chunk[chunk.length - 1] ?? previous;
      yield chunk;
    }
  } finally {
    (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
  }
}

/** Offset just after the header section's last LF in chunk, or -1 if the header goes on. */
function headerEnd(chunk: Buffer, previous: number): number {
  let prev = previous;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte === 0x0a && prev === 0x0a) return i;
    prev = byte ?? prev;
  }
  return -1;
}
