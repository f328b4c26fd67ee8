/*
 * reader — parses a queue file (format.ts) without reading its content into memory.
 *
 * readQueueFile() reads the envelope up to the "M" record, checks that the content and
 * the end record are all there, then reads the appended status records after "E"
 * (outcomes, deferrals, warnings), skipping any that fail their CRC: a torn append is the
 * normal trace of a crash and only means that recipient is tried again. openContent()
 * streams exactly the content bytes.
 *
 * The reads are synchronous (page cache, microseconds; an async fs call is a thread-pool
 * round trip that costs more). A file shorter than READ_CHUNK bytes, the usual case, is one
 * open, pread and close: the envelope, content and status records come in one read into a
 * reused buffer, and the short read tells the size without an fstat.
 *
 * Talks to: the file system. Security: everything read is validated before use; JSON is
 * only parsed, never evaluated; sizes are bounded.
 */
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { basename, dirname } from "node:path";
import { Readable } from "node:stream";
import {
  crc32Hex,
  MAGIC_LINE,
  MAX_ENVELOPE_BYTES,
  type QueueEnvelope,
  QueueFileError,
  type QueueFileInfo,
  type QueueName,
  type QueueRecipient,
  type RecipientDeferral,
  type RecipientOutcome,
} from "./format.js";

const QUEUE_NAMES: ReadonlySet<string> = new Set([
  "maildrop",
  "incoming",
  "active",
  "deferred",
  "hold",
  "corrupt",
]);
const READ_CHUNK = 64 * 1024;
/** The first read of every file; only parsed in place (nothing keeps a view of it). */
const FIRST_READ = Buffer.allocUnsafe(READ_CHUNK);
const END_OF_ENVELOPE = Buffer.from("\nM\n", "latin1");

type Fail = (reason: string) => never;

/** Read and validate a queue file. Format damage throws QueueFileError; I/O errors (ENOENT) pass through. */
export async function readQueueFile(path: string): Promise<QueueFileInfo> {
  return readQueueFileSync(path);
}

/** readQueueFile() without the promise, for callers that want the result at once. */
export function readQueueFileSync(path: string): QueueFileInfo {
  const queue = basename(dirname(path));
  if (!QUEUE_NAMES.has(queue)) throw new RangeError(`${path}: not in a queue directory`);
  const fail: Fail = (reason) => {
    throw new QueueFileError(path, reason);
  };
  const fd = openSync(path, "r");
  try {
    const firstLength = readInto(fd, FIRST_READ, 0);
    const wholeFile = firstLength < READ_CHUNK;
    const size = wholeFile ? firstLength : fstatSync(fd).size;
    // A bigger file reads on into new buffers: keep its first chunk apart from FIRST_READ.
    const first = wholeFile ? FIRST_READ.subarray(0, firstLength) : Buffer.from(FIRST_READ);
    const { head, envelopeBytes, contentOffset } = readEnvelopeRegion(fd, size, first, fail);
    const { envelope, contentLength } = parseEnvelope(envelopeBytes, fail);
    const contentEnd = contentOffset + contentLength;
    if (size < contentEnd) fail("truncated content");
    // The first read usually took the whole file: the tail is then already in memory.
    const tail =
      head.length >= size ? head.subarray(contentEnd, size) : readAt(fd, contentEnd, size - contentEnd);
    const info: QueueFileInfo = {
      id: basename(path),
      queue: queue as QueueName,
      path,
      envelope,
      contentOffset,
      contentLength,
      done: new Map(),
      deferred: new Map(),
      attempts: 0,
      nextAttempt: 0,
      warned: false,
    };
    const appendedFrom = parseTrailer(tail, envelope, fail);
    applyStatusRecords(tail.subarray(appendedFrom), info);
    return info;
  } finally {
    closeSync(fd);
  }
}

/**
 * Fill buffer from the file at position, up to end of file; returns the bytes read. One
 * pread: a read of a regular file comes back short only at its end, so the usual small
 * file needs no second read to find that out.
 */
function readInto(fd: number, buffer: Buffer, position: number): number {
  return readSync(fd, buffer, 0, buffer.length, position);
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  return buffer.subarray(0, readInto(fd, buffer, position));
}

/** From the first chunk on, READ_CHUNK bytes at a time (no more than the file holds) until the "M" record. */
function readEnvelopeRegion(
  fd: number,
  size: number,
  first: Buffer,
  fail: Fail,
): { head: Buffer; envelopeBytes: Buffer; contentOffset: number } {
  if (first.length === 0) fail("truncated envelope");
  let data = first;
  let searchFrom = 0;
  for (;;) {
    const at = data.indexOf(END_OF_ENVELOPE, searchFrom);
    if (at >= 0)
      return {
        head: data,
        envelopeBytes: data.subarray(0, at + 1),
        contentOffset: at + END_OF_ENVELOPE.length,
      };
    if (data.length > MAX_ENVELOPE_BYTES) fail("envelope too large");
    const chunk = readAt(fd, data.length, Math.min(READ_CHUNK, Math.max(0, size - data.length)));
    if (chunk.length === 0) fail("truncated envelope");
    searchFrom = Math.max(0, data.length - 2);
    data = Buffer.concat([data, chunk]);
  }
}

function parseJson(text: string, fail: Fail, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`malformed ${what} record`);
  }
}

function isStringPair(value: unknown): value is [string, string] {
  return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string");
}

function parseRecipient(value: unknown, fail: Fail): QueueRecipient {
  if (typeof value !== "object" || value === null) return fail("malformed recipient record");
  const { address, orcpt, notify } = value as Record<string, unknown>;
  if (typeof address !== "string") return fail("recipient without address");
  const rcpt: QueueRecipient = { address };
  if (typeof orcpt === "string") rcpt.orcpt = orcpt;
  if (typeof notify === "string") rcpt.notify = notify;
  return rcpt;
}

function parseEnvelope(bytes: Buffer, fail: Fail): { envelope: QueueEnvelope; contentLength: number } {
  const lines = bytes.toString("utf8").split("\n");
  lines.pop(); // the text before "M" ends in a newline
  if (lines[0] !== MAGIC_LINE) {
    fail(lines[0]?.startsWith("POSTERN-QUEUE ") ? `unsupported format ${lines[0]}` : "not a queue file");
  }
  const lengthMatch = /^L (\d{20})$/.exec(lines[1] ?? "");
  if (lengthMatch === null) return fail("content length not set");
  const envelope: QueueEnvelope = { sender: "", recipients: [], arrivalTime: Number.NaN, attrs: {} };
  let sawSender = false;
  for (const line of lines.slice(2)) {
    const payload = line.slice(2);
    if (line.startsWith("T ") && /^\d+$/.test(payload)) envelope.arrivalTime = Number(payload);
    else if (line.startsWith("S ")) {
      const sender = parseJson(payload, fail, "sender");
      if (typeof sender !== "string") fail("malformed sender record");
      envelope.sender = sender as string;
      sawSender = true;
    } else if (line.startsWith("R "))
      envelope.recipients.push(parseRecipient(parseJson(payload, fail, "recipient"), fail));
    else if (line.startsWith("A ")) {
      const pair = parseJson(payload, fail, "attribute");
      if (!isStringPair(pair)) fail("malformed attribute record");
      envelope.attrs[(pair as [string, string])[0]] = (pair as [string, string])[1];
    } else fail(`unexpected envelope record ${JSON.stringify(line.slice(0, 40))}`);
  }
  if (!sawSender || Number.isNaN(envelope.arrivalTime)) fail("incomplete envelope");
  return { envelope, contentLength: Number(lengthMatch[1]) };
}

/** Parse late attributes up to "E"; returns the offset of the appended records in tail. */
function parseTrailer(tail: Buffer, envelope: QueueEnvelope, fail: Fail): number {
  let offset = 0;
  for (;;) {
    const eol = tail.indexOf(0x0a, offset);
    if (eol < 0) return fail("missing end record");
    const line = tail.subarray(offset, eol).toString("utf8");
    offset = eol + 1;
    if (line === "E") return offset;
    if (!line.startsWith("A ")) return fail("missing end record");
    const pair = parseJson(line.slice(2), fail, "attribute");
    if (!isStringPair(pair)) return fail("malformed attribute record");
    envelope.attrs[pair[0]] = pair[1];
  }
}

/** A checked record line "X json crc" → [type, payload], or null when torn or damaged. */
function decodeCheckedLine(line: Buffer): [string, unknown] | null {
  if (line.length < 12 || line[1] !== 0x20 || line[line.length - 9] !== 0x20) return null;
  const body = line.subarray(0, line.length - 9);
  if (crc32Hex(body) !== line.subarray(line.length - 8).toString("latin1")) return null;
  try {
    return [String.fromCharCode(line[0]!), JSON.parse(body.subarray(2).toString("utf8"))];
  } catch {
    return null;
  }
}

function isDeferral(value: unknown, nrcpt: number): value is RecipientDeferral {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isInteger(v["index"]) &&
    (v["index"] as number) >= 0 &&
    (v["index"] as number) < nrcpt &&
    typeof v["dsn"] === "string" &&
    typeof v["relay"] === "string" &&
    typeof v["text"] === "string" &&
    typeof v["time"] === "number"
  );
}

function isOutcome(value: unknown, nrcpt: number): value is RecipientOutcome {
  if (!isDeferral(value, nrcpt)) return false;
  const status = (value as unknown as Record<string, unknown>)["status"];
  return status === "sent" || status === "bounced" || status === "expired";
}

function applyStatusRecords(region: Buffer, info: QueueFileInfo): void {
  const nrcpt = info.envelope.recipients.length;
  let offset = 0;
  for (let eol = region.indexOf(0x0a); eol >= 0; eol = region.indexOf(0x0a, offset)) {
    const decoded = decodeCheckedLine(region.subarray(offset, eol));
    offset = eol + 1;
    if (decoded === null) continue;
    const [type, payload] = decoded;
    if (type === "O" && isOutcome(payload, nrcpt)) {
      const { index, status, dsn, relay, text, time } = payload;
      info.done.set(index, { index, status, dsn, relay, text, time });
    } else if (type === "D") applyDeferral(payload, info, nrcpt);
    else if (type === "W") info.warned = true;
  }
  for (const index of info.done.keys()) info.deferred.delete(index);
}

function applyDeferral(payload: unknown, info: QueueFileInfo, nrcpt: number): void {
  if (typeof payload !== "object" || payload === null) return;
  const { next, list } = payload as Record<string, unknown>;
  if (typeof next !== "number" || !Array.isArray(list)) return;
  info.attempts += 1;
  info.nextAttempt = next;
  for (const item of list) {
    if (!isDeferral(item, nrcpt)) continue;
    info.deferred.set(item.index, { dsn: item.dsn, relay: item.relay, text: item.text, time: item.time });
  }
}

/** A stream of the content bytes only (message headers and body, LF line endings). */
export function openContent(info: QueueFileInfo): NodeJS.ReadableStream {
  if (info.contentLength === 0) return Readable.from([]);
  return createReadStream(info.path, {
    start: info.contentOffset,
    end: info.contentOffset + info.contentLength - 1,
  });
}
