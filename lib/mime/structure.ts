/*
 * mime/structure — parses a message into its MIME part tree with byte offsets, for IMAP
 * BODYSTRUCTURE, ENVELOPE and BODY[section] (RFC 3501 §6.4.5, §7.4.2; RFC 2045, 2046).
 *
 * Talks to: nothing (pure). Input is the stored message (Maildir keeps LF endings); every
 * offset and size is of the CRLF form IMAP clients see: a bare LF counts as CRLF, an existing
 * CRLF stays, a bare CR stays a bare CR.
 * Broken MIME is answered as Dovecot 2.3 does (verified against it on test/fixtures/mime):
 * boundaries match by prefix (longest wins) and an outer boundary ends inner parts; an
 * unterminated multipart ends at EOF; a multipart without boundary has no children; a part
 * without Content-Type is text/plain (message/rfc822 inside multipart/digest); nesting deeper
 * than MAX_DEPTH turns a multipart or message into an opaque application/octet-stream.
 * Security: untrusted input; memory is bounded (only the first bytes of body lines and the
 * interesting header fields are kept, never bodies), nothing recurses on input depth.
 */

import {
  type ContentType,
  type Disposition,
  parseContentType,
  parseDisposition,
  parseLanguageList,
  parseSimpleToken,
  unfold,
} from "./header.js";

export const MAX_DEPTH = 100;
export const MAX_PARTS = 10_000;
/** Enough of a body line to recognise any sane boundary; the rest is only counted. */
const BODY_LINE_KEEP = 1024;
/** A header field longer than this is truncated (Dovecot caps header lines similarly). */
const HEADER_FIELD_KEEP = 65_536;

export const ENVELOPE_FIELDS = [
  "date",
  "subject",
  "from",
  "sender",
  "reply-to",
  "to",
  "cc",
  "bcc",
  "in-reply-to",
  "message-id",
] as const;
export type EnvelopeField = (typeof ENVELOPE_FIELDS)[number];
/** Raw (unfolded, undecoded, latin1 byte string) envelope header values of a message. */
export type EnvelopeHeaders = Partial<Record<EnvelopeField, string>>;

const MIME_FIELDS = [
  "content-type",
  "content-transfer-encoding",
  "content-id",
  "content-description",
  "content-md5",
  "content-disposition",
  "content-language",
  "content-location",
] as const;
type MimeField = (typeof MIME_FIELDS)[number];
const KEPT_FIELDS = new Set<string>([...ENVELOPE_FIELDS, ...MIME_FIELDS]);

export interface MimePart {
  /** "multipart": children are its parts; "message": children[0] is the encapsulated message. */
  kind: "leaf" | "multipart" | "message";
  headerStart: number;
  bodyStart: number;
  end: number;
  /** Number of LFs in the body (IMAP body-fld-lines for text/* and message/rfc822). */
  bodyLines: number;
  /** False when the part had no usable Content-Type and defaults were taken. */
  explicitType: boolean;
  contentType: ContentType;
  id: string | null;
  description: string | null;
  encoding: string | null;
  md5: string | null;
  disposition: Disposition | null;
  language: string[] | null;
  location: string | null;
  /** Present on the message root and on every encapsulated message root. */
  envelope: EnvelopeHeaders | null;
  children: MimePart[];
}

interface Frame {
  part: MimePart;
  inHeader: boolean;
  depth: number;
  isMessageRoot: boolean;
  parentIsDigest: boolean;
  boundary: Buffer | null;
  closed: boolean;
  bodyStartLf: number;
  fields: Map<string, string>;
  lastField: string | null;
}

const TEXT_PLAIN: ContentType = { type: "text", subtype: "plain", params: [] };

function newPart(headerStart: number): MimePart {
  return {
    kind: "leaf",
    headerStart,
    bodyStart: headerStart,
    end: headerStart,
    bodyLines: 0,
    explicitType: false,
    contentType: TEXT_PLAIN,
    id: null,
    description: null,
    encoding: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    envelope: null,
    children: [],
  };
}

/** Incremental parser: write() chunks of the stored message, then end() for the tree. */
export class MimeStructureParser {
  private readonly stack: Frame[] = [];
  private root: MimePart;
  /** Offset (CRLF form) of the start of the line being collected. */
  private lineStart = 0;
  private lineLen = 0;
  private lineKept: Buffer[] = [];
  private lineKeptLen = 0;
  private lastByteCr = false;
  private lfCount = 0;
  private partCount = 1;

  constructor() {
    this.root = newPart(0);
    this.stack.push(this.newFrame(this.root, 1, true, false));
  }

  write(chunk: Buffer): void {
    let from = 0;
    while (from < chunk.length) {
      const lf = chunk.indexOf(0x0a, from);
      if (lf >= 0 && this.lineLen === 0) {
        this.wholeLine(chunk, from, lf);
        from = lf + 1;
        continue;
      }
      const stop = lf < 0 ? chunk.length : lf;
      this.collect(chunk.subarray(from, stop));
      if (lf < 0) return;
      this.finishLine(true);
      from = lf + 1;
    }
  }

  end(): MimePart {
    if (this.lineLen > 0) this.finishLine(false);
    const total = this.lineStart;
    while (this.stack.length > 0) this.closeTop(total, this.lfCount);
    return this.root;
  }

  /** Total size of the message in the CRLF form (RFC822.SIZE); valid after end(). */
  get size(): number {
    return this.lineStart;
  }

  private newFrame(part: MimePart, depth: number, isMessageRoot: boolean, parentIsDigest: boolean): Frame {
    return {
      part,
      inHeader: true,
      depth,
      isMessageRoot,
      parentIsDigest,
      boundary: null,
      closed: false,
      bodyStartLf: this.lfCount,
      fields: new Map(),
      lastField: null,
    };
  }

  private collect(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.lineLen += bytes.length;
    this.lastByteCr = bytes[bytes.length - 1] === 0x0d;
    const top = this.stack[this.stack.length - 1];
    const keep = top?.inHeader ? HEADER_FIELD_KEEP : BODY_LINE_KEEP;
    if (this.lineKeptLen < keep) {
      const piece = bytes.subarray(0, keep - this.lineKeptLen);
      this.lineKept.push(Buffer.from(piece));
      this.lineKeptLen += piece.length;
    }
  }

  /**
   * A line that lies wholly in one chunk: what collect() and finishLine() do, without copying
   * its kept prefix (handleLine keeps no reference to the line's bytes).
   */
  private wholeLine(chunk: Buffer, from: number, lf: number): void {
    const contentLen = lf - from - (lf > from && chunk[lf - 1] === 0x0d ? 1 : 0);
    const keep = this.stack[this.stack.length - 1]?.inHeader ? HEADER_FIELD_KEEP : BODY_LINE_KEEP;
    const crlfLen = contentLen + 2;
    this.handleLine(chunk.subarray(from, from + Math.min(contentLen, keep)), this.lineStart, crlfLen);
    this.lineStart += crlfLen;
    this.lfCount++;
  }

  /** One line is complete: its content (without CR LF) and its CRLF-form length are known. */
  private finishLine(hasLf: boolean): void {
    let content = Buffer.concat(this.lineKept, this.lineKeptLen);
    let contentLen = this.lineLen;
    if (hasLf && this.lastByteCr) {
      contentLen--;
      if (content.length > contentLen) content = content.subarray(0, contentLen);
    }
    const crlfLen = contentLen + (hasLf ? 2 : 0);
    this.handleLine(content, this.lineStart, crlfLen);
    this.lineStart += crlfLen;
    if (hasLf) this.lfCount++;
    this.lineLen = 0;
    this.lineKept = [];
    this.lineKeptLen = 0;
    this.lastByteCr = false;
  }

  private handleLine(line: Buffer, start: number, length: number): void {
    const hit = this.findBoundary(line);
    if (hit !== null) {
      this.onBoundary(hit, start, length, line);
      return;
    }
    const top = this.stack[this.stack.length - 1];
    if (top?.inHeader) this.onHeaderLine(top, line, start + length);
  }

  /** The open multipart whose boundary is the longest prefix of "--..." on this line. */
  private findBoundary(line: Buffer): number | null {
    if (line.length < 2 || line[0] !== 0x2d || line[1] !== 0x2d) return null;
    let best: number | null = null;
    let bestLen = -1;
    for (let i = this.stack.length - 1; i >= 0; i--) {
      const b = this.stack[i]?.boundary;
      if (!b || this.stack[i]?.closed || b.length <= bestLen) continue;
      if (line.length - 2 >= b.length && line.compare(b, 0, b.length, 2, 2 + b.length) === 0) {
        best = i;
        bestLen = b.length;
      }
    }
    return best;
  }

  private onBoundary(index: number, start: number, length: number, line: Buffer): void {
    const owner = this.stack[index];
    if (!owner) return;
    const boundaryLen = owner.boundary?.length ?? 0;
    const closing = line[2 + boundaryLen] === 0x2d && line[3 + boundaryLen] === 0x2d;
    const top = this.stack[this.stack.length - 1];
    if (!closing && this.partCount >= MAX_PARTS) {
      // Past MAX_PARTS a boundary starts no new part: the rest stays in the current one.
      if (top?.inHeader) this.onHeaderLine(top, line, start + length);
      return;
    }
    // The CRLF before a boundary belongs to the boundary, unless the part it ends is still in
    // its header: then Dovecot keeps that CRLF in the header (and in every enclosing part).
    const inHeader = top?.inHeader === true;
    const end = inHeader ? start : start - 2;
    const lfBeforeEnd = inHeader ? this.lfCount : this.lfCount - 1;
    while (this.stack.length > index + 1) this.closeTop(end, lfBeforeEnd);
    if (closing) {
      owner.closed = true;
      return;
    }
    const child = newPart(start + length);
    const digest = owner.part.contentType.subtype.toLowerCase() === "digest";
    owner.part.children.push(child);
    this.partCount++;
    this.stack.push(this.newFrame(child, owner.depth + 1, false, digest));
  }

  /** Ends the innermost open part at `end`; `lfBeforeEnd` is the LF count up to `end`. */
  private closeTop(end: number, lfBeforeEnd: number): void {
    const frame = this.stack.pop();
    if (!frame) return;
    const part = frame.part;
    if (frame.inHeader) {
      const bodyStart = Math.max(part.headerStart, end);
      this.endHeader(frame, bodyStart);
    }
    // a blank line right before the boundary gives its CRLF to the boundary: empty header too
    if (end < part.bodyStart) part.bodyStart = Math.max(part.headerStart, end);
    part.end = Math.max(part.bodyStart, end);
    part.bodyLines = part.end > part.bodyStart ? Math.max(0, lfBeforeEnd - frame.bodyStartLf) : 0;
  }

  private onHeaderLine(frame: Frame, line: Buffer, nextLineStart: number): void {
    if (line.length === 0) {
      this.endHeader(frame, nextLineStart);
      this.startBody(frame);
      return;
    }
    const text = line.toString("latin1");
    const first = text.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      this.appendContinuation(frame, text);
      return;
    }
    const colon = text.indexOf(":");
    const name = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
    frame.lastField = null;
    if (colon < 0 || !KEPT_FIELDS.has(name) || frame.fields.has(name)) return;
    frame.fields.set(name, text.slice(colon + 1));
    frame.lastField = name;
  }

  private appendContinuation(frame: Frame, text: string): void {
    const name = frame.lastField;
    if (name === null) return;
    const sofar = frame.fields.get(name) ?? "";
    if (sofar.length < HEADER_FIELD_KEEP) frame.fields.set(name, `${sofar}\r\n${text}`);
  }

  /** The header is over: interpret the fields that shape the part. */
  private endHeader(frame: Frame, bodyStart: number): void {
    frame.inHeader = false;
    frame.bodyStartLf = this.lfCount + (bodyStart > this.lineStart ? 1 : 0);
    const part = frame.part;
    part.bodyStart = bodyStart;
    applyMimeFields(part, frame.fields, frame.parentIsDigest);
    if (frame.isMessageRoot) part.envelope = pickEnvelope(frame.fields);
    frame.fields = new Map();
  }

  private startBody(frame: Frame): void {
    const part = frame.part;
    const type = part.contentType.type.toLowerCase();
    const subtype = part.contentType.subtype.toLowerCase();
    const nests = type === "multipart" || (type === "message" && subtype === "rfc822");
    if (!nests) return;
    if (frame.depth >= MAX_DEPTH || this.partCount >= MAX_PARTS) {
      part.contentType = { ...part.contentType, type: "application", subtype: "octet-stream" };
      return;
    }
    if (type === "multipart") {
      part.kind = "multipart";
      const boundary = part.contentType.params.find(([n]) => n.toLowerCase() === "boundary");
      if (boundary && boundary[1] !== "") frame.boundary = Buffer.from(boundary[1], "latin1");
      return;
    }
    part.kind = "message";
    const inner = newPart(part.bodyStart);
    part.children.push(inner);
    this.partCount++;
    this.stack.push(this.newFrame(inner, frame.depth + 1, true, false));
  }
}

function fieldValue(fields: Map<string, string>, name: MimeField): string | null {
  const raw = fields.get(name);
  return raw === undefined ? null : unfold(raw);
}

function applyMimeFields(part: MimePart, fields: Map<string, string>, parentIsDigest: boolean): void {
  const typeValue = fieldValue(fields, "content-type");
  const parsed = typeValue === null ? null : parseContentType(typeValue);
  if (parsed) {
    part.contentType = parsed;
    part.explicitType = true;
  } else if (parentIsDigest) {
    part.contentType = { type: "message", subtype: "rfc822", params: [] };
  }
  const encoding = fieldValue(fields, "content-transfer-encoding");
  part.encoding = encoding === null ? null : parseSimpleToken(encoding) || null;
  part.id = fieldValue(fields, "content-id");
  part.description = fieldValue(fields, "content-description");
  part.md5 = fieldValue(fields, "content-md5");
  part.location = fieldValue(fields, "content-location");
  const disposition = fieldValue(fields, "content-disposition");
  part.disposition = disposition === null ? null : parseDisposition(disposition);
  const language = fieldValue(fields, "content-language");
  const tags = language === null ? [] : parseLanguageList(language);
  part.language = tags.length > 0 ? tags : null;
}

function pickEnvelope(fields: Map<string, string>): EnvelopeHeaders {
  const envelope: EnvelopeHeaders = {};
  for (const name of ENVELOPE_FIELDS) {
    const raw = fields.get(name);
    if (raw !== undefined) envelope[name] = raw.replace(/\r\n/g, "").replace(/^[ \t]+/, "");
  }
  return envelope;
}

/** Parses a whole message given as a Buffer or as a stream of Buffers. */
export async function parseStructure(input: Buffer | AsyncIterable<Buffer | string>): Promise<MimePart> {
  if (Buffer.isBuffer(input)) return parseStructureSync(input);
  const parser = new MimeStructureParser();
  for await (const chunk of input)
    parser.write(typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk);
  return parser.end();
}

export function parseStructureSync(message: Buffer): MimePart {
  const parser = new MimeStructureParser();
  parser.write(message);
  return parser.end();
}
