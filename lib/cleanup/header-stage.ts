/*
 * header-stage — splits LF-normalised message content into the primary header block
 * and the body, streaming, in bounded memory (Postfix's mime_state, primary part only).
 *
 * Rules, as Postfix's cleanup applies them:
 *  - headers end at the first empty line; the empty line and everything after is body;
 *  - a line starting with space or tab continues the previous header (folding);
 *  - a line that is neither (not "name:", or a continuation with nothing to continue)
 *    also ends the headers: a blank line is inserted before it so the message stays
 *    well formed, and it becomes the first body line;
 *  - one logical header is kept up to headerSizeLimit bytes; the excess is discarded
 *    (the header is truncated, the message is not rejected);
 *  - once headerSizeLimit bytes of headers have gone by, the next line starts the body
 *    ("header info that exceeds $header_size_limit bytes forces the start of the body");
 *  - content without an empty line, or with no body at all, is fine.
 * Only the current logical header and the current line are held, each at most
 * headerSizeLimit bytes; body bytes are passed on as they arrive.
 *
 * Talks to: nothing; the caller receives headers and body through HeaderStageEvents.
 * Security: input is untrusted; every buffer is bounded by headerSizeLimit.
 */

export interface HeaderStageEvents {
  /** One logical header, folded lines joined by LF, no final LF, possibly truncated. */
  header(raw: Buffer): void;
  /** Called exactly once, after the last header and before any body bytes. */
  endOfHeaders(): void;
  body(bytes: Buffer): void;
}

const LF = 0x0a;
const NEWLINE = Buffer.from("\n");

type LineKind = "blank" | "continuation" | "header" | "garbage";

/** "name:" with an optional run of spaces or tabs before the colon (obsolete syntax). */
export function isHeaderStart(line: Buffer): boolean {
  let i = 0;
  while (i < line.length && line[i]! >= 0x21 && line[i]! <= 0x7e && line[i] !== 0x3a) i++;
  if (i === 0) return false;
  while (i < line.length && (line[i] === 0x20 || line[i] === 0x09)) i++;
  return line[i] === 0x3a;
}

export class HeaderStage {
  readonly #limit: number;
  readonly #events: HeaderStageEvents;
  #inBody = false;
  #header: Buffer[] = [];
  #headerBytes = 0;
  #headersSeen = 0;
  #line: Buffer[] = [];
  #lineBytes = 0;
  /** The current physical line overflowed and was truncated: drop the rest of it. */
  #dropRestOfLine = false;

  constructor(headerSizeLimit: number, events: HeaderStageEvents) {
    this.#limit = Math.max(1, headerSizeLimit);
    this.#events = events;
  }

  push(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0 && !this.#inBody) rest = this.#consumeHeaderBytes(rest);
    if (rest.length > 0) this.#events.body(rest);
  }

  /** End of content: a last line without LF is classified like any other. */
  end(): void {
    if (this.#inBody) return;
    if (this.#lineBytes > 0 || this.#dropRestOfLine) this.#finishLine(false);
    if (!this.#inBody) this.#enterBody();
  }

  /** Eat header-phase bytes up to and including one LF; returns what is left. */
  #consumeHeaderBytes(chunk: Buffer): Buffer {
    const eol = chunk.indexOf(LF);
    const piece = eol < 0 ? chunk : chunk.subarray(0, eol);
    const rest = eol < 0 ? Buffer.alloc(0) : chunk.subarray(eol + 1);
    if (!this.#dropRestOfLine) this.#addToLine(piece);
    if (this.#inBody) {
      // The line overflowed as garbage and became body: pass the rest through untouched.
      return eol < 0 ? rest : Buffer.concat([NEWLINE, rest]);
    }
    if (eol >= 0) this.#finishLine(true);
    return rest;
  }

  #addToLine(piece: Buffer): void {
    const room = this.#limit - this.#lineBytes;
    if (piece.length <= room) {
      // Copied: the line outlives this chunk, whose buffer the caller may reuse.
      if (piece.length > 0) this.#line.push(Buffer.from(piece));
      this.#lineBytes += piece.length;
      return;
    }
    this.#line.push(Buffer.from(piece.subarray(0, room)));
    this.#lineBytes = this.#limit;
    const overflow = piece.subarray(room);
    const line = this.#takeLine();
    const kind = this.#classify(line);
    if (kind === "garbage" || kind === "blank") {
      this.#startBodyWith(line);
      this.#events.body(overflow);
      return;
    }
    this.#applyLine(kind, line);
    this.#dropRestOfLine = true;
  }

  #takeLine(): Buffer {
    const line = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
    this.#line = [];
    this.#lineBytes = 0;
    return line;
  }

  #finishLine(hadNewline: boolean): void {
    if (this.#dropRestOfLine) {
      this.#dropRestOfLine = false;
      return;
    }
    const line = this.#takeLine();
    const kind = this.#classify(line);
    if (kind === "blank") {
      this.#enterBody();
      this.#events.body(NEWLINE);
    } else if (kind === "garbage") {
      this.#startBodyWith(line);
      if (hadNewline) this.#events.body(NEWLINE);
    } else this.#applyLine(kind, line);
  }

  #classify(line: Buffer): LineKind {
    if (line.length === 0) return "blank";
    if ((line[0] === 0x20 || line[0] === 0x09) && this.#header.length > 0) return "continuation";
    const seen = this.#headersSeen + (this.#header.length > 0 ? this.#headerBytes + 1 : 0);
    if (seen < this.#limit && isHeaderStart(line)) return "header";
    return "garbage";
  }

  #applyLine(kind: "continuation" | "header", line: Buffer): void {
    if (kind === "header") {
      this.#flushHeader();
      this.#appendToHeader(line);
      return;
    }
    this.#appendToHeader(NEWLINE);
    this.#appendToHeader(line);
  }

  #appendToHeader(bytes: Buffer): void {
    const room = this.#limit - this.#headerBytes;
    if (room <= 0) return;
    const kept = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.#header.push(kept);
    this.#headerBytes += kept.length;
  }

  #flushHeader(): void {
    if (this.#header.length === 0) return;
    const raw = Buffer.concat(this.#header);
    this.#header = [];
    this.#headerBytes = 0;
    this.#headersSeen += raw.length + 1;
    this.#events.header(raw);
  }

  #enterBody(): void {
    this.#flushHeader();
    this.#inBody = true;
    this.#events.endOfHeaders();
  }

  /** A non-header line ends the headers: separate it from them with an empty line. */
  #startBodyWith(line: Buffer): void {
    this.#enterBody();
    this.#events.body(NEWLINE);
    this.#events.body(line);
  }
}
