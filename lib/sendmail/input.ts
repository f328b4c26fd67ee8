/*
 * input — the message as `sendmail` reads it from standard input, streaming.
 *
 * Rules, as Postfix's sendmail(1) applies them:
 *  - LF and CRLF line endings are both accepted; the output has LF (the queue's form);
 *  - a first line starting with "From " (an mbox envelope line, as some programs pipe
 *    in) is removed;
 *  - unless -i / -oi, a line with only "." ends the message; the rest of the input is
 *    ignored. Other lines are passed unchanged: no dot-unstuffing (that is SMTP's).
 * At most five bytes of a line start are held back to decide those cases; everything
 * else passes through as it arrives, so messages of any size use bounded memory.
 *
 * Talks to: nothing; pure. Security: input is untrusted bytes; output is never longer.
 */
import { CrlfToLf } from "../cleanup/line-endings.js";

const LF = 0x0a;
const FROM_LINE = Buffer.from("From ", "latin1");
const DOT_LINE = Buffer.from(".\n", "latin1");
/** Bytes needed at a line start to decide: "From " is the longest marker. */
const DECIDE_BYTES = FROM_LINE.length;

export class SendmailInput {
  readonly #ignoreDots: boolean;
  readonly #crlf = new CrlfToLf();
  #held: Buffer = Buffer.alloc(0);
  #atLineStart = true;
  #firstLine = true;
  #skippingLine = false;
  #done = false;

  constructor(opts: { ignoreDots: boolean }) {
    this.#ignoreDots = opts.ignoreDots;
  }

  /** True once a "." line ended the message: further input is ignored. */
  get done(): boolean {
    return this.#done;
  }

  /** Feed bytes from stdin; returns the message bytes ready to go on (maybe empty). */
  push(chunk: Buffer): Buffer {
    if (this.#done) return Buffer.alloc(0);
    return this.#process(this.#crlf.push(chunk));
  }

  /** End of input: returns the last bytes of the message. */
  end(): Buffer {
    if (this.#done) return Buffer.alloc(0);
    const out = this.#process(this.#crlf.end());
    if (this.#done) return out;
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    this.#done = true;
    // A last line "." without its newline ends the message all the same.
    if (!this.#ignoreDots && held.length === 1 && held[0] === 0x2e) return out;
    return Buffer.concat([out, held]);
  }

  #process(data: Buffer): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < data.length && !this.#done) {
      if (this.#skippingLine) pos = this.#skipLine(data, pos);
      else if (this.#atLineStart) pos = this.#lineStart(data, pos, out);
      else pos = this.#midLine(data, pos, out);
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  #skipLine(data: Buffer, pos: number): number {
    const eol = data.indexOf(LF, pos);
    if (eol < 0) return data.length;
    this.#skippingLine = false;
    this.#atLineStart = true;
    return eol + 1;
  }

  #midLine(data: Buffer, pos: number, out: Buffer[]): number {
    const eol = data.indexOf(LF, pos);
    const end = eol < 0 ? data.length : eol + 1;
    out.push(data.subarray(pos, end));
    if (eol >= 0) this.#atLineStart = true;
    return end;
  }

  /** Gather up to DECIDE_BYTES (or a whole shorter line) and decide what the line is. */
  #lineStart(data: Buffer, pos: number, out: Buffer[]): number {
    const want = DECIDE_BYTES - this.#held.length;
    const eol = data.indexOf(LF, pos);
    const end = eol >= 0 && eol < pos + want ? eol + 1 : Math.min(data.length, pos + want);
    this.#held = Buffer.concat([this.#held, data.subarray(pos, end)]);
    const complete = this.#held[this.#held.length - 1] === LF;
    if (!complete && this.#held.length < DECIDE_BYTES) return end;
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    const first = this.#firstLine;
    this.#firstLine = false;
    if (first && held.equals(FROM_LINE)) {
      this.#skippingLine = true;
      return end;
    }
    if (!this.#ignoreDots && held.equals(DOT_LINE)) {
      this.#done = true;
      return end;
    }
    out.push(held);
    this.#atLineStart = complete;
    return end;
  }
}
