/*
 * input-buffer — bytes received from the client and not yet processed, and command-line
 * framing over them.
 *
 * Chunks are appended as they arrive and joined lazily, so byte-by-byte input stays linear.
 * takeLine() cuts one command line at LF, reporting whether it ended in CRLF or a bare LF;
 * a line longer than the limit is discarded piece by piece (never held whole) and reported
 * once its LF arrives, as Postfix does with line_length_limit.
 *
 * Talks to: nothing. RFC 5321 2.3.8 (lines end in CRLF), 4.5.3.1.4 (line length).
 * Security: memory per connection is bounded by the caller's pause/resume threshold plus
 * one line limit; an endless line without LF costs nothing but CPU to discard.
 */

export type LineResult =
  | { readonly kind: "line"; readonly bytes: Buffer; readonly bareLf: boolean }
  | { readonly kind: "none" }
  | { readonly kind: "too-long" };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);

export class InputBuffer {
  private buf: Buffer = EMPTY;
  private pos = 0;
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** Inside an over-long line: drop bytes until its LF. */
  private skippingLongLine = false;

  get size(): number {
    return this.buf.length - this.pos + this.pendingLength;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
  }

  /** Joins pending chunks into one contiguous view of the unprocessed bytes. */
  private view(): Buffer {
    if (this.pending.length > 0) {
      const rest = this.buf.subarray(this.pos);
      this.buf =
        rest.length === 0 && this.pending.length === 1
          ? this.pending[0]!
          : Buffer.concat([rest, ...this.pending]);
      this.pos = 0;
      this.pending = [];
      this.pendingLength = 0;
    }
    return this.buf.subarray(this.pos);
  }

  /** Up to max unprocessed bytes, without consuming them. */
  peek(max: number): Buffer {
    const v = this.view();
    return v.length > max ? v.subarray(0, max) : v;
  }

  consume(n: number): void {
    this.view();
    this.pos = Math.min(this.buf.length, this.pos + n);
    if (this.pos === this.buf.length) {
      this.buf = EMPTY;
      this.pos = 0;
    }
  }

  /** Up to max bytes, consumed. */
  take(max: number): Buffer {
    const chunk = this.peek(max);
    this.consume(chunk.length);
    return chunk;
  }

  discardAll(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.pending = [];
    this.pendingLength = 0;
    this.skippingLongLine = false;
  }

  /** Cuts the next line (without its line ending) if one is complete. */
  takeLine(limit: number): LineResult {
    const v = this.view();
    const lf = v.indexOf(LF);
    if (lf < 0) {
      if (this.skippingLongLine || v.length > limit) {
        this.skippingLongLine = true;
        this.consume(v.length);
      }
      return { kind: "none" };
    }
    this.consume(lf + 1);
    const bareLf = lf === 0 || v[lf - 1] !== CR;
    const end = bareLf ? lf : lf - 1;
    if (this.skippingLongLine || end > limit) {
      this.skippingLongLine = false;
      return { kind: "too-long" };
    }
    return { kind: "line", bytes: v.subarray(0, end), bareLf };
  }
}
