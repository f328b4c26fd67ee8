/*
 * content — the message stream as local delivery writes it: chunks, From_ lines, mboxrd quoting.
 *
 * The queue hands local delivery the message content (headers + body, LF line endings) as a
 * stream, or, for a small message, as one Buffer read in one go (no stream, no thread-pool
 * round trips); nothing here holds a large message in memory. MboxQuoter is the streaming
 * ">From " quoter of the mboxrd convention (mutt, procmail -Y aside): every line matching
 * /^>*From / gets one more ">", so a reader can undo it exactly. The From_ envelope line uses
 * the asctime() date Postfix, procmail and mutt write ("From sender  Sun Nov 22 10:00:00 2026").
 * Talks to nothing. Input is untrusted message data: lines of any length, any bytes.
 */

/** What delivery functions accept as the message content: a stream, or a small message whole. */
export type MessageContent = AsyncIterable<Buffer | string> | NodeJS.ReadableStream | Buffer;

/** Iterate the content as Buffers, whatever the source yields. */
export async function* chunksOf(content: MessageContent): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(content)) {
    yield content;
    return;
  }
  for await (const chunk of content as AsyncIterable<Buffer | string>) {
    yield typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
  }
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"] as const;

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** asctime(3) without the newline, in local time as the C library prints it: "Sun Nov 22 10:00:00 2026". */
export function asctime(date: Date): string {
  const day = DAYS[date.getDay()] ?? "Sun";
  const month = MONTHS[date.getMonth()] ?? "Jan";
  const mday = String(date.getDate()).padStart(2, " ");
  const time = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${day} ${month} ${mday} ${time} ${date.getFullYear()}`;
}

/** Keep header values on one line: a CR or LF in an envelope address must not inject headers. */
export function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, " ");
}

/** The mbox envelope line, with its newline; the null sender is MAILER-DAEMON as in Postfix. */
export function fromLine(sender: string, arrival: Date): string {
  const who = sender === "" ? "MAILER-DAEMON" : oneLine(sender).replace(/\s/g, "_");
  return `From ${who}  ${asctime(arrival)}\n`;
}

const GT = 0x3e;
const LF = 0x0a;
const FROM_ = Buffer.from("From ", "latin1");

/**
 * Streaming mboxrd quoter. At each line start it looks at the prefix `>*From `; only that
 * prefix is examined byte by byte, the rest of a line is copied with indexOf(LF), so long
 * lines and large bodies cost nothing extra. State survives chunk boundaries.
 */
export class MboxQuoter {
  private atLineStart = true;
  /** Number of ">" seen at the start of the current line while still undecided. */
  private pendingGt = 0;
  /** How many bytes of "From " matched after the ">"s, while still undecided. */
  private matchedFrom = 0;
  private lastByte = -1;

  /** Quote one chunk; returns the bytes to write (possibly empty while a prefix is undecided). */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.atLineStart) {
        const nl = chunk.indexOf(LF, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        out.push(chunk.subarray(i, end));
        this.atLineStart = nl >= 0;
        i = end;
        continue;
      }
      i = this.scanPrefix(chunk, i, out);
    }
    if (chunk.length > 0) this.lastByte = chunk[chunk.length - 1] ?? -1;
    return Buffer.concat(out);
  }

  /** Bytes still held back at the end of input (an undecided prefix is plain text). */
  end(): Buffer {
    const rest = this.undecided();
    this.reset(false);
    return rest;
  }

  /** Whether the last byte seen was a newline (or nothing was seen). */
  get endsWithNewline(): boolean {
    return this.lastByte === -1 || this.lastByte === LF;
  }

  private scanPrefix(chunk: Buffer, start: number, out: Buffer[]): number {
    let i = start;
    while (i < chunk.length) {
      const byte = chunk[i] ?? 0;
      if (this.matchedFrom === 0 && byte === GT) {
        this.pendingGt++;
        i++;
        continue;
      }
      if (byte === FROM_[this.matchedFrom]) {
        this.matchedFrom++;
        i++;
        if (this.matchedFrom === FROM_.length) {
          out.push(Buffer.from(">"), this.undecided());
          this.reset(false);
          return i;
        }
        continue;
      }
      out.push(this.undecided());
      this.reset(false);
      return i;
    }
    return i;
  }

  private undecided(): Buffer {
    return Buffer.concat([Buffer.alloc(this.pendingGt, GT), FROM_.subarray(0, this.matchedFrom)]);
  }

  private reset(atLineStart: boolean): void {
    this.atLineStart = atLineStart;
    this.pendingGt = 0;
    this.matchedFrom = 0;
  }
}
