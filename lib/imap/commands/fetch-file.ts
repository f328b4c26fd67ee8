/*
 * fetch-file — one message file while FETCH answers it: a small one (up to 256 KiB) read
 * whole at once with blocking calls, a larger one opened once and pinned by its file
 * descriptor so a flag rename or an expunge by another session cannot pull it away halfway
 * through a literal, parsed into its MIME tree at most once, and read as CRLF-form byte
 * ranges streamed in 64 KiB chunks (a 50 MB BODY[] never sits in memory).
 *
 * The descriptor is reference-counted: the builder holds one reference until the response
 * has been sent, and every streamed literal holds one until it has been read to its end.
 * Talks to: FolderSession.messagePath, lib/mime (structure, sections, transfer decoding).
 * RFCs: 3501 §6.4.5 (sections, partials), 3516 (BINARY: transfer-decoded content).
 * Security: runs as the mailbox owner; ranges come from our own parse of the file and are
 * clamped by crlfRange; nothing but one header block (HEADER.FIELDS) is buffered.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { errnoCode, MailError } from "../../mailbox/errors.js";
import type { FolderSession } from "../../mailbox/folder.js";
import { readSmallFile } from "../../mailbox/maildir.js";
import { TransferDecoder } from "../../mime/decode.js";
import { type ByteRange, crlfRange, toCrlfBuffer } from "../../mime/sections.js";
import { type MimePart, parseStructure, parseStructureSync } from "../../mime/structure.js";
import type { StreamedLiteral } from "../serializer/values.js";

const CHUNK = 64 * 1024;

export class MessageFile {
  private refs = 1;
  private parsed: Promise<MimePart> | undefined;
  /** The held bytes in CRLF form, made on first use. */
  private crlf: Buffer | undefined;

  private constructor(
    private readonly fh: FileHandle | undefined,
    private readonly held: Buffer | undefined = undefined,
  ) {}

  /** Opens the file of `uid`; MailError "notFound" when it no longer exists. */
  static async open(folder: FolderSession, uid: number): Promise<MessageFile> {
    // a rename by another session between finding the name and opening it: look again once
    for (let attempt = 0; ; attempt++) {
      // first by the name the snapshot knows (no stat); after a failure, by a lookup
      const path = await folder.messagePath(uid, { unchecked: attempt === 0 });
      const held = readSmallFile(path, folder.byUid(uid)?.size ?? Number.POSITIVE_INFINITY);
      if (held !== undefined) return new MessageFile(undefined, held);
      try {
        return new MessageFile(await open(path, "r"));
      } catch (err) {
        if (errnoCode(err) !== "ENOENT") throw err;
        if (attempt > 0) throw new MailError("notFound", `message uid=${uid} vanished`);
      }
    }
  }

  /** The MIME tree, parsed on first use only. */
  tree(): Promise<MimePart> {
    this.parsed ??=
      this.held !== undefined ? Promise.resolve(parseStructureSync(this.held)) : parseStructure(this.raw());
    return this.parsed;
  }

  /**
   * The stored bytes by positional reads, so several readers can share the descriptor and any
   * may stop early (a FileHandle read stream closes the handle when it is destroyed early).
   */
  private async *raw(): AsyncGenerator<Buffer> {
    if (this.held !== undefined) {
      if (this.held.length > 0) yield this.held;
      return;
    }
    const fh = this.fh;
    if (fh === undefined) return;
    for (let position = 0; ; ) {
      const buffer = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await fh.read(buffer, 0, CHUNK, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  }

  /** The CRLF-form bytes of a range, read now (a header block for HEADER.FIELDS). */
  async read(range: ByteRange): Promise<Buffer> {
    if (this.held !== undefined) return this.crlfHeld().subarray(range.offset, range.offset + range.length);
    const pieces: Buffer[] = [];
    for await (const piece of crlfRange(this.raw(), range)) pieces.push(piece);
    return Buffer.concat(pieces);
  }

  /**
   * The CRLF-form bytes of a range as a literal value: from memory when the file was read
   * whole (no stream machinery per message), else streamed from disk while it is sent.
   */
  literalValue(range: ByteRange): { literal: Buffer } | { stream: StreamedLiteral } {
    if (this.held !== undefined) {
      const bytes = this.crlfHeld().subarray(range.offset, range.offset + range.length);
      // a range beyond the file is left to the stream, which reports the short literal
      if (bytes.length === range.length) return { literal: bytes };
    }
    return { stream: this.literal(range) };
  }

  private crlfHeld(): Buffer {
    this.crlf ??= toCrlfBuffer(this.held ?? Buffer.alloc(0));
    return this.crlf;
  }

  /** A literal of the CRLF-form bytes of a range, read from disk while it is sent. */
  literal(range: ByteRange): StreamedLiteral {
    return this.pinned(range.length, () => crlfRange(this.raw(), range));
  }

  /** The transfer-decoded content of a part's body range (BINARY), read now to count it. */
  async decodedSize(range: ByteRange, encoding: string | null): Promise<{ size: number; nul: boolean }> {
    let size = 0;
    let nul = false;
    for await (const piece of this.decoded(range, encoding)) {
      size += piece.length;
      nul ||= piece.includes(0);
    }
    return { size, nul };
  }

  /** A literal of `length` bytes of the decoded content from `start` (BINARY<partial>). */
  decodedLiteral(range: ByteRange, encoding: string | null, start: number, length: number): StreamedLiteral {
    return this.pinned(length, () => slice(this.decoded(range, encoding), start, length));
  }

  private async *decoded(range: ByteRange, encoding: string | null): AsyncGenerator<Buffer> {
    const decoder = new TransferDecoder(encoding);
    for await (const piece of crlfRange(this.raw(), range)) {
      const out = decoder.write(piece);
      if (out.length > 0) yield out;
    }
    const last = decoder.end();
    if (last.length > 0) yield last;
  }

  /** A literal whose source holds a reference on the descriptor until it is read or dropped. */
  private pinned(size: number, bytes: () => AsyncIterable<Buffer>): StreamedLiteral {
    if (size === 0) return { size, source: nothing() };
    this.refs++;
    const release = () => this.release();
    async function* source(): AsyncGenerator<Buffer> {
      try {
        yield* bytes();
      } finally {
        release();
      }
    }
    return { size, source: source() };
  }

  /** Drops one reference; the descriptor closes with the last. */
  release(): void {
    if (--this.refs === 0) void this.fh?.close().catch(() => undefined);
  }
}

async function* nothing(): AsyncGenerator<Buffer> {}

/** `length` bytes from `start` of a stream of chunks. */
async function* slice(input: AsyncIterable<Buffer>, start: number, length: number): AsyncGenerator<Buffer> {
  let pos = 0;
  const end = start + length;
  for await (const chunk of input) {
    const from = Math.max(0, start - pos);
    const to = Math.min(chunk.length, end - pos);
    if (to > from) yield chunk.subarray(from, to);
    pos += chunk.length;
    if (pos >= end) return;
  }
}
