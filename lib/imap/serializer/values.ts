/*
 * values — IMAP data values to wire bytes: NIL, numbers, atoms, quoted strings, literals
 * (including literals whose bytes are streamed from an AsyncIterable of known size) and
 * parenthesized lists, with the quoting rule applied in one place.
 *
 * Quoting: a string is quoted only when it is short 7-bit text without NUL, CR or LF
 * ('"' and '\' escaped); anything else (8-bit, CR/LF, longer than MAX_QUOTED) becomes a
 * literal. Atoms are written as given: the caller vouches for them (flags, keywords,
 * capability names), so they never carry client bytes unchecked.
 *
 * Talks to: nothing. RFC 3501 4 (data formats), 9 (string, quoted, literal, nil).
 * Security: output only; literal sizes are byte counts, so 8-bit data cannot desynchronize
 * the client.
 */
import { isAtomChar } from "../parser/reader.js";

/** A literal whose bytes are produced later, e.g. a FETCH BODY[] read from disk. */
export interface StreamedLiteral {
  readonly size: number;
  readonly source: AsyncIterable<Uint8Array>;
}

export type ImapValue =
  | null
  | number
  | bigint
  | string
  | Buffer
  | { readonly atom: string }
  | { readonly astring: string }
  | { readonly literal: Buffer }
  | { readonly stream: StreamedLiteral }
  /** Items written back to back with no separator (a multipart's bodies in BODYSTRUCTURE). */
  | { readonly joined: readonly ImapValue[] }
  | readonly ImapValue[];

export type ResponsePart = Buffer | StreamedLiteral;

export const MAX_QUOTED = 1024;

/**
 * Collects text and literal parts of one response. Text is gathered in one JS string and
 * encoded once per part (UTF-8, as each piece was before: pieces are joined only where no
 * surrogate pair could form across the seam, whose halves UTF-8 writes as two U+FFFD
 * apart), not one Buffer per piece.
 */
export class ResponseWriter {
  private readonly parts: ResponsePart[] = [];
  private text: Buffer[] = [];
  /** Text not yet encoded. */
  private pending = "";
  /** `pending` ends with a high surrogate (kept here: reading the end of a rope flattens it). */
  private highLast = false;
  /** `text` holds a caller's Buffer: the part must be a copy of it. */
  private foreign = false;

  raw(text: string | Buffer): this {
    if (typeof text !== "string") {
      this.encodePending();
      this.text.push(text);
      this.foreign = true;
    } else if (text !== "") {
      // a high surrogate at the end and a low one at the start would join into one character
      const first = text.charCodeAt(0);
      if (this.highLast && first >= 0xdc00 && first <= 0xdfff) this.encodePending();
      this.pending += text;
      const last = text.charCodeAt(text.length - 1);
      this.highLast = last >= 0xd800 && last <= 0xdbff;
    }
    return this;
  }

  stream(literal: StreamedLiteral): this {
    this.raw(`{${literal.size}}\r\n`);
    this.flushText();
    this.parts.push(literal);
    return this;
  }

  value(value: ImapValue): this {
    writeValue(this, value);
    return this;
  }

  /** Values separated by single spaces. */
  values(values: readonly ImapValue[]): this {
    for (let i = 0; i < values.length; i++) {
      if (i > 0) this.raw(" ");
      writeValue(this, values[i] as ImapValue);
    }
    return this;
  }

  /** The response so far, ending with CRLF. */
  finish(): ResponsePart[] {
    this.raw("\r\n");
    this.flushText();
    return this.parts;
  }

  private encodePending(): void {
    if (this.pending === "") return;
    this.text.push(Buffer.from(this.pending, "utf8"));
    this.pending = "";
    this.highLast = false;
  }

  private flushText(): void {
    this.encodePending();
    const text = this.text;
    if (text.length === 1 && !this.foreign) this.parts.push(text[0] as Buffer);
    else if (text.length > 0) this.parts.push(Buffer.concat(text));
    this.text = [];
    this.foreign = false;
  }
}

function writeValue(w: ResponseWriter, value: ImapValue): void {
  if (value === null) w.raw("NIL");
  else if (typeof value === "number" || typeof value === "bigint") w.raw(String(value));
  else if (typeof value === "string") writeText(w, value);
  else if (Buffer.isBuffer(value)) writeString(w, value);
  else if (isList(value)) writeList(w, value);
  else if ("atom" in value) w.raw(value.atom);
  else if ("astring" in value) writeAstring(w, value.astring);
  else if ("literal" in value) writeLiteral(w, value.literal);
  else if ("joined" in value) for (const item of value.joined) writeValue(w, item);
  else w.stream(value.stream);
}

function isList(value: ImapValue): value is readonly ImapValue[] {
  return Array.isArray(value);
}

function writeList(w: ResponseWriter, items: readonly ImapValue[]): void {
  w.raw("(");
  w.values(items);
  w.raw(")");
}

/** A byte (or character code) a quoted string may hold: 7-bit, not NUL, CR or LF. */
function quotable(c: number): boolean {
  return c !== 0 && c !== 0x0d && c !== 0x0a && c <= 0x7f;
}

/** True when the bytes can be sent as a quoted string. */
export function canQuote(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (const byte of bytes) if (!quotable(byte)) return false;
  return true;
}

/** 7-bit text as a quoted string, with '"' and backslash escaped. */
function quoted(text: string): string {
  return `"${text.includes('"') || text.includes("\\") ? text.replace(/["\\]/g, "\\$&") : text}"`;
}

/**
 * writeString of the string's UTF-8 bytes, without making them when the string is short
 * 7-bit text (then its bytes are its characters, and canQuote would say yes).
 */
function writeText(w: ResponseWriter, text: string): void {
  if (text.length > MAX_QUOTED || !quotableText(text)) writeString(w, Buffer.from(text, "utf8"));
  else w.raw(quoted(text));
}

function quotableText(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (!quotable(text.charCodeAt(i))) return false;
  return true;
}

function writeString(w: ResponseWriter, bytes: Buffer): void {
  if (!canQuote(bytes)) writeLiteral(w, bytes);
  else w.raw(quoted(bytes.toString("latin1")));
}

function writeLiteral(w: ResponseWriter, bytes: Buffer): void {
  w.raw(`{${bytes.length}}\r\n`);
  w.raw(bytes);
}

/** An atom when every character is an ATOM-CHAR and it is not NIL, else a string. */
function writeAstring(w: ResponseWriter, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  const atom = bytes.length > 0 && bytes.every(isAtomChar) && text.toUpperCase() !== "NIL";
  if (atom) w.raw(bytes);
  else writeString(w, bytes);
}

/** Numbers as an IMAP set in the order given: ascending runs become ranges ("1:3,7,5"). */
export function formatNumberSet(numbers: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < numbers.length) {
    const start = numbers[i]!;
    let end = start;
    while (numbers[i + 1] === end + 1) end = numbers[++i]!;
    out.push(end === start ? String(start) : `${start}:${end}`);
    i++;
  }
  return out.join(",");
}
