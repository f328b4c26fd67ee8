/*
 * mime/envelope — the IMAP ENVELOPE structure (RFC 3501 §7.4.2) from a message's raw
 * header values, with RFC 5322 address lists, groups and obsolete routes.
 *
 * Talks to: nothing; consumes EnvelopeHeaders from mime/structure, produces ImapValue for the
 * IMAP serializer. Values stay raw (encoded words are not decoded), as IMAP requires.
 * Broken addresses are kept the way Dovecot shows them: a missing domain becomes
 * "MISSING_DOMAIN", an unparseable rest "SYNTAX_ERROR", a missing mailbox "MISSING_MAILBOX".
 * Security: untrusted input; a linear scanner with no recursion.
 */
import { Rfc822Cursor } from "./cursor.js";

import { type ImapValue, nstring } from "./imap-value.js";
import type { EnvelopeHeaders } from "./structure.js";

/** One ENVELOPE address; group start is {mailbox: name, host: null}, group end is all null. */
export interface EnvelopeAddress {
  readonly name: string | null;
  readonly route: string | null;
  readonly mailbox: string | null;
  readonly host: string | null;
}

const SPECIALS = new Set('()<>[]:;@\\,."'.split(""));

class AddressScanner extends Rfc822Cursor {
  atom(allowDots: boolean): string {
    const start = this.pos;
    while (!this.done) {
      const ch = this.peek();
      if (ch <= " " || (SPECIALS.has(ch) && !(allowDots && ch === "."))) break;
      this.pos++;
    }
    return this.text.slice(start, this.pos);
  }

  quoted(): string {
    let out = "";
    this.pos++;
    while (!this.done) {
      const ch = this.text[this.pos++] ?? "";
      if (ch === '"') return out;
      if (ch === "\\") out += this.text[this.pos++] ?? "";
      else out += ch;
    }
    return out;
  }

  /** A phrase: words (atoms with dots, quoted strings) joined by one space. */
  phrase(): string {
    const words: string[] = [];
    for (;;) {
      this.skipCfws();
      const ch = this.peek();
      if (ch === '"') words.push(this.quoted());
      else {
        const word = this.atom(true);
        if (word === "") break;
        words.push(word);
      }
    }
    return words.join(" ");
  }

  /** local-part or domain: dot-separated atoms/quoted strings, or a [domain literal]. */
  dotted(): string {
    this.skipCfws();
    if (this.peek() === "[") {
      const end = this.text.indexOf("]", this.pos);
      const stop = end < 0 ? this.text.length : end + 1;
      const literal = this.text.slice(this.pos, stop);
      this.pos = stop;
      return literal;
    }
    let out = "";
    for (;;) {
      this.skipCfws();
      out += this.peek() === '"' ? this.quoted() : this.atom(false);
      this.skipCfws();
      if (this.peek() !== ".") return out;
      out += ".";
      this.pos++;
    }
  }
}

/** Parses an address-list header value into ENVELOPE addresses (groups flattened with markers). */
export function parseAddressList(value: string): EnvelopeAddress[] {
  const sc = new AddressScanner(value);
  const out: EnvelopeAddress[] = [];
  let inGroup = false;
  while (!sc.done) {
    sc.skipCfws();
    if (sc.done) break;
    const ch = sc.peek();
    if (ch === ",") {
      sc.pos++;
      continue;
    }
    if (ch === ";" && inGroup) {
      sc.pos++;
      out.push({ name: null, route: null, mailbox: null, host: null });
      inGroup = false;
      continue;
    }
    const before = sc.pos;
    const group = parseOne(sc, out, inGroup);
    if (group) inGroup = true;
    if (sc.pos === before) sc.pos++;
  }
  if (inGroup) out.push({ name: null, route: null, mailbox: null, host: null });
  return out;
}

/** Parses one mailbox or a group start; returns true when a group was opened. */
function parseOne(sc: AddressScanner, out: EnvelopeAddress[], inGroup: boolean): boolean {
  const start = sc.pos;
  sc.lastComment = null;
  const phrase = sc.phrase();
  sc.skipCfws();
  const ch = sc.peek();
  if (ch === ":" && !inGroup) {
    sc.pos++;
    out.push({ name: null, route: null, mailbox: phrase, host: null });
    return true;
  }
  if (ch === "<") {
    sc.pos++;
    out.push(angleAddress(sc, phrase === "" ? null : phrase));
    return false;
  }
  sc.pos = start;
  out.push(addrSpec(sc));
  return false;
}

function angleAddress(sc: AddressScanner, name: string | null): EnvelopeAddress {
  sc.skipCfws();
  let route: string | null = null;
  if (sc.peek() === "@") {
    const colon = sc.text.indexOf(":", sc.pos);
    const close = sc.text.indexOf(">", sc.pos);
    if (colon >= 0 && (close < 0 || colon < close)) {
      route = sc.text.slice(sc.pos, colon).replace(/\s+/g, "");
      sc.pos = colon + 1;
    }
  }
  const mailbox = sc.dotted();
  let host: string | null = null;
  sc.skipCfws();
  if (sc.peek() === "@") {
    sc.pos++;
    host = sc.dotted();
  }
  sc.skipCfws();
  if (sc.peek() !== ">") return finish(name, route, mailbox, "SYNTAX_ERROR", sc);
  sc.pos++;
  return finish(name, route, mailbox, host, sc);
}

function addrSpec(sc: AddressScanner): EnvelopeAddress {
  const mailbox = sc.dotted();
  sc.skipCfws();
  let host: string | null = null;
  if (sc.peek() === "@") {
    sc.pos++;
    host = sc.dotted();
  }
  sc.skipCfws();
  const name = sc.lastComment;
  const ch = sc.peek();
  if (!sc.done && ch !== "," && ch !== ";") {
    skipToComma(sc);
    return finish(name, null, mailbox, "SYNTAX_ERROR", sc);
  }
  return finish(name, null, mailbox, host, sc);
}

function skipToComma(sc: AddressScanner): void {
  while (!sc.done && sc.peek() !== ",") {
    if (sc.peek() === '"') sc.quoted();
    else sc.pos++;
  }
}

function finish(
  name: string | null,
  route: string | null,
  mailbox: string,
  host: string | null,
  sc: AddressScanner,
): EnvelopeAddress {
  const displayName = name ?? (sc.lastComment === "" ? null : sc.lastComment);
  return {
    name: displayName,
    route,
    mailbox: mailbox === "" ? "MISSING_MAILBOX" : mailbox,
    host: host === null || host === "" ? "MISSING_DOMAIN" : host,
  };
}

function addressValue(list: readonly EnvelopeAddress[]): ImapValue {
  if (list.length === 0) return null;
  // RFC 3501 §9: env-from etc. are "(" 1*address ")", with no SP between addresses
  return [
    { joined: list.map((a) => [nstring(a.name), nstring(a.route), nstring(a.mailbox), nstring(a.host)]) },
  ];
}

function addressField(raw: string | undefined): ImapValue {
  return raw === undefined ? null : addressValue(parseAddressList(raw));
}

/** ENVELOPE: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to, message-id. */
export function buildEnvelope(headers: EnvelopeHeaders | null): ImapValue {
  const h = headers ?? {};
  const from = addressField(h.from);
  const sender = h.sender === undefined ? null : addressField(h.sender);
  const replyTo = h["reply-to"] === undefined ? null : addressField(h["reply-to"]);
  return [
    nstring(emptyToNull(h.date)),
    nstring(emptyToNull(h.subject)),
    from,
    sender ?? from,
    replyTo ?? from,
    addressField(h.to),
    addressField(h.cc),
    addressField(h.bcc),
    nstring(emptyToNull(h["in-reply-to"])),
    nstring(emptyToNull(h["message-id"])),
  ];
}

function emptyToNull(value: string | undefined): string | null {
  if (value === undefined) return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}
