/*
 * mime/imap-value — the small data model in which mime/ hands IMAP response data
 * (BODY, BODYSTRUCTURE, ENVELOPE) to the IMAP serializer in lib/imap, plus a reference
 * renderer used by the tests and usable by the serializer.
 *
 * Talks to: nothing. RFC 3501 §4 (data formats) and §9 (body-type-mpart has no SP between
 * its bodies, hence the `joined` variant).
 * Strings are always 7-bit here: 8-bit header bytes arrive as `{ literal }` so they are sent
 * byte-exact as literals and never re-encoded.
 */

export type ImapValue =
  | string
  | number
  | null
  | readonly ImapValue[]
  | { readonly literal: Buffer }
  /** Items written back to back with no separator, e.g. the bodies of a multipart. */
  | { readonly joined: readonly ImapValue[] };

/** An nstring from a latin1 byte string: NIL, a 7-bit string, or a literal of the raw bytes. */
export function nstring(value: string | null | undefined): ImapValue {
  if (value === null || value === undefined) return null;
  if (/[^\x01-\x7f]/.test(value)) return { literal: Buffer.from(value, "latin1") };
  return value;
}

const NEEDS_LITERAL = /[\r\n"\\\x00\x80-\uffff]/;

/**
 * Renders a value as Dovecot does: quoted strings where possible, literals for strings with
 * quotes, backslashes, CR/LF or 8-bit bytes.
 */
export function renderImapValue(value: ImapValue): Buffer {
  const out: Buffer[] = [];
  render(value, out);
  return Buffer.concat(out);
}

function render(value: ImapValue, out: Buffer[]): void {
  if (value === null) out.push(Buffer.from("NIL"));
  else if (typeof value === "number") out.push(Buffer.from(String(value)));
  else if (typeof value === "string")
    renderString(Buffer.from(value, "utf8"), NEEDS_LITERAL.test(value), out);
  else if (Array.isArray(value)) renderList(value, out);
  else if ("literal" in value) renderString(value.literal, true, out);
  else if ("joined" in value) for (const item of value.joined) render(item, out);
}

function renderList(items: readonly ImapValue[], out: Buffer[]): void {
  out.push(Buffer.from("("));
  items.forEach((item, i) => {
    if (i > 0) out.push(Buffer.from(" "));
    render(item, out);
  });
  out.push(Buffer.from(")"));
}

function renderString(bytes: Buffer, literal: boolean, out: Buffer[]): void {
  if (literal) out.push(Buffer.from(`{${bytes.length}}\r\n`), bytes);
  else out.push(Buffer.from('"'), bytes, Buffer.from('"'));
}
