/*
 * fetch-whole — FETCH's fast path for whole messages (BODY[], BODY.PEEK[], RFC822, with or
 * without index items: what a client downloading mail asks for every message): each small
 * message file is read with one open/pread/close into a reused buffer and converted to its
 * CRLF form straight into a batch of wire bytes that holds many responses, handed to the
 * session in one write per ~64 KiB, from a buffer reused batch after batch. No MIME parse,
 * no response objects, no copy of the body but the CRLF conversion itself.
 *
 * Whatever the fast path does not cover goes back to the general path (fetch-items) for that
 * message, after the batch so far is sent: partials, other items, big files, a file renamed
 * or gone since the snapshot, a file whose CRLF size is not the one the index announces.
 * The bytes are the general path's (the golden FETCH tests run both).
 * Talks to: FolderSession (snapshotPath), the ImapContext (sendWire). RFCs: 3501 §6.4.5, §7.4.2.
 * Security: runs as the mailbox owner; reads only the selected folder's own files by the
 * names its snapshot knows; the batch buffer is sized for the worst case (every LF doubled)
 * before anything is written into it.
 */
import type { FolderSession, MessageInfo } from "../../mailbox/folder.js";
import { readAtMost, SMALL_FILE_MAX } from "../../mailbox/maildir.js";
import { writeCrlf } from "../../mime/sections.js";
import type { ImapContext } from "./context.js";
import type { PlannedItem } from "./fetch-plan.js";
import { flagAtoms, formatInternalDate } from "./fetch-values.js";

type IndexItem = Extract<PlannedItem, { kind: "index" }>;

/** One index item as wire text (the values are numbers, stored atoms and our own dates). */
export function indexText(item: IndexItem, m: MessageInfo, recent: boolean): string {
  switch (item.name) {
    case "UID":
      return `UID ${m.uid}`;
    case "FLAGS":
      return `FLAGS (${flagAtoms(m.flags, recent).join(" ")})`;
    case "INTERNALDATE":
      return `INTERNALDATE "${formatInternalDate(m.internalDate)}"`;
    case "RFC822.SIZE":
      return `RFC822.SIZE ${m.crlfSize}`;
    case "MODSEQ":
      return `MODSEQ (${m.modseq})`;
  }
}

/** True when every item is an index item or a whole message without partial. */
export function wholeMessagesOnly(items: readonly PlannedItem[]): boolean {
  return (
    items.some((i) => i.kind === "section") &&
    items.every(
      (i) =>
        i.kind === "index" ||
        (i.kind === "section" &&
          i.partial === null &&
          i.section.part.length === 0 &&
          i.section.text === null),
    )
  );
}

/** Send a batch once it holds this much. */
const FLUSH_AT = 64 * 1024;
const BATCH_SIZE = 2 * FLUSH_AT;

/** Room for "* n FETCH (", the index items but FLAGS, the item names and literal headers. */
const FIXED_ROOM = 1024;
const EMPTY: Buffer = Buffer.alloc(0);

let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * A small file's bytes read with one open/pread/close into a buffer shared by every call in
 * this process (the caller must be done with them before it next awaits), at most `expected`;
 * undefined when it cannot be read so (missing, renamed, bigger than the index says): the
 * general path then reads it its own way.
 */
function readStored(path: string, expected: number): Buffer | undefined {
  if (expected > SMALL_FILE_MAX) return undefined;
  if (scratch.length < expected + 1)
    scratch = Buffer.allocUnsafeSlow(Math.max(expected + 1, 2 * scratch.length));
  return readAtMost(path, expected, scratch);
}

/**
 * Batch buffers between FETCHes: a batch takes one (or makes one) and gives it back when its
 * FETCH is done, so a big FETCH does not leave a trail of 128 KiB buffers for the GC and
 * the allocator (fresh ones also cost page faults on first write).
 */
const spare: Buffer[] = [];
const SPARE_MAX = 4;

/** FETCH responses in wire form, sent to the session a batch at a time. */
export class WireBatch {
  private buf = EMPTY;
  private at = 0;
  private ends: number[] = [];

  constructor(private readonly ctx: ImapContext) {}

  /**
   * Appends the response of one message whose items wholeMessagesOnly() accepted; false
   * (nothing appended) when its file cannot be answered here.
   */
  async add(
    folder: FolderSession,
    answer: { readonly seq: number; readonly info: MessageInfo; readonly items: readonly PlannedItem[] },
  ): Promise<boolean> {
    const { seq, info, items } = answer;
    if (info.size > SMALL_FILE_MAX) return false;
    const path = folder.snapshotPath(info.uid);
    if (path === undefined) return false; // the general path meets the same error and answers it
    let literals = 0;
    for (const item of items) if (item.kind === "section") literals++;
    const flagRoom = info.flags.reduce((n, f) => n + f.length + 1, 16);
    // room for the worst case (the file is at most info.size bytes, each may become two) is
    // made before the read: from the read to the last byte converted nothing awaits, so no
    // other session of this process can reuse the shared read buffer meanwhile
    const need = FIXED_ROOM + flagRoom + literals * 2 * info.size;
    if (this.buf.length - this.at < need) {
      await this.flush();
      if (this.buf.length < need) {
        this.release();
        this.buf =
          need <= BATCH_SIZE
            ? (spare.pop() ?? Buffer.allocUnsafeSlow(BATCH_SIZE))
            : Buffer.allocUnsafeSlow(need);
      }
    }
    const stored = readStored(path, info.size);
    if (stored === undefined) return false;
    const recent = folder.isRecent(info.uid);
    const buf = this.buf;
    let at = this.at;
    at += buf.write(`* ${seq} FETCH (`, at, "latin1");
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as PlannedItem;
      if (i > 0) buf[at++] = 0x20;
      if (item.kind === "index") {
        at += buf.write(indexText(item, info, recent), at, "latin1");
        continue;
      }
      at += buf.write(`${item.name} {${info.crlfSize}}\r\n`, at, "latin1");
      const end = writeCrlf(stored, buf, at);
      if (end - at !== info.crlfSize) return false; // the general path decides (it truncates or fails)
      at = end;
    }
    at += buf.write(")\r\n", at, "latin1");
    this.at = at;
    this.ends.push(at);
    if (at >= FLUSH_AT) await this.flush();
    return true;
  }

  /**
   * Sends what the batch holds. The session is done with the bytes when sendWire resolves
   * (ImapContext.sendWire), so the next responses go into the same buffer.
   */
  async flush(): Promise<void> {
    if (this.at === 0) return;
    const bytes = this.buf.subarray(0, this.at);
    const ends = this.ends;
    this.at = 0;
    this.ends = [];
    await this.ctx.sendWire(bytes, ends);
  }

  /** The FETCH is done: sends the rest and gives the buffer back for the next one. */
  async finish(): Promise<void> {
    await this.flush();
    this.release();
  }

  private release(): void {
    if (this.buf.length === BATCH_SIZE && spare.length < SPARE_MAX) spare.push(this.buf);
    this.buf = EMPTY;
  }
}
