/*
 * mime/bodystructure — FETCH BODY and BODYSTRUCTURE (RFC 3501 §7.4.2, body grammar in §9)
 * from a parsed MimePart tree, as ImapValue data for the IMAP serializer.
 *
 * Talks to: mime/structure (input), mime/envelope (message/rfc822 parts), lib/imap (output).
 * Matches Dovecot 2.3's answers on test/fixtures/mime: a text part without charset gains
 * ("charset" "us-ascii"); a part without Content-Type is text/plain us-ascii 7bit; a multipart
 * without parts shows one empty text/plain (the grammar needs at least one body).
 * Security: the tree depth is bounded by the parser (MAX_DEPTH), so recursion here is bounded.
 */

import { buildEnvelope } from "./envelope.js";
import type { MimeParam } from "./header.js";
import { type ImapValue, nstring } from "./imap-value.js";
import type { MimePart } from "./structure.js";

export interface BodyOptions {
  /** true for BODYSTRUCTURE (with extension data), false for BODY. */
  readonly extended: boolean;
}

export function buildBodyStructure(part: MimePart): ImapValue {
  return bodyOf(part, { extended: true });
}

export function buildBody(part: MimePart): ImapValue {
  return bodyOf(part, { extended: false });
}

function bodyOf(part: MimePart, opts: BodyOptions): ImapValue {
  if (part.kind === "multipart") return multipartOf(part, opts);
  return singleOf(part, opts);
}

function multipartOf(part: MimePart, opts: BodyOptions): ImapValue {
  const bodies = part.children.length > 0 ? part.children.map((c) => bodyOf(c, opts)) : [emptyText(opts)];
  const items: ImapValue[] = [{ joined: bodies }, nstring(part.contentType.subtype)];
  if (opts.extended) {
    items.push(paramList(part.contentType.params, false), ...commonExtension(part));
  }
  return items;
}

function emptyText(opts: BodyOptions): ImapValue {
  const basic: ImapValue[] = ["text", "plain", ["charset", "us-ascii"], null, null, "7bit", 0, 0];
  return opts.extended ? [...basic, null, null, null, null] : basic;
}

function singleOf(part: MimePart, opts: BodyOptions): ImapValue {
  const ct = part.contentType;
  const type = ct.type.toLowerCase();
  const subtype = ct.subtype.toLowerCase();
  const isText = type === "text";
  const items: ImapValue[] = part.explicitType
    ? [nstring(ct.type), nstring(ct.subtype), paramList(ct.params, isText)]
    : defaultType(part);
  items.push(nstring(part.id), nstring(part.description));
  items.push(part.explicitType ? nstring(part.encoding ?? "7bit") : "7bit");
  items.push(part.end - part.bodyStart);
  const inner = part.children[0];
  if (part.kind === "message" && inner) {
    items.push(buildEnvelope(inner.envelope), bodyOf(inner, opts), part.bodyLines);
  } else if (isText) {
    items.push(part.bodyLines);
  } else if (type === "message" && subtype === "rfc822") {
    items.push(buildEnvelope(null), emptyText(opts), part.bodyLines);
  }
  if (opts.extended) items.push(nstring(part.md5), ...commonExtension(part));
  return items;
}

function defaultType(part: MimePart): ImapValue[] {
  const ct = part.contentType;
  return [
    nstring(ct.type),
    nstring(ct.subtype),
    part.contentType.type === "text" ? ["charset", "us-ascii"] : null,
  ];
}

function commonExtension(part: MimePart): ImapValue[] {
  const d = part.disposition;
  const disposition = d === null ? null : [nstring(d.value), paramList(d.params, false)];
  const language = part.language === null ? null : part.language.map((tag) => nstring(tag));
  return [disposition, language, nstring(part.location)];
}

function paramList(params: readonly MimeParam[], defaultCharset: boolean): ImapValue {
  const out: ImapValue[] = [];
  for (const [name, value] of params) out.push(nstring(name), nstring(value));
  const hasCharset = params.some(([name]) => name.toLowerCase() === "charset");
  if (defaultCharset && !hasCharset) out.push("charset", "us-ascii");
  return out.length === 0 ? null : out;
}
