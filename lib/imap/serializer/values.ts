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

/** Collects text and literal parts of one response. */
export class ResponseWriter {
  private readonly parts: ResponsePart[] = [];
  private text: Buffer[] = [];

  raw(text: string | Buffer): this {
    this.text.push(typeof text === "string" ? Buffer.from(text, "utf8") : text);
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
    values.forEach((value, i) => {
      if (i > 0) this.raw(" ");
      this.value(value);
    });
    return this;
  }

  /** The response so far, ending with CRLF. */
  finish(): ResponsePart[] {
    this.raw("\r\n");
    this.flushText();
    return this.parts;
  }

  private flushText(): void {
    if (this.text.length > 0) this.parts.push(Buffer.concat(this.text));
    this.text = [];
  }
}

function writeValue(w: ResponseWriter, value: ImapValue): void {
  if (value === null) w.raw("NIL");
  else if (typeof value === "number" || typeof value === "bigint") w.raw(String(value));
  else if (typeof value === "string") writeString(w, Buffer.from(value, "utf8"));
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

/** True when the bytes can be sent as a quoted string. */
export function canQuote(bytes: Buffer): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (const byte of bytes) if (byte === 0 || byte === 0x0d || byte === 0x0a || byte > 0x7f) return false;
  return true;
}

function writeString(w: ResponseWriter, bytes: Buffer): void {
  if (!canQuote(bytes)) writeLiteral(w, bytes);
  else w.raw(`"${bytes.toString("latin1").replace(/["\\]/g, "\\$&")}"`);
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
