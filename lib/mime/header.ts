/*
 * mime/header — structured MIME header values: Content-Type, Content-Disposition and
 * their parameters (RFC 2045 §5.1, RFC 2183, RFC 2231 continuations), Content-Language.
 *
 * Talks to: nothing; pure string functions used by mime/structure.
 * Strings are "byte strings" (latin1: one char per octet) so raw 8-bit header bytes survive
 * untouched until the IMAP serializer writes them back out.
 * Security: input is untrusted message text; every loop advances, nothing recurses, and
 * malformed values degrade to "absent" rather than throwing.
 */
import { Rfc822Cursor } from "./cursor.js";

/** A parameter exactly as IMAP shows it: [name, value], name case preserved. */
export type MimeParam = readonly [name: string, value: string];

export interface ContentType {
  readonly type: string;
  readonly subtype: string;
  readonly params: readonly MimeParam[];
}

export interface Disposition {
  readonly value: string;
  readonly params: readonly MimeParam[];
}

const TSPECIALS = new Set('()<>@,;:\\"/[]?='.split(""));

/** A cursor over one header value for MIME tokens, quoted strings and parameters. */
class Scanner extends Rfc822Cursor {
  token(): string {
    const start = this.pos;
    while (!this.done) {
      const ch = this.peek();
      if (ch <= " " || ch === "\x7f" || TSPECIALS.has(ch)) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  /** A quoted-string's content with backslash escapes removed; tolerates a missing end quote. */
  quoted(): string {
    let out = "";
    this.pos++;
    while (!this.done) {
      const ch = this.text[this.pos++] ?? "";
      if (ch === '"') return out;
      if (ch === "\\" && !this.done) out += this.text[this.pos++] ?? "";
      else if (ch !== "\r" && ch !== "\n") out += ch;
    }
    return out;
  }

  /** A parameter value: token or quoted-string; broken values take the rest up to ";". */
  value(): string {
    this.skipCfws();
    if (this.peek() === '"') return this.quoted();
    const tok = this.token();
    if (tok !== "" || this.done || this.peek() === ";") return tok;
    const end = this.text.indexOf(";", this.pos);
    const stop = end < 0 ? this.text.length : end;
    const raw = this.text.slice(this.pos, stop).trim();
    this.pos = stop;
    return raw;
  }
}

/** Parses `; name=value` pairs after the main value. */
function parseParams(sc: Scanner): MimeParam[] {
  const params: MimeParam[] = [];
  for (;;) {
    sc.skipCfws();
    if (sc.peek() !== ";") {
      // junk between parameters: skip to the next ";" (Dovecot is as lenient)
      const next = sc.text.indexOf(";", sc.pos);
      if (next < 0) break;
      sc.pos = next;
    }
    sc.pos++;
    sc.skipCfws();
    const name = sc.token();
    sc.skipCfws();
    if (name === "" || sc.peek() !== "=") continue;
    sc.pos++;
    params.push([name, sc.value()]);
  }
  return mergeRfc2231(params);
}

interface Continuation {
  name: string;
  segments: Map<number, { value: string; extended: boolean }>;
}

const CONTINUATION = /^(.+?)\*(\d+)(\*?)$/;

/**
 * RFC 2231 continuations (name*0*=..., name*1=...) become one "name*" parameter whose value
 * keeps the charset'lang' prefix and %-encoding, as Dovecot reports them; when no segment is
 * extended the result is a plain "name". Single "name*=" values stay untouched.
 */
function mergeRfc2231(params: MimeParam[]): MimeParam[] {
  const plain: MimeParam[] = [];
  const merged = new Map<string, Continuation>();
  for (const [name, value] of params) {
    const m = CONTINUATION.exec(name);
    if (!m) {
      plain.push([name, value]);
      continue;
    }
    const base = m[1] ?? name;
    const key = base.toLowerCase();
    const entry = merged.get(key) ?? { name: base, segments: new Map() };
    merged.set(key, entry);
    entry.segments.set(Number(m[2]), { value, extended: m[3] === "*" });
  }
  for (const { name, segments } of merged.values()) {
    const ordered = [...segments.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
    const extended = ordered.some((s) => s.extended);
    const value = ordered.map((s) => (extended && !s.extended ? percentEncode(s.value) : s.value)).join("");
    plain.push([extended ? `${name}*` : name, value]);
  }
  return plain;
}

function percentEncode(text: string): string {
  return text.replace(/[^A-Za-z0-9!#$&+\-.^_`|~]/g, (ch) => {
    const code = ch.charCodeAt(0) & 0xff;
    return `%${code.toString(16).toUpperCase().padStart(2, "0")}`;
  });
}

/** `type/subtype; params` or null when the value has no usable type (then defaults apply). */
export function parseContentType(value: string): ContentType | null {
  const sc = new Scanner(value);
  sc.skipCfws();
  const type = sc.token();
  sc.skipCfws();
  if (type === "" || sc.peek() !== "/") return null;
  sc.pos++;
  sc.skipCfws();
  const subtype = sc.token();
  if (subtype === "") return null;
  return { type, subtype, params: parseParams(sc) };
}

export function parseDisposition(value: string): Disposition | null {
  const sc = new Scanner(value);
  sc.skipCfws();
  const disposition = sc.token();
  if (disposition === "") return null;
  return { value: disposition, params: parseParams(sc) };
}

/** A single token-ish value such as Content-Transfer-Encoding, comments removed. */
export function parseSimpleToken(value: string): string {
  const sc = new Scanner(value);
  sc.skipCfws();
  return sc.token();
}

/** Content-Language: a comma separated list of language tags (RFC 3282). */
export function parseLanguageList(value: string): string[] {
  const sc = new Scanner(value);
  const tags: string[] = [];
  while (!sc.done) {
    sc.skipCfws();
    const tag = sc.token();
    if (tag !== "") tags.push(tag);
    sc.skipCfws();
    if (sc.peek() === ",") sc.pos++;
    else if (tag === "") sc.pos++;
  }
  return tags;
}

/** Removes the CRLFs of folded lines (RFC 5322 §2.2.3) and surrounding whitespace. */
export function unfold(raw: string): string {
  return raw.replace(/\r?\n/g, "").trim();
}
