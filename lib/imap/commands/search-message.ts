/*
 * search-message — answers a SEARCH plan's text tests (and the Date: header for SENT*) for
 * one message by reading its file, as little of it as the tests need.
 *
 * First pass: the top-level header only (FROM, TO, CC, BCC, SUBJECT, HEADER, the Date:
 * field, and the header part of TEXT); the file is closed at the empty line. Second pass,
 * only when BODY/TEXT tests are still open: mime/structure finds the parts, then the file is
 * streamed once more in its CRLF form and each part is fed to the scanners as it passes:
 * text/* and message/* bodies transfer- and charset-decoded (BODY and TEXT), the MIME headers
 * of inner parts and encapsulated messages decoded (TEXT only) — the set Dovecot searches.
 * Multipart preambles, epilogues and non-text bodies are skipped. A match never spans two
 * parts. Reading stops as soon as the caller says the answer is settled.
 * Memory: one chunk of decoded text plus a window of the longest needle, and one header
 * field (capped), whatever the message size.
 * Talks to: the FolderSession (openMessage), lib/mime (structure, sections.crlfRange,
 * decode.TransferDecoder). RFCs: 3501 §6.4.4, 2045 §6 (transfer encodings), 2046, 2047.
 * Security: message content is untrusted; unknown charsets decode as UTF-8 with
 * replacement characters, never an exception; a file that vanished is reported, not thrown.
 */
import { isAscii } from "node:buffer";
import { once } from "node:events";
import type { Readable } from "node:stream";
import { TextDecoder } from "node:util";
import { errnoCode, MailError } from "../../mailbox/errors.js";
import { TransferDecoder } from "../../mime/decode.js";
import { crlfRange, toCrlfBuffer } from "../../mime/sections.js";
import {
  type MimePart,
  MimeStructureParser,
  parseStructure,
  parseStructureSync,
} from "../../mime/structure.js";
import { parseSentDay, type SearchPlan, type TextKnowledge, type TextTest } from "./search-eval.js";
import {
  foldText,
  type HeaderField,
  HeaderReader,
  headerHaystack,
  headerText,
  TextScanner,
} from "./search-text.js";

/** A message's bytes: a file stream, or a small file already read into memory. */
export type MessageStream = Readable & {
  readonly pending?: boolean;
  /** All of a small file's bytes, read already: taken at once instead of streamed. */
  readonly held?: Buffer;
};

export interface MessageSource {
  openMessage(uid: number): Promise<MessageStream>;
  /**
   * Optional: a small message's bytes read at once, in a buffer the source may reuse for
   * the next message (the caller is done with them before it reads another); undefined
   * when openMessage must do (big, renamed meanwhile).
   */
  readSmallMessage?(uid: number): Buffer | undefined;
}

/** Opens the file, retrying once when a flag rename by another session raced the open. */
async function openFile(source: MessageSource, uid: number): Promise<MessageStream> {
  for (let attempt = 0; ; attempt++) {
    const stream = await source.openMessage(uid);
    try {
      if (stream.pending) await once(stream, "ready");
      return stream;
    } catch (err) {
      stream.destroy();
      if (errnoCode(err) !== "ENOENT") throw err;
      if (attempt > 0) throw new MailError("notFound", `message uid=${uid} vanished`);
    }
  }
}

const needlesOf = (tests: readonly TextTest[], k: TextKnowledge) =>
  tests.filter((t) => t.folded !== "" && !k.hits.has(t.id)).map((t) => ({ id: t.id, folded: t.folded }));

/**
 * Reads the top-level header: answers header tests, the header part of TEXT tests, and
 * returns the Date: field's calendar day (null without a parseable one).
 */
export async function readTopHeader(source: MessageSource, uid: number, plan: SearchPlan, k: TextKnowledge) {
  const byField = new Map<string, TextTest[]>();
  for (const t of plan.tests)
    if (t.scope === "header") byField.set(t.field, [...(byField.get(t.field) ?? []), t]);
  const text = new TextScanner(
    needlesOf(
      plan.tests.filter((t) => t.scope === "text"),
      k,
    ),
    k.hits,
  );
  let dateRaw: string | null = null;
  const onField = (f: HeaderField): void => {
    const name = f.name.toLowerCase();
    if (name === "date" && dateRaw === null) dateRaw = f.raw;
    text.feed(`${f.name}: ${headerText(f.raw)}\r\n`);
    const tests = byField.get(name);
    if (tests === undefined) return;
    const haystack = foldText(headerHaystack(name, f.raw));
    for (const t of tests) if (t.folded === "" || haystack.includes(t.folded)) k.hits.add(t.id);
  };
  const reader = new HeaderReader(onField);
  const direct = source.readSmallMessage?.(uid);
  if (direct !== undefined) {
    reader.write(direct);
    reader.end();
    return { sentDay: dateRaw === null ? null : parseSentDay(dateRaw) };
  }
  const stream = await openFile(source, uid);
  try {
    if (stream.held !== undefined) reader.write(stream.held);
    else
      for await (const chunk of stream) {
        reader.write(chunk as Buffer);
        if (reader.done) break;
      }
    reader.end();
  } finally {
    stream.destroy();
  }
  return { sentDay: dateRaw === null ? null : parseSentDay(dateRaw) };
}

interface Segment {
  readonly start: number;
  readonly end: number;
  /** A MIME header (TEXT only) or a text body (BODY and TEXT). */
  readonly part: MimePart;
  readonly kind: "header" | "body";
}

const isTextual = (p: MimePart): boolean => {
  const type = p.contentType.type.toLowerCase();
  return p.kind === "leaf" && (type === "text" || type === "message");
};

/** The parts to search, in file order; the root header was done by the first pass. */
function segmentsOf(root: MimePart, withHeaders: boolean): Segment[] {
  const out: Segment[] = [];
  const stack: MimePart[] = [root];
  while (stack.length > 0) {
    const p = stack.pop() as MimePart;
    if (withHeaders && p !== root && p.bodyStart > p.headerStart)
      out.push({ start: p.headerStart, end: p.bodyStart, part: p, kind: "header" });
    if (isTextual(p) && p.end > p.bodyStart)
      out.push({ start: p.bodyStart, end: p.end, part: p, kind: "body" });
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i] as MimePart);
  }
  return out.sort((a, b) => a.start - b.start);
}

/** `midStream`: text came before (fed as ASCII), so a BOM now is content, not a mark to drop. */
function charsetDecoder(part: MimePart, midStream = false): TextDecoder {
  const param = part.contentType.params.find(([n]) => n.toLowerCase() === "charset")?.[1];
  const label = (param ?? "").trim().toLowerCase();
  const opts = { ignoreBOM: midStream };
  // no charset or US-ASCII: take UTF-8 (a superset) so undeclared 8-bit UTF-8 still matches
  if (label === "" || label === "us-ascii" || label === "ascii") return new TextDecoder("utf-8", opts);
  try {
    return new TextDecoder(label, opts);
  } catch {
    return new TextDecoder("utf-8", opts);
  }
}

/** Feeds one segment's bytes to the scanners. */
interface SegmentSink {
  write(bytes: Buffer): boolean;
  end(): boolean;
}

function headerSink(text: TextScanner): SegmentSink {
  let hit = false;
  const reader = new HeaderReader((f) => {
    if (text.feed(`${f.name}: ${headerText(f.raw)}\r\n`)) hit = true;
  });
  text.reset();
  const take = (): boolean => {
    const h = hit;
    hit = false;
    return h;
  };
  return {
    write: (bytes) => {
      reader.write(bytes);
      return take();
    },
    end: () => {
      reader.end();
      return take();
    },
  };
}

/** Transfer encodings whose bytes are the content itself (TransferDecoder's identity). */
const IDENTITY_ENCODINGS = new Set(["", "7bit", "8bit", "binary"]);

/**
 * Charset labels (trimmed, lower case) that decode the bytes 0x00-0x7F as ASCII; an unknown
 * label is read as UTF-8 (charsetDecoder), which does too. Not UTF-16, ISO-2022-*, HZ and
 * the like, whose ASCII bytes mean something else.
 */
const ASCII_CHARSET = /^(?:|us-ascii|ascii|utf-?8|iso-8859-\d{1,2}|windows-125\d|latin1)$/;

/**
 * True when a part's ASCII bytes read as themselves: no transfer decoding, an
 * ASCII-compatible charset. Then an ASCII chunk's search form is its lower-cased latin1
 * string (NFKD leaves ASCII alone), with no decoder and no normalisation.
 */
export function asciiReadable(part: MimePart): boolean {
  if (!IDENTITY_ENCODINGS.has((part.encoding ?? "").toLowerCase())) return false;
  const charset = part.contentType.params.find(([n]) => n.toLowerCase() === "charset")?.[1];
  return ASCII_CHARSET.test((charset ?? "").trim().toLowerCase());
}

function bodySink(part: MimePart, scanners: readonly TextScanner[]): SegmentSink {
  // plain ASCII text (most mail): searched as it is, until a chunk holds an 8-bit byte
  let plain = asciiReadable(part);
  let fedPlain = false;
  let transfer: TransferDecoder | undefined;
  let decoder: TextDecoder | undefined;
  for (const s of scanners) s.reset();
  const feed = (text: string): boolean => scanners.map((s) => s.feed(text)).some(Boolean);
  const feedFolded = (text: string): boolean => scanners.map((s) => s.feedFolded(text)).some(Boolean);
  return {
    write: (bytes) => {
      // the decoders hold no state while every chunk so far was ASCII
      if (plain && isAscii(bytes)) {
        fedPlain ||= bytes.length > 0;
        return feedFolded(bytes.toString("latin1").toLowerCase());
      }
      plain = false;
      transfer ??= new TransferDecoder(part.encoding);
      decoder ??= charsetDecoder(part, fedPlain);
      return feed(decoder.decode(transfer.write(bytes), { stream: true }));
    },
    end: () => {
      if (transfer === undefined || decoder === undefined) return false;
      return feed(decoder.decode(transfer.end()));
    },
  };
}

/**
 * Second pass: answers BODY and TEXT tests from the message's parts. `settled` is asked after
 * every new hit; when it says true the file is closed at once.
 */
export async function readBodies(
  source: MessageSource,
  uid: number,
  opts: { readonly plan: SearchPlan; readonly k: TextKnowledge; readonly settled: () => boolean },
): Promise<void> {
  const { plan, k } = opts;
  const body = new TextScanner(
    needlesOf(
      plan.tests.filter((t) => t.scope === "body"),
      k,
    ),
    k.hits,
  );
  const text = new TextScanner(
    needlesOf(
      plan.tests.filter((t) => t.scope === "text"),
      k,
    ),
    k.hits,
  );
  const sinkFor = (s: Segment): SegmentSink =>
    s.kind === "header" ? headerSink(text) : bodySink(s.part, [body, text]);
  const direct = source.readSmallMessage?.(uid);
  const opened = direct === undefined ? await openFile(source, uid) : undefined;
  const held = direct ?? opened?.held;
  if (held !== undefined) {
    // a small message: parsed and scanned in memory, in one piece
    opened?.destroy();
    const leaf = topLeaf(held);
    if (leaf !== null && asciiReadable(leaf.root) && ![body, text].some((sc) => sc.needsLineEnds)) {
      // one plain text part and no needle with CR or LF: a match cannot tell the stored LF
      // line ends from the CRLF form, so the stored body is searched as it is (no copy)
      if (isTextual(leaf.root) && held.length > leaf.bodyStart) {
        const sink = bodySink(leaf.root, [body, text]);
        sink.write(held.subarray(leaf.bodyStart));
        sink.end();
      }
      return;
    }
    const crlf = toCrlfBuffer(held);
    const root = bodyTree(held, crlf.length);
    const segments = segmentsOf(root, text.pending);
    if (segments.length === 0) return;
    await dispatch([crlf.subarray(0, root.end)], segments, sinkFor, opts.settled);
    return;
  }
  const first = opened as MessageStream; // held is set whenever nothing was opened
  let root: MimePart;
  try {
    root = await parseStructure(first);
  } finally {
    first.destroy();
  }
  const segments = segmentsOf(root, text.pending);
  if (segments.length === 0) return;
  const stream = await openFile(source, uid);
  try {
    const pieces = coalesce(crlfRange(stream, { offset: 0, length: root.end }));
    await dispatch(pieces, segments, sinkFor, opts.settled);
  } finally {
    stream.destroy();
  }
}

/** Where the stored bytes' first empty line ends (the end of the top-level header), or -1. */
function headerEnd(stored: Buffer): number {
  if (stored[0] === 0x0a) return 1;
  if (stored[0] === 0x0d && stored[1] === 0x0a) return 2;
  const lf = stored.indexOf("\n\n");
  const crlf = stored.indexOf("\n\r\n");
  if (lf < 0) return crlf < 0 ? -1 : crlf + 3;
  return crlf < 0 || lf < crlf ? lf + 2 : crlf + 3;
}

/**
 * The part tree of a small message for the body pass. A message that is a single leaf part
 * (most mail) has only its header parsed: body lines cannot change such a part's type,
 * encoding or body start, and it ends where the message ends (`crlfLength`).
 */
export function bodyTree(stored: Buffer, crlfLength: number): MimePart {
  const leaf = topLeaf(stored);
  return leaf === null ? parseStructureSync(stored) : { ...leaf.root, end: crlfLength };
}

/**
 * A message that is one leaf part: its root (offsets of the CRLF form, `end` not set) and
 * where its body starts in the stored bytes; null for any other message.
 */
function topLeaf(stored: Buffer): { root: MimePart; bodyStart: number } | null {
  const end = headerEnd(stored);
  if (end <= 0) return null;
  const parser = new MimeStructureParser();
  parser.write(stored.subarray(0, end));
  const root = parser.end();
  return root.kind === "leaf" ? { root, bodyStart: end } : null;
}

const BATCH_BYTES = 64 * 1024;

/** crlfRange yields a piece per inserted CR; decoding and folding want fewer, larger chunks. */
async function* coalesce(pieces: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let batch: Buffer[] = [];
  let size = 0;
  for await (const piece of pieces) {
    batch.push(piece);
    size += piece.length;
    if (size < BATCH_BYTES) continue;
    yield Buffer.concat(batch, size);
    batch = [];
    size = 0;
  }
  if (size > 0) yield Buffer.concat(batch, size);
}

/** Cuts the CRLF-form byte stream into the segments; returns early once settled. */
async function dispatch(
  pieces: AsyncIterable<Buffer> | Iterable<Buffer>,
  segments: readonly Segment[],
  sinkFor: (s: Segment) => SegmentSink,
  settled: () => boolean,
): Promise<void> {
  let index = 0;
  let pos = 0;
  let sink: SegmentSink | null = null;
  for await (const piece of pieces) {
    let at = 0;
    while (at < piece.length && index < segments.length) {
      const seg = segments[index] as Segment;
      const abs = pos + at;
      if (abs >= seg.end) {
        if (sink?.end() === true && settled()) return;
        sink = null;
        index++;
        continue;
      }
      if (abs < seg.start) {
        at = Math.min(piece.length, seg.start - pos);
        continue;
      }
      sink ??= sinkFor(seg);
      const stop = Math.min(piece.length, seg.end - pos);
      if (sink.write(piece.subarray(at, stop)) && settled()) return;
      at = stop;
    }
    pos += piece.length;
    if (index >= segments.length) break;
  }
  sink?.end();
}
