/*
 * dot-stuff — RFC 1939 3 byte-stuffing of a multi-line response body, streamed: a '.' at
 * the start of a line gets another '.' in front; the terminating ".\r\n" follows a CRLF
 * (one is added when the body does not end with one). Input is the message in CRLF form.
 * Talks to: nothing. Security: works on any bytes; no line is ever held whole.
 */

export class DotStuffer {
  private atLineStart = true;
  private lastByte = -1;

  /** Stuff one chunk; chunks may split lines anywhere. */
  stuff(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const pieces: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const starts = i === 0 ? this.atLineStart : chunk[i - 1] === 0x0a;
      if (starts && chunk[i] === 0x2e) {
        pieces.push(chunk.subarray(from, i), Buffer.from("."));
        from = i;
      }
    }
    pieces.push(chunk.subarray(from));
    this.lastByte = chunk[chunk.length - 1] ?? -1;
    this.atLineStart = this.lastByte === 0x0a;
    return pieces.length === 1 ? chunk : Buffer.concat(pieces);
  }

  /** The end of the response: "\r\n.\r\n" or ".\r\n" after a complete line. */
  finish(): Buffer {
    return Buffer.from(this.lastByte === -1 || this.atLineStart ? ".\r\n" : "\r\n.\r\n");
  }
}
