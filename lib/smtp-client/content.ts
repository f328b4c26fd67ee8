/*
 * content — queued message content as SMTP DATA wants it (RFC 5321 4.5.2, 2.3.8): the
 * queue stores LF-terminated lines; the wire needs CRLF line endings and a "." doubled at
 * the start of every line, and the content must end in CRLF before the final ".".
 *
 * DataEncoder is a streaming Transform: it never holds more than one chunk, state (line
 * start, last byte) survives chunk boundaries, and existing CRLF pairs are kept as they
 * are. The terminating ".\r\n" is the session's business, not this stream's.
 * Talks to nothing. Input is untrusted message data: any bytes, lines of any length.
 */
import { Transform, type TransformCallback } from "node:stream";

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CRLF = Buffer.from("\r\n", "latin1");

/** Converts LF to CRLF and dot-stuffs; flush() adds a final CRLF when the content lacks one. */
export class DataEncoder extends Transform {
  private atLineStart = true;
  private lastByte = -1;
  private bytesOut = 0;

  /** Bytes written so far (the message size on the wire, without the final "."). */
  get size(): number {
    return this.bytesOut;
  }

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    this.emit_(encodeChunk(buf, this));
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.lastByte !== -1 && !this.atLineStart) this.emit_(CRLF);
    done();
  }

  private emit_(data: Buffer): void {
    if (data.length === 0) return;
    this.bytesOut += data.length;
    this.push(data);
  }

  /** State shared with encodeChunk. */
  get state(): { atLineStart: boolean; lastByte: number } {
    return { atLineStart: this.atLineStart, lastByte: this.lastByte };
  }

  set state(s: { atLineStart: boolean; lastByte: number }) {
    this.atLineStart = s.atLineStart;
    this.lastByte = s.lastByte;
  }
}

/** Encode one chunk given the state left by the previous one; updates the state. */
function encodeChunk(buf: Buffer, enc: DataEncoder): Buffer {
  let { atLineStart, lastByte } = enc.state;
  const out: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < buf.length; i++) {
    const byte = buf[i] ?? 0;
    if (atLineStart && byte === DOT) {
      out.push(buf.subarray(from, i), Buffer.from(".", "latin1"));
      from = i;
    }
    if (byte === LF && lastByte !== CR) {
      out.push(buf.subarray(from, i), CRLF);
      from = i + 1;
    }
    atLineStart = byte === LF;
    lastByte = byte;
  }
  out.push(buf.subarray(from));
  enc.state = { atLineStart, lastByte };
  return Buffer.concat(out);
}

/** Encode a whole message at once (tests, small messages). */
export function encodeData(content: Buffer): Buffer {
  const enc = new DataEncoder();
  const parts: Buffer[] = [];
  enc.on("data", (d: Buffer) => parts.push(d));
  enc.write(content);
  enc.end();
  return Buffer.concat(parts);
}
