/*
 * line-endings — streaming CRLF → LF conversion for message content.
 *
 * The queue stores LF line endings (as Postfix's record files do); smtpd hands over CRLF
 * and `postern sendmail` LF, possibly with CRLF from Windows-made input. Every CRLF
 * becomes LF, a CR not followed by LF stays as it is, and a CR at the end of one chunk
 * waits to see the next. Nothing is buffered beyond that one byte.
 *
 * Talks to: nothing. Security: input is untrusted bytes; output is never longer than input.
 */

const CR = 0x0d;
const LF = 0x0a;
const CR_BYTE = Buffer.from([CR]);

export class CrlfToLf {
  #pendingCr = false;

  /** Convert one chunk; returns the bytes ready to go on (may be empty). */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const parts: Buffer[] = [];
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (chunk[0] !== LF) parts.push(CR_BYTE);
    }
    let start = 0;
    for (let cr = chunk.indexOf(CR); cr >= 0; cr = chunk.indexOf(CR, cr + 1)) {
      if (cr === chunk.length - 1) {
        parts.push(chunk.subarray(start, cr));
        this.#pendingCr = true;
        start = chunk.length;
        break;
      }
      if (chunk[cr + 1] === LF) {
        parts.push(chunk.subarray(start, cr));
        start = cr + 1;
      }
    }
    if (start < chunk.length) parts.push(chunk.subarray(start));
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** End of input: a CR held back from the last chunk is just a CR. */
  end(): Buffer {
    const rest = this.#pendingCr ? CR_BYTE : Buffer.alloc(0);
    this.#pendingCr = false;
    return rest;
  }
}
