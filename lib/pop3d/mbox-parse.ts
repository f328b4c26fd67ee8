/*
 * mbox-parse — reading the UNIX mailbox that lib/delivery/mbox.ts writes, for POP3.
 *
 * The writer produces mboxrd entries: a From_ envelope line, the message with every line
 * matching /^>*From / given one more ">", and one empty separator line. Reading is the
 * exact inverse: any line starting "From " is a separator (the writer quoted all others),
 * the one empty line before a separator (or the end of the file) is dropped, and lines
 * matching /^>+From / lose one ">". Bytes before the first From_ line (a damaged or
 * foreign file) are kept by rewrites but are no message.
 *
 * MboxScanner is fed the file chunk by chunk (nothing is held whole) and records, per
 * entry, its byte offsets, the octet count of the un-quoted CRLF form (what RETR sends
 * before dot-stuffing) and a SHA-1 of the entry's raw bytes (From_ line included), which
 * is the UIDL: it changes neither when other entries are deleted nor when mail is
 * appended, since rewrites copy kept entries byte for byte. Identical entries (the same
 * delivery twice) get "-2", "-3" suffixes; if an earlier twin is deleted the later one
 * inherits its UIDL, which is harmless because the contents are identical.
 * MboxUnquoter is the streaming un-quoter RETR/TOP use.
 * Talks to nothing. Input is untrusted: lines of any length, any bytes.
 */
import { createHash, type Hash } from "node:crypto";

export interface MboxEntry {
  /** Offset of the From_ line. */
  readonly entryStart: number;
  /** Offset just after the From_ line: the first byte of the message. */
  readonly bodyStart: number;
  /** End of the message (the separator line excluded). */
  readonly contentEnd: number;
  /** End of the raw entry: the next From_ line or the end of the file. */
  readonly entryEnd: number;
  /** Octets of the un-quoted message in CRLF form. */
  readonly crlfSize: number;
  readonly uidl: string;
}

const LF = 0x0a;
const CR = 0x0d;
const GT = 0x3e;
const FROM_ = Buffer.from("From ", "latin1");

type LineKind = "undecided" | "from" | "quoted" | "plain";

interface OpenEntry {
  entryStart: number;
  bodyStart: number;
  bytes: number;
  bareLfs: number;
  quoted: number;
  lastLine: { len: number; bare: boolean } | undefined;
  hash: Hash;
}

export class MboxScanner {
  readonly entries: MboxEntry[] = [];
  private readonly seen = new Map<string, number>();
  private offset = 0;
  private lineStart = 0;
  private kind: LineKind = "undecided";
  private gts = 0;
  private matched = 0;
  private prevByte = -1;
  private current: OpenEntry | undefined;
  /** Bytes not yet hashed: [carryStart, offset) of earlier chunks (an undecided line start). */
  private carry: Buffer = Buffer.alloc(0);
  private carryStart = 0;

  push(chunk: Buffer): void {
    const base = this.offset;
    this.carry = Buffer.concat([this.carry, chunk]);
    let i = 0;
    while (i < chunk.length) i = this.kind === "undecided" ? this.prefixByte(chunk, i) : this.rest(chunk, i);
    if (chunk.length > 0) this.prevByte = chunk[chunk.length - 1] ?? -1;
    this.offset = base + chunk.length;
    const undecidedFrom = this.kind === "undecided" && this.gts === 0;
    this.hashUpTo(undecidedFrom ? this.lineStart : this.offset);
  }

  /** End of file: close the last line and entry. */
  end(): MboxEntry[] {
    if (this.offset > this.lineStart) this.endLine(this.offset, false);
    this.closeEntry(this.offset);
    return this.entries;
  }

  /** One byte of a line's start while it may still be a From_ or quoted line. */
  private prefixByte(chunk: Buffer, i: number): number {
    const byte = chunk[i];
    if (this.matched === 0 && byte === GT) {
      this.gts++;
      return i + 1;
    }
    if (byte === FROM_[this.matched]) {
      this.matched++;
      if (this.matched === FROM_.length) {
        this.kind = this.gts === 0 ? "from" : "quoted";
        if (this.kind === "from") this.separator(this.lineStart);
      }
      return i + 1;
    }
    this.kind = "plain";
    return i;
  }

  /** The rest of a line, up to and including its LF. */
  private rest(chunk: Buffer, i: number): number {
    const nl = chunk.indexOf(LF, i);
    if (nl < 0) return chunk.length;
    const before = nl > 0 ? chunk[nl - 1] : this.prevByte;
    this.endLine(this.offset + nl + 1, before !== CR);
    return nl + 1;
  }

  private endLine(end: number, bare: boolean): void {
    const len = end - this.lineStart;
    const entry = this.current;
    if (this.kind === "from" && entry !== undefined) entry.bodyStart = end;
    else if (entry !== undefined) {
      entry.bytes += len;
      if (bare) entry.bareLfs++;
      if (this.kind === "quoted") entry.quoted++;
      entry.lastLine = { len, bare };
    }
    this.lineStart = end;
    this.kind = "undecided";
    this.gts = 0;
    this.matched = 0;
  }

  /** A From_ line starts at `at`: the previous entry ends there. */
  private separator(at: number): void {
    this.hashUpTo(at);
    this.closeEntry(at);
    this.current = {
      entryStart: at,
      bodyStart: at,
      bytes: 0,
      bareLfs: 0,
      quoted: 0,
      lastLine: undefined,
      hash: createHash("sha1"),
    };
  }

  /** Feed the current entry's hash with the bytes up to `to`, keeping the rest as carry. */
  private hashUpTo(to: number): void {
    const cut = to - this.carryStart;
    if (cut <= 0) return;
    this.current?.hash.update(this.carry.subarray(0, cut));
    this.carry = this.carry.subarray(cut);
    this.carryStart = to;
  }

  private closeEntry(entryEnd: number): void {
    const e = this.current;
    this.current = undefined;
    if (e === undefined) return;
    this.hashUpTo(entryEnd);
    let { bytes, bareLfs } = e;
    let contentEnd = entryEnd;
    const last = e.lastLine;
    const emptyLast = last !== undefined && (last.len === 1 || (last.len === 2 && !last.bare));
    if (emptyLast && last !== undefined) {
      contentEnd -= last.len;
      bytes -= last.len;
      if (last.bare) bareLfs--;
    }
    this.entries.push({
      entryStart: e.entryStart,
      bodyStart: Math.min(e.bodyStart, contentEnd),
      contentEnd,
      entryEnd,
      crlfSize: bytes + bareLfs - e.quoted,
      uidl: this.uniqueUidl(e.hash.digest("hex")),
    });
  }

  private uniqueUidl(digest: string): string {
    const n = (this.seen.get(digest) ?? 0) + 1;
    this.seen.set(digest, n);
    return n === 1 ? digest : `${digest}-${n}`;
  }
}

/** Scan a whole mbox given as chunks (tests, small files). */
export function scanMbox(chunks: Iterable<Buffer>): MboxEntry[] {
  const scanner = new MboxScanner();
  for (const chunk of chunks) scanner.push(chunk);
  return scanner.end();
}

/** Streaming inverse of the mboxrd quoter: /^>+From / loses one ">". */
export class MboxUnquoter {
  private atLineStart = true;
  private gts = 0;
  private matched = 0;

  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (!this.atLineStart) {
        const nl = chunk.indexOf(LF, i);
        const end = nl < 0 ? chunk.length : nl + 1;
        out.push(chunk.subarray(i, end));
        this.atLineStart = nl >= 0;
        i = end;
        continue;
      }
      i = this.prefix(chunk, i, out);
    }
    return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
  }

  /** Bytes held back at the end (an undecided prefix is plain text). */
  end(): Buffer {
    const rest = this.held(0);
    this.gts = 0;
    this.matched = 0;
    return rest;
  }

  private prefix(chunk: Buffer, start: number, out: Buffer[]): number {
    let i = start;
    while (i < chunk.length) {
      const byte = chunk[i];
      if (this.matched === 0 && byte === GT) {
        this.gts++;
        i++;
        continue;
      }
      if (this.gts > 0 && byte === FROM_[this.matched]) {
        this.matched++;
        i++;
        if (this.matched === FROM_.length) return this.decide(out, 1, i);
        continue;
      }
      return this.decide(out, 0, i);
    }
    return i;
  }

  private decide(out: Buffer[], drop: number, next: number): number {
    out.push(this.held(drop));
    this.gts = 0;
    this.matched = 0;
    this.atLineStart = false;
    return next;
  }

  private held(drop: number): Buffer {
    return Buffer.concat([Buffer.alloc(this.gts - drop, GT), FROM_.subarray(0, this.matched)]);
  }
}

/** Un-quote a stream of stored message bytes. */
export async function* unquoted(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const u = new MboxUnquoter();
  for await (const chunk of source) {
    const out = u.push(chunk);
    if (out.length > 0) yield out;
  }
  const rest = u.end();
  if (rest.length > 0) yield rest;
}
