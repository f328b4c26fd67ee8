/*
 * reply — the client side of SMTP replies (RFC 5321 4.2, RFC 2034 enhanced codes): a
 * byte-fed reader that assembles multi-line replies, and the helpers that turn a reply
 * into the text Postfix's smtp(8) logs ("250 2.0.0 Ok: queued as X").
 *
 * Talks to nothing; pure. Security: replies come from a remote server and are untrusted:
 * lines are capped, a reply has a bounded number of lines, control characters are
 * removed before any text reaches the log, and a malformed line is an error, never a throw.
 */

export interface ServerReply {
  readonly code: number;
  /** RFC 3463 "x.y.z" from the first line, "" when the server sent none. */
  readonly enhanced: string;
  /** Text of every line, without the code and the enhanced code. */
  readonly lines: readonly string[];
}

export type ReaderEvent = { kind: "reply"; reply: ServerReply } | { kind: "error"; text: string };

const MAX_LINE = 4096;
const MAX_LINES = 1000;
const LINE = /^([2-5]\d\d)([ -])(.*)$/s;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;

/** Assembles replies from bytes; feed() returns the events that completed. */
export class ReplyReader {
  private partial = "";
  private pending: string[] = [];
  private code = 0;
  private broken = false;

  feed(chunk: Buffer): ReaderEvent[] {
    if (this.broken) return [];
    const events: ReaderEvent[] = [];
    let text = this.partial + chunk.toString("latin1");
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
      const line = text.slice(0, nl).replace(/\r$/, "");
      text = text.slice(nl + 1);
      const event = this.line(line);
      if (event) events.push(event);
      if (this.broken) return events;
    }
    if (text.length > MAX_LINE) return this.fail(events, "server reply line too long");
    this.partial = text;
    return events;
  }

  private line(line: string): ReaderEvent | undefined {
    const m = LINE.exec(line);
    if (!m || line.length > MAX_LINE)
      return this.failOne(`malformed server reply: ${printable(line).slice(0, 100)}`);
    const code = Number(m[1]);
    if (this.pending.length > 0 && code !== this.code)
      return this.failOne("malformed server reply: code changes within a multi-line reply");
    this.code = code;
    this.pending.push(m[3] ?? "");
    if (this.pending.length > MAX_LINES) return this.failOne("server reply has too many lines");
    if (m[2] === "-") return undefined;
    const reply = makeReply(code, this.pending);
    this.pending = [];
    return { kind: "reply", reply };
  }

  private failOne(text: string): ReaderEvent {
    this.broken = true;
    return { kind: "error", text };
  }

  private fail(events: ReaderEvent[], text: string): ReaderEvent[] {
    events.push(this.failOne(text));
    return events;
  }
}

/** Split the enhanced code off the first line; it is stripped from every line that repeats it. */
export function makeReply(code: number, rawLines: readonly string[]): ServerReply {
  const first = rawLines[0] ?? "";
  const e = ENHANCED.exec(first);
  const enhanced = e && e[1]?.[0] === String(code)[0] ? (e[1] ?? "") : "";
  const lines = rawLines.map((l) => {
    const clean = printable(l);
    return enhanced !== "" && clean.startsWith(enhanced) ? clean.slice(enhanced.length).trimStart() : clean;
  });
  return { code, enhanced, lines };
}

/** Remove control characters: reply text ends up in the maillog and in bounce messages. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, " ");
}

/** "550 5.1.1 no such user" — the reply as Postfix quotes it, lines joined by spaces. */
export function replyText(reply: ServerReply): string {
  const body = reply.lines.join(" ").trim();
  const enhanced = reply.enhanced === "" ? "" : `${reply.enhanced} `;
  return `${reply.code} ${enhanced}${body}`.trim();
}

/** The DSN status of a reply: its enhanced code, else the class with ".0.0" (Postfix's default). */
export function replyDsn(reply: ServerReply): string {
  return reply.enhanced !== "" ? reply.enhanced : `${String(reply.code)[0]}.0.0`;
}

/** The EHLO keywords a reply advertises (upper case) with their parameters. */
export function parseEhlo(reply: ServerReply): Map<string, string> {
  const ext = new Map<string, string>();
  for (const line of reply.lines.slice(1)) {
    const [keyword, ...params] = line.trim().split(/\s+/);
    if (keyword) ext.set(keyword.toUpperCase(), params.join(" "));
  }
  return ext;
}
