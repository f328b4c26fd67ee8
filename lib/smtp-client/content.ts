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
const DOT_BUF = Buffer.from(".", "latin1");

/** The encoding state machine, usable without streams. */
export class DataStuffer {
  private atLineStart = true;
  private lastByte = -1;

  /** Encode one chunk; the state carries over to the next. */
  push(buf: Buffer): Buffer {
    const out: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < buf.length; i++) {
      const byte = buf[i] ?? 0;
      if (this.atLineStart && byte === DOT) {
        out.push(buf.subarray(from, i), DOT_BUF);
        from = i;
      }
      if (byte === LF && this.lastByte !== CR) {
        out.push(buf.subarray(from, i), CRLF);
        from = i + 1;
      }
      this.atLineStart = byte === LF;
      this.lastByte = byte;
    }
    out.push(buf.subarray(from));
    return Buffer.concat(out);
  }

  /** What must follow the last chunk: CRLF unless the content is empty or already ends a line. */
  end(): Buffer {
    return this.lastByte === -1 || this.atLineStart ? Buffer.alloc(0) : CRLF;
  }
}

/** Streaming form of DataStuffer; size counts the bytes written (the size on the wire, without the final "."). */
export class DataEncoder extends Transform {
  private readonly stuffer = new DataStuffer();
  size = 0;

  override _transform(chunk: Buffer | string, _enc: BufferEncoding, done: TransformCallback): void {
    this.out(this.stuffer.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk));
    done();
  }

  override _flush(done: TransformCallback): void {
    this.out(this.stuffer.end());
    done();
  }

  private out(data: Buffer): void {
    if (data.length === 0) return;
    this.size += data.length;
    this.push(data);
  }
}

/** Encode a whole message at once (tests, small messages). */
export function encodeData(content: Buffer): Buffer {
  const stuffer = new DataStuffer();
  return Buffer.concat([stuffer.push(content), stuffer.end()]);
}
