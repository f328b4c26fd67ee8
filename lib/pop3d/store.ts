/*
 * store — the Pop3Store the pop3 mail process gives Pop3MailEngine: one Maildir
 * (lib/mailbox) snapshot taken at login under the POP3 session lock, messages streamed in
 * CRLF form, DELE marks applied by unlink at QUIT. It also counts what Dovecot's logout
 * line reports (top=N/bytes, retr=N/bytes, del=N/total, size).
 * Talks to: lib/mailbox. Security: runs as the mailbox owner; a second session on the same
 * mailbox fails with MailError "in-use" (-ERR [IN-USE]).
 */
import { createReadStream, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { MailError } from "../mailbox/errors.js";
import type { SessionLock } from "../mailbox/locks.js";
import { type MaildirMessage, MaildirStore, readAtMost, readSmallFile } from "../mailbox/maildir.js";
import { syncIndex } from "../mailbox/sync.js";
import { DEFAULT_UIDL_FORMAT, formatUidl } from "../mailbox/uidl.js";
import type { UidRecord } from "../mailbox/uidlist.js";
import { peekUnchanged } from "../mailbox/uidlist-log.js";
import type { Pop3Body, Pop3ListEntry, Pop3Listing, Pop3Store, StoredMessage } from "../pop3/mail-engine.js";
import { CrlfEncoder, toCrlf, topOf } from "./crlf.js";

/**
 * Messages up to this size (CRLF octets) are read whole with blocking calls (open, read,
 * close): a page-cached file of a few KiB takes microseconds, while a stream costs several
 * thread-pool round trips (open, read, read, close) per RETR. Larger ones stream.
 */
const HELD_MESSAGE_BYTES = 256 * 1024;

/**
 * What retrieveNow reads into: one buffer for the process, grown to the largest held message
 * (at most HELD_MESSAGE_BYTES + 1). Its bytes are valid until the next retrieveNow, which is
 * enough: the engine copies them into the reply before it returns.
 */
let scratch = Buffer.allocUnsafe(16 * 1024);

/** readAtMost into `scratch`, grown to fit. */
function readIntoScratch(path: string, max: number): Buffer | undefined {
  if (scratch.length < max + 1) scratch = Buffer.allocUnsafe(max + 1);
  return readAtMost(path, max, scratch);
}

export interface Pop3SessionStats {
  top: number;
  topBytes: number;
  retr: number;
  retrBytes: number;
  deleted: number;
  messages: number;
  size: number;
}

export interface MaildirPop3Options {
  uidlFormat?: string;
  lockTimeoutMs?: number;
}

/** The chunks of `source`, each length added up by `add` (RETR/TOP byte counts). */
export async function* counted(
  source: AsyncIterable<Buffer>,
  add: (n: number) => void,
): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}

/** Counters for Dovecot's logout line, all zero. */
export function newSessionStats(): Pop3SessionStats {
  return { top: 0, topBytes: 0, retr: 0, retrBytes: 0, deleted: 0, messages: 0, size: 0 };
}

/** A record's file name in cur/ as the index last saw it. */
function fileOf(r: UidRecord): string {
  return r.info !== undefined ? `${r.base}:${r.info}` : r.base;
}

/** The Maildir message of an index record (what MaildirStore's calls take). */
function messageOf(r: UidRecord): MaildirMessage {
  return { uid: r.uid, base: r.base, file: fileOf(r), crlfSize: r.crlfSize ?? 0 };
}

export class MaildirPop3Store implements Pop3Store {
  readonly stats: Pop3SessionStats = newSessionStats();
  /**
   * The index's records at login, shared with the index (they are never changed in place):
   * no copy per message is made for the session.
   */
  private records: readonly UidRecord[] = [];
  private uidValidity = 0;
  /** UIDLs formatted so far (UIDL), by message index. */
  private uidls: string[] | undefined;
  /** The cur/ directory with its slash: a message's path is this and its file name. */
  private readonly curPrefix: string;
  private readonly addRetr = (k: number) => {
    this.stats.retrBytes += k;
  };

  private constructor(
    private readonly store: MaildirStore,
    private lock: SessionLock | undefined,
    private readonly uidlFormat: string,
  ) {
    this.curPrefix = `${join(store.root, "cur")}/`;
  }

  /** Lock the mailbox for this session and take the snapshot. */
  static async open(root: string, opts: MaildirPop3Options = {}): Promise<MaildirPop3Store> {
    const store = await MaildirStore.open(
      root,
      opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {},
    );
    const lock = await store.sessionLock();
    const self = new MaildirPop3Store(store, lock, opts.uidlFormat ?? DEFAULT_UIDL_FORMAT);
    try {
      // MaildirStore.sync() with the index's records as they are (no message objects). A
      // mailbox unchanged since this process last synced it (four stats prove it, as for
      // IMAP's NOOP and SELECT) needs no folder lock: a thread-pool round trip less at login.
      const list =
        peekUnchanged(store.root) ??
        (await syncIndex(
          store.root,
          opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {},
        ));
      self.records = list.records;
      self.uidValidity = list.uidValidity;
    } catch (err) {
      await self.close();
      throw err;
    }
    self.stats.messages = self.records.length;
    for (const r of self.records) self.stats.size += r.crlfSize ?? 0;
    return self;
  }

  /** UIDLs are formatted when first read (UIDL), not for every message at login. */
  listing(): Pop3Listing {
    return { sizes: this.records.map((r) => r.crlfSize ?? 0), uidl: (i) => this.uidl(i) };
  }

  /** The same list as entries (the engine takes listing()). */
  async list(): Promise<Pop3ListEntry[]> {
    return this.records.map((r, i) => ({ size: r.crlfSize ?? 0, uidl: this.uidl(i) }));
  }

  private uidl(i: number): string {
    this.uidls ??= [];
    let u = this.uidls[i];
    if (u === undefined) {
      const r = this.records[i] as UidRecord;
      u = formatUidl(this.uidlFormat, { uid: r.uid, uidValidity: this.uidValidity, base: r.base });
      this.uidls[i] = u;
    }
    return u;
  }

  private message(n: number): MaildirMessage {
    const r = this.records[n - 1];
    if (r === undefined) throw new MailError("notFound", `no message ${n}`);
    return messageOf(r);
  }

  /** A small message as stored (LF form), read whole; undefined for the streaming path. */
  private held(m: MaildirMessage): Buffer | undefined {
    if (m.crlfSize > HELD_MESSAGE_BYTES) return undefined;
    const path = this.curPrefix + m.file;
    // The index's CRLF size bounds the stored size: one read, no fstat (readSmallFile).
    const bytes = readSmallFile(path, m.crlfSize);
    if (bytes !== undefined) return bytes;
    // Renamed since the snapshot, or bigger than the index says: the streaming path. Any
    // other failure is thrown here, before the reply has begun (-ERR [SYS/TEMP]).
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined || st.size > HELD_MESSAGE_BYTES) return undefined;
    return readFileSync(path);
  }

  private async streamed(m: MaildirMessage): Promise<AsyncIterable<Buffer>> {
    const path = await this.store.messagePath(m);
    return toCrlf(createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>);
  }

  private async crlfBody(n: number): Promise<Buffer[] | AsyncIterable<Buffer>> {
    const m = this.message(n);
    const held = this.held(m);
    return held !== undefined ? [new CrlfEncoder().encode(held)] : this.streamed(m);
  }

  /**
   * RETR's fast path: a small message read now into the shared buffer (no allocation per
   * message, no promise); undefined sends the engine to retrieve(), which also reports errors.
   */
  retrieveNow(n: number): StoredMessage | undefined {
    const r = this.records[n - 1];
    const size = r?.crlfSize ?? 0;
    if (r === undefined || size > HELD_MESSAGE_BYTES) return undefined;
    // The index's CRLF size bounds the stored (LF) size.
    const stored = readIntoScratch(this.curPrefix + fileOf(r), size);
    if (stored === undefined) return undefined;
    this.stats.retr++;
    return { stored, sent: this.addRetr };
  }

  /** Small messages go to the engine as stored (it converts to CRLF as it dot-stuffs). */
  async retrieve(n: number): Promise<Pop3Body> {
    const m = this.message(n);
    const stored = this.held(m);
    const add = (k: number) => {
      this.stats.retrBytes += k;
    };
    const body: StoredMessage | AsyncIterable<Buffer> =
      stored !== undefined ? { stored, sent: add } : counted(await this.streamed(m), add);
    this.stats.retr++;
    return body;
  }

  async top(n: number, lines: number): Promise<Pop3Body> {
    const body = topOf(await this.crlfBody(n), lines);
    this.stats.top++;
    return this.count(body, (k) => {
      this.stats.topBytes += k;
    });
  }

  private count(body: Pop3Body, add: (n: number) => void): Pop3Body {
    if (!Array.isArray(body)) return counted(body as AsyncIterable<Buffer>, add);
    for (const chunk of body) add(chunk.length);
    return body;
  }

  async commitDeletes(ns: number[]): Promise<void> {
    await this.store.expunge(ns.map((n) => this.message(n)));
    this.stats.deleted = ns.length;
  }

  async close(): Promise<void> {
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
  }
}

/** Dovecot's logout line: "Disconnected: Logged out top=0/0, retr=1/1234, del=1/1, size=1234". */
export function formatLogout(reason: string, s: Pop3SessionStats): string {
  return `Disconnected: ${reason} top=${s.top}/${s.topBytes}, retr=${s.retr}/${s.retrBytes}, del=${s.deleted}/${s.messages}, size=${s.size}`;
}
