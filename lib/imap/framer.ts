/*
 * framer — IMAP client bytes in, complete commands (line text plus literals) out.
 *
 * A command is one or more line segments, each but the last ending in a literal marker
 * `{n}` (synchronizing: the client waits for a "+" continuation before sending the n
 * bytes) or `{n+}` (LITERAL+, sent at once), then n raw bytes. The framer joins the
 * segments into one line (the CRLF after each marker removed) and hands over the literal
 * bytes separately, so the parser reads `{n}` and takes the next literal.
 * Pull-based: push() bytes, then call next() until it returns "none". Feeding byte by byte
 * or all at once yields the same events.
 *
 * Talks to: nothing. RFCs: 3501 4.3 and 7.5 (literals, continuation), 7888 (LITERAL+),
 * 3516 (`~{n}` literal8, framed like a literal, flagged binary).
 * Security: input is hostile. Line text is capped at maxLineLength (Dovecot's
 * imap_max_line_length), each literal at maxLiteralSize and their number per command at
 * maxLiterals. An over-long line is discarded as it arrives and reported when its end
 * comes, a refused non-synchronizing literal is skipped byte by byte, so memory stays
 * bounded and the session resynchronizes on the next command.
 */

export interface FramerLimits {
  /** Bytes of command text, literals excluded (imap_max_line_length). */
  readonly maxLineLength: number;
  /** Bytes of one literal (mail_max_size for APPEND). */
  readonly maxLiteralSize: number;
  /** Literals in one command. */
  readonly maxLiterals: number;
}

export const DEFAULT_FRAMER_LIMITS: FramerLimits = {
  maxLineLength: 64 * 1024,
  maxLiteralSize: 64 * 1024 * 1024,
  maxLiterals: 32,
};

export interface FramedLiteral {
  readonly bytes: Buffer;
  /** Sent as `{n+}` without waiting for a continuation. */
  readonly nonSync: boolean;
  /** Sent as `~{n}` (RFC 3516 literal8). */
  readonly binary: boolean;
  /** Index in the command line just after the literal's marker. */
  readonly offset: number;
}

export interface FramedCommand {
  /** The command text, literal markers kept, CRLFs after them removed, no final CRLF. */
  readonly line: Buffer;
  readonly literals: readonly FramedLiteral[];
}

export type FrameErrorReason = "line-too-long" | "literal-too-big" | "too-many-literals";

export type FrameEvent =
  | { readonly kind: "command"; readonly command: FramedCommand }
  /** A synchronizing literal was announced: answer "+ Ready for literal data" (or call abortCommand). */
  | { readonly kind: "continue"; readonly tag: string | null; readonly size: number }
  /** The command was discarded; the engine answers with this status and goes on. */
  | {
      readonly kind: "error";
      readonly tag: string | null;
      readonly reason: FrameErrorReason;
      readonly status: "BAD" | "NO";
      readonly code: "TOOBIG" | null;
      readonly text: string;
    }
  | { readonly kind: "none" };

type ErrorEvent = Extract<FrameEvent, { kind: "error" }>;

type Mode =
  | { readonly name: "line" }
  | { readonly name: "literal"; readonly size: number; readonly nonSync: boolean; readonly binary: boolean }
  | { readonly name: "skip-line"; readonly error: ErrorEvent }
  | { readonly name: "skip-literal"; remaining: number; readonly error: ErrorEvent };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = Buffer.alloc(0);
/** Enough of a discarded line's end to recognise a `{4294967295+}` marker. */
const TAIL_KEEP = 32;
const MARKER = /(~?)\{([0-9]{1,20})(\+?)\}$/;
/** ASTRING-CHAR except "+" (RFC 3501 9, tag). */
const TAG_CHARS = /^[!#$&',\-./0-9:;<=>?@A-Z[\]^_`a-z|}~]+$/;

export class ImapFramer {
  private input: Buffer[] = [];
  private inputLength = 0;
  private mode: Mode = { name: "line" };
  /** Text of the current command so far (segments already joined). */
  private text: Buffer[] = [];
  private textLength = 0;
  /** Text of the current segment before its LF. */
  private segment: Buffer[] = [];
  private segmentLength = 0;
  private literals: FramedLiteral[] = [];
  private literalParts: Buffer[] = [];
  private literalLength = 0;
  private tag: string | null = null;
  /** Last bytes of a discarded line, to find a literal marker at its end. */
  private tail: Buffer = EMPTY;

  constructor(private readonly limits: FramerLimits = DEFAULT_FRAMER_LIMITS) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.input.push(Buffer.from(chunk));
    this.inputLength += chunk.length;
  }

  /** Bytes received and not yet framed (for the caller's backpressure). */
  get buffered(): number {
    return this.inputLength + this.segmentLength + this.textLength + this.literalLength;
  }

  /** Forgets the command in progress, e.g. when the engine refused a synchronizing literal. */
  abortCommand(): void {
    this.resetCommand();
    this.mode = { name: "line" };
  }

  /** Frames as far as the input allows; "none" means more bytes are needed. */
  next(): FrameEvent {
    for (;;) {
      if (this.inputLength === 0) return { kind: "none" };
      const event = this.step();
      if (event !== null) return event;
    }
  }

  private step(): FrameEvent | null {
    switch (this.mode.name) {
      case "line":
        return this.stepLine();
      case "literal":
        return this.stepLiteral(this.mode);
      case "skip-line":
        return this.stepSkipLine(this.mode.error);
      case "skip-literal":
        return this.stepSkipLiteral(this.mode);
    }
  }

  private takeInput(max: number): Buffer {
    const first = this.input[0]!;
    const piece = first.length <= max ? first : first.subarray(0, max);
    if (piece.length === first.length) this.input.shift();
    else this.input[0] = first.subarray(max);
    this.inputLength -= piece.length;
    return piece;
  }

  /** Takes input up to and including the next LF in the first chunk; reports whether it ended there. */
  private takeToLf(): { bytes: Buffer; ended: boolean } {
    const first = this.input[0]!;
    const lf = first.indexOf(LF);
    const bytes = this.takeInput(lf < 0 ? first.length : lf + 1);
    return { bytes, ended: lf >= 0 };
  }

  private stepLine(): FrameEvent | null {
    const { bytes, ended } = this.takeToLf();
    const content = ended ? bytes.subarray(0, bytes.length - 1) : bytes;
    this.segment.push(content);
    this.segmentLength += content.length;
    if (this.textLength + this.segmentLength > this.limits.maxLineLength + 1) {
      return this.startSkipping(content, ended, this.lineTooLong());
    }
    if (!ended) return null;
    let segment = Buffer.concat(this.segment);
    if (segment[segment.length - 1] === CR) segment = segment.subarray(0, segment.length - 1);
    this.segment = [];
    this.segmentLength = 0;
    if (this.text.length === 0) this.tag = tagOf(segment);
    if (this.textLength + segment.length > this.limits.maxLineLength) return this.lineTooLongAtEnd(segment);
    this.text.push(segment);
    this.textLength += segment.length;
    return this.afterSegment(segment);
  }

  private afterSegment(segment: Buffer): FrameEvent | null {
    const marker = literalMarker(segment);
    if (marker === null) {
      const command = { line: Buffer.concat(this.text), literals: this.literals };
      this.resetCommand();
      return { kind: "command", command };
    }
    const refusal = this.refusal(marker.size);
    if (refusal !== null) {
      if (!marker.nonSync) {
        this.abortCommand();
        return refusal;
      }
      this.resetCommand();
      this.mode = { name: "skip-literal", remaining: marker.size, error: refusal };
      return null;
    }
    this.mode = { name: "literal", size: marker.size, nonSync: marker.nonSync, binary: marker.binary };
    return marker.nonSync ? null : { kind: "continue", tag: this.tag, size: marker.size };
  }

  private refusal(size: number): ErrorEvent | null {
    if (this.literals.length >= this.limits.maxLiterals) {
      return this.error("too-many-literals", "BAD", null, "Too many literals in one command.");
    }
    if (size > this.limits.maxLiteralSize) {
      return this.error("literal-too-big", "NO", "TOOBIG", "Literal size exceeds the maximum.");
    }
    return null;
  }

  private stepLiteral(mode: Extract<Mode, { name: "literal" }>): FrameEvent | null {
    const piece = this.takeInput(mode.size - this.literalLength);
    this.literalParts.push(piece);
    this.literalLength += piece.length;
    if (this.literalLength === mode.size) this.finishLiteral(mode);
    return null;
  }

  private finishLiteral(mode: Extract<Mode, { name: "literal" }>): void {
    const bytes = Buffer.concat(this.literalParts, this.literalLength);
    this.literals.push({ bytes, nonSync: mode.nonSync, binary: mode.binary, offset: this.textLength });
    this.literalParts = [];
    this.literalLength = 0;
    this.mode = { name: "line" };
  }

  private startSkipping(content: Buffer, ended: boolean, error: ErrorEvent): FrameEvent | null {
    this.resetCommand();
    this.tail = keepTail(EMPTY, content);
    this.mode = { name: "skip-line", error };
    return ended ? this.endOfSkippedLine(error) : null;
  }

  private stepSkipLine(error: ErrorEvent): FrameEvent | null {
    const { bytes, ended } = this.takeToLf();
    const content = ended ? bytes.subarray(0, bytes.length - 1) : bytes;
    this.tail = keepTail(this.tail, content);
    return ended ? this.endOfSkippedLine(error) : null;
  }

  /** A discarded line ended: its literal (if announced without sync) is skipped too. */
  private endOfSkippedLine(error: ErrorEvent): FrameEvent | null {
    let tail = this.tail;
    if (tail[tail.length - 1] === CR) tail = tail.subarray(0, tail.length - 1);
    this.tail = EMPTY;
    const marker = literalMarker(tail);
    if (marker?.nonSync) {
      this.mode = { name: "skip-literal", remaining: marker.size, error };
      return null;
    }
    this.mode = { name: "line" };
    return error;
  }

  private stepSkipLiteral(mode: Extract<Mode, { name: "skip-literal" }>): FrameEvent | null {
    mode.remaining -= this.takeInput(mode.remaining).length;
    if (mode.remaining === 0) this.mode = { name: "skip-line", error: mode.error };
    return null;
  }

  private lineTooLong(): ErrorEvent {
    if (this.text.length === 0 && this.segment.length > 0) this.tag = tagOf(Buffer.concat(this.segment));
    return this.error("line-too-long", "BAD", null, "Command line too long.");
  }

  private lineTooLongAtEnd(segment: Buffer): FrameEvent | null {
    const error = this.lineTooLong();
    this.resetCommand();
    this.tail = keepTail(EMPTY, segment);
    return this.endOfSkippedLine(error);
  }

  private error(
    reason: FrameErrorReason,
    status: "BAD" | "NO",
    code: "TOOBIG" | null,
    text: string,
  ): ErrorEvent {
    return { kind: "error", tag: this.tag, reason, status, code, text };
  }

  private resetCommand(): void {
    this.text = [];
    this.textLength = 0;
    this.segment = [];
    this.segmentLength = 0;
    this.literals = [];
    this.literalParts = [];
    this.literalLength = 0;
  }
}

function keepTail(tail: Buffer, more: Buffer): Buffer {
  const joined = tail.length === 0 ? more : Buffer.concat([tail, more]);
  return Buffer.from(joined.subarray(Math.max(0, joined.length - TAIL_KEEP)));
}

/** The `{n}`, `{n+}` or `~{n}` at the end of a line segment, if any. */
export function literalMarker(segment: Buffer): { size: number; nonSync: boolean; binary: boolean } | null {
  if (segment[segment.length - 1] !== 0x7d) return null; // "}"
  const tail = segment.subarray(Math.max(0, segment.length - TAIL_KEEP)).toString("latin1");
  const m = MARKER.exec(tail);
  if (m === null) return null;
  return { size: Number(m[2]), nonSync: m[3] === "+", binary: m[1] === "~" };
}

/** The command tag at the start of a line, or null when it is missing or malformed. */
export function tagOf(line: Buffer): string | null {
  const head = line.subarray(0, 256);
  const space = head.indexOf(0x20);
  if (space <= 0) return null;
  const tag = head.subarray(0, space).toString("latin1");
  return TAG_CHARS.test(tag) ? tag : null;
}
