/*
 * dot-stuff — RFC 1939 3 byte-stuffing of a multi-line response body: a '.' at the start
 * of a line gets another '.' in front; the terminating ".\r\n" follows a CRLF (one is added
 * when the body does not end with one). Two forms: DotStuffer streams a CRLF body chunk by
 * chunk; stuffedReply builds a whole reply (status line, body, terminator) from a message
 * held in memory in one pass, turning bare LFs into CRLF on the way when asked.
 * Talks to: nothing. Security: works on any bytes; the streamed form never holds a line whole.
 */

const DOT = Buffer.from(".");
const LF_DOT = Buffer.from("\n.");

export class DotStuffer {
  private atLineStart = true;
  private lastByte = -1;

  /** Stuff one chunk; chunks may split lines anywhere. Scans with indexOf, not byte by byte. */
  stuff(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const pieces: Buffer[] = [];
    if (this.atLineStart && chunk[0] === 0x2e) pieces.push(DOT);
    let from = 0;
    for (let i = chunk.indexOf(LF_DOT); i !== -1; i = chunk.indexOf(LF_DOT, i + 1)) {
      pieces.push(chunk.subarray(from, i + 1), DOT);
      from = i + 1;
    }
    this.lastByte = chunk[chunk.length - 1] ?? -1;
    this.atLineStart = this.lastByte === 0x0a;
    if (pieces.length === 0) return chunk;
    pieces.push(chunk.subarray(from));
    return Buffer.concat(pieces);
  }

  /** The end of the response: "\r\n.\r\n" or ".\r\n" after a complete line. */
  finish(): Buffer {
    return Buffer.from(this.lastByte === -1 || this.atLineStart ? ".\r\n" : "\r\n.\r\n");
  }
}

/** LF offsets of the body being stuffed, reused across calls (grown when a message has more lines). */
let lfAt = new Int32Array(4096);

/**
 * A whole multi-line reply as one Buffer: `status` (a latin1 line with its CRLF), `body`
 * dot-stuffed, and the terminator, exactly as DotStuffer would send it. With `crlf`, a CR is
 * also put before every LF that has none (the stored LF form of a Maildir file): the same
 * bytes as CrlfEncoder then DotStuffer. One indexOf pass finds the line ends and counts what
 * is added; the body is copied once into an output of the exact size and spread in place from
 * its end, with copyWithin (no per-line allocation, unlike Buffer.copy of a part). `crlfOctets`
 * is the body's size in CRLF form, before stuffing (what RFC 1939 sizes and the logout line count).
 * `into`, when it gives a buffer (of exactly the size asked), is where the reply is built
 * (`placed`: an output's batch, Pop3Output.slot, so it needs no write of its own).
 */
export function stuffedReply(
  status: string,
  body: Buffer,
  crlf: boolean,
  into?: (size: number) => Buffer | undefined,
): { reply: Buffer; crlfOctets: number; placed: boolean } {
  const n = body.length;
  const firstDot = n > 0 && body[0] === 0x2e;
  let dots = firstDot ? 1 : 0;
  let crs = 0;
  let lines = 0;
  for (let i = body.indexOf(0x0a); i !== -1; i = body.indexOf(0x0a, i + 1)) {
    if (lines === lfAt.length) {
      const grown = new Int32Array(lfAt.length * 2);
      grown.set(lfAt);
      lfAt = grown;
    }
    lfAt[lines++] = i;
    if (crlf && (i === 0 || body[i - 1] !== 0x0d)) crs++;
    if (body[i + 1] === 0x2e) dots++;
  }
  const endsLine = n === 0 || body[n - 1] === 0x0a;
  const start = status.length;
  const bodyEnd = start + n + crs + dots;
  const size = bodyEnd + (endsLine ? 3 : 5);
  const slot = into?.(size);
  const out = slot ?? Buffer.allocUnsafe(size);
  out.write(status, 0, "latin1");
  body.copy(out, start);
  // From the last line end back: what follows an insertion moves up to its final place,
  // which is never a byte still to be read. `end`: body bytes [0, end) not yet moved.
  let o = bodyEnd;
  let end = n;
  for (let k = lines - 1; k >= 0 && o > start + end; k--) {
    const i = lfAt[k] as number;
    if (body[i + 1] === 0x2e) {
      o -= end - i - 1;
      out.copyWithin(o, start + i + 1, start + end);
      out[--o] = 0x2e;
      end = i + 1;
    }
    if (crlf && (i === 0 || body[i - 1] !== 0x0d)) {
      o -= end - i;
      out.copyWithin(o, start + i, start + end);
      out[--o] = 0x0d;
      end = i;
    }
  }
  if (firstDot) {
    out.copyWithin(start + 1, start, start + end);
    out[start] = 0x2e;
  }
  let t = bodyEnd;
  if (!endsLine) {
    out[t++] = 0x0d;
    out[t++] = 0x0a;
  }
  out[t++] = 0x2e;
  out[t++] = 0x0d;
  out[t] = 0x0a;
  return { reply: out, crlfOctets: n + crs, placed: slot !== undefined };
}
