/*
 * dot-stuff — RFC 1939 3 byte-stuffing of a multi-line response body, streamed: a '.' at
 * the start of a line gets another '.' in front; the terminating ".\r\n" follows a CRLF
 * (one is added when the body does not end with one). Input is the message in CRLF form.
 * Talks to: nothing. Security: works on any bytes; no line is ever held whole.
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
