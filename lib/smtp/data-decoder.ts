/*
 * data-decoder — the DATA phase byte stream: dot-unstuffing and end-of-data detection.
 *
 * Fed the raw bytes that follow "354" in pieces of any size; returns the message content
 * (un-dot-stuffed, without the terminating "."), how many input bytes it consumed and
 * whether the end of data was reached. Bytes after the terminator are not consumed: they
 * are the next pipelined command. Holds at most two bytes of state between calls (a
 * pending "." and/or CR), never a line, so arbitrarily long lines stream through.
 *
 * The rules (RFC 5321 4.1.1.4, 4.5.2; CVE-2023-51764 "SMTP smuggling"):
 *  - The ONLY end of data is CR LF "." CR LF, where the first CR LF may be the one that
 *    ended the DATA command (so ".\r\n" as the very first line is an empty message).
 *  - A bare CR is data, never a line ending; "\r.\r", "\r.\r\n", "\r\n.\r<x>" never end.
 *  - A bare LF ends a content line (it is written as CRLF under "normalize", as LF under
 *    "no"), but a line start reached through a bare LF is never eligible for the end:
 *    "\n.\n", "\n.\r\n" and "\r\n.\n" never end the data, in any mode. Policy "reject" is
 *    decided by the caller from `bareLineFeeds`.
 *  - Dot-unstuffing: a "." at the start of a line followed by more characters is removed
 *    ("..x" → ".x"). A line that is a lone "." but not a terminator (only possible with a
 *    bare LF around it) keeps its "." so it can never become a header/body separator or a
 *    terminator downstream.
 *
 * Talks to: nothing; pure. Security: this is the smuggling defence — see the rules above.
 */

export type BareNewlinePolicy = "normalize" | "reject" | "no";

export interface DecodeResult {
  /** Content bytes to deliver (may be empty). */
  readonly output: Buffer;
  /** Input bytes used, including the terminator when `done`. */
  readonly consumed: number;
  readonly done: boolean;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/** Where the decoder stands between bytes. */
const LINE_START_CRLF = 0; // at a line start reached via CRLF (or the very start): "." may end data
const LINE_START_LF = 1; // at a line start reached via a bare LF: "." is never the end
const MID = 2; // inside a line
const MID_CR = 3; // inside a line, a CR is pending
const DOT_SEEN = 4; // "." at a line start is pending
const DOT_CR = 5; // "." CR at a line start is pending
type State = 0 | 1 | 2 | 3 | 4 | 5;

export class DotDecoder {
  private state: State = LINE_START_CRLF;
  private dotEligible = false;
  /** Bare LFs seen so far (a LF not preceded by CR). */
  bareLineFeeds = 0;

  constructor(private readonly policy: BareNewlinePolicy) {}

  decode(input: Buffer): DecodeResult {
    const out = Buffer.allocUnsafe(input.length * 2 + 4);
    const w = new Writer(out);
    let nextCr = -1;
    let nextLf = -1;
    let i = 0;
    while (i < input.length) {
      if (this.state === MID) {
        // Fast path: copy up to the next CR or LF in one go.
        if (nextCr < i) nextCr = indexOrEnd(input, CR, i);
        if (nextLf < i) nextLf = indexOrEnd(input, LF, i);
        const stop = Math.min(nextCr, nextLf);
        w.copy(input, i, stop);
        i = stop;
        if (i >= input.length) break;
      }
      const done = this.step(input[i]!, w);
      i++;
      if (done) return { output: out.subarray(0, w.length), consumed: i, done: true };
    }
    return { output: out.subarray(0, w.length), consumed: input.length, done: false };
  }

  /** Consumes one byte; returns true when it completed CRLF.CRLF. */
  private step(b: number, w: Writer): boolean {
    switch (this.state) {
      case LINE_START_CRLF:
      case LINE_START_LF:
        if (b === DOT) {
          this.dotEligible = this.state === LINE_START_CRLF;
          this.state = DOT_SEEN;
        } else this.inLine(b, w);
        return false;
      case MID:
        this.inLine(b, w);
        return false;
      case MID_CR:
        return this.afterCr(b, w);
      case DOT_SEEN:
        return this.afterDot(b, w);
      default:
        return this.afterDotCr(b, w);
    }
  }

  private inLine(b: number, w: Writer): void {
    if (b === CR) this.state = MID_CR;
    else if (b === LF) this.bareLf(w);
    else {
      w.byte(b);
      this.state = MID;
    }
  }

  private afterCr(b: number, w: Writer): boolean {
    w.byte(CR);
    if (b === LF) {
      w.byte(LF);
      this.state = LINE_START_CRLF;
    } else {
      this.state = MID;
      this.inLine(b, w); // the CR was bare: data
    }
    return false;
  }

  private afterDot(b: number, w: Writer): boolean {
    if (b === CR) this.state = DOT_CR;
    else if (b === LF) {
      w.byte(DOT); // a lone "." ended by a bare LF: content, never the end
      this.bareLf(w);
    } else {
      this.state = MID; // stuffed dot: drop it
      this.inLine(b, w);
    }
    return false;
  }

  private afterDotCr(b: number, w: Writer): boolean {
    if (b === LF) {
      if (this.dotEligible) return true;
      w.byte(DOT); // "\n.\r\n": a lone "." after a bare LF is content
      w.byte(CR);
      w.byte(LF);
      this.state = LINE_START_CRLF;
      return false;
    }
    this.state = MID_CR; // ".\r<x>": the dot was stuffing, the CR is data
    return this.afterCr(b, w);
  }

  private bareLf(w: Writer): void {
    this.bareLineFeeds++;
    if (this.policy !== "no") w.byte(CR);
    w.byte(LF);
    this.state = LINE_START_LF;
  }
}

function indexOrEnd(buf: Buffer, byte: number, from: number): number {
  const at = buf.indexOf(byte, from);
  return at < 0 ? buf.length : at;
}

/** A cursor over a preallocated output buffer. */
class Writer {
  length = 0;
  constructor(private readonly out: Buffer) {}
  byte(b: number): void {
    this.out[this.length++] = b;
  }
  copy(src: Buffer, start: number, end: number): void {
    if (end > start) this.length += src.copy(this.out, this.length, start, end);
  }
}
