/*
 * folder — one IMAP session's view of one Maildir folder (what SELECT/EXAMINE open), on the
 * shared index (sync.ts). The IMAP layer uses it like this:
 *
 *   const f = await FolderSession.open(dir, { readOnly });   // SELECT / EXAMINE
 *   f.messages[seq - 1], f.byUid(uid), f.seqOf(uid)          // the snapshot, by seq and UID
 *   const ch = await f.sync();   // NOOP, IDLE wakeup, after every command: ch.expungedSeqs
 *                                // → EXPUNGE, f.messages.length → EXISTS, ch.flagged → FETCH
 *   await f.store(uids, { mode: "add", flags: ["\\Seen"], unchangedSince })  // → { failed }
 *   await f.expunge()            // \Deleted ones; f.expunge({ uids }) for UID EXPUNGE
 *   f.openMessage(uid)           // the message file as a stream (LF or CRLF, as stored)
 *   const stop = f.watch(() => ...)   // IDLE: something changed in new/ or cur/, call sync()
 *
 * \Recent follows RFC 3501: the first non-read-only session to sync after a message
 * arrives claims it (the index's first-recent UID moves past it), and only that session
 * ever reports it as \Recent. Flags changed by this session are reported by the next sync
 * like anyone else's, with their new MODSEQ (RFC 7162). STORE and EXPUNGE record their
 * renames and unlinks in the index (sync.ts credits them), and the sessions of a process
 * share one view (MessageInfo list) per index state, so after a STORE the other sessions
 * catch up from the index log without reading cur/ or rebuilding their view.
 * Talks to: the folder's directories and index. Security: runs as the mailbox owner; UIDs
 * and flags come from the client and are checked against the index, never used as paths.
 */
import { createReadStream, watch } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { MailError } from "./errors.js";
import { addKeywords, formatInfo, knownKeywords, parseInfo, readKeywords, sortFlags } from "./flags.js";
import { ascendingUids, type FolderView, type MessageInfo, viewOf } from "./folder-view.js";
import { currentPath, readSmallFile, SMALL_FILE_MAX } from "./maildir.js";
import { type SyncOptions, withSyncedIndex } from "./sync.js";
import { internInfo, type Uidlist, type UidRecord } from "./uidlist.js";
import { peekUnchanged } from "./uidlist-log.js";

export { type MessageInfo, withFlags } from "./folder-view.js";

export interface FolderChanges {
  /** UIDs gone since the last sync, ascending. */
  readonly expunged: readonly number[];
  /** The sequence numbers to announce in EXPUNGE responses, in the order to send them. */
  readonly expungedSeqs: readonly number[];
  /** UIDs new since the last sync, ascending. */
  readonly added: readonly number[];
  /** Messages (still present, not new) whose flags changed since the last sync. */
  readonly flagged: readonly MessageInfo[];
}

export type StoreMode = "add" | "remove" | "replace";

export interface StoreRequest {
  readonly mode: StoreMode;
  readonly flags: readonly string[];
  /** CONDSTORE UNCHANGEDSINCE: messages with a higher modseq are left alone and reported. */
  readonly unchangedSince?: number;
}

export interface FolderOptions extends SyncOptions {
  /** EXAMINE: never claims \Recent. */
  readonly readOnly?: boolean;
}

/** The 1-based position of `uid` in messages in ascending UID order. */
function seqIn(messages: readonly MessageInfo[], uid: number): number | undefined {
  let lo = 0;
  let hi = messages.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = (messages[mid] as MessageInfo).uid;
    if (at === uid) return mid + 1;
    if (at < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** True when `b` starts with the UIDs of `a`, in order. */
function sameUids(a: readonly MessageInfo[], b: readonly MessageInfo[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]?.uid !== b[i]?.uid) return false;
  return true;
}

/** What sync() returns when nothing changed (shared: callers only read it). */
const NONE: readonly never[] = Object.freeze([]);
const NO_CHANGES: FolderChanges = Object.freeze({
  expunged: NONE,
  expungedSeqs: NONE,
  added: NONE,
  flagged: NONE,
});

function applyStore(current: readonly string[], req: StoreRequest): string[] {
  const lower = new Set(req.flags.map((f) => f.toLowerCase()));
  if (req.mode === "replace") return sortFlags(req.flags);
  if (req.mode === "add") return sortFlags([...current, ...req.flags]);
  return current.filter((f) => !lower.has(f.toLowerCase()));
}

function mergeByUid(a: readonly MessageInfo[], b: readonly MessageInfo[]): MessageInfo[] {
  return [...a, ...b].sort((x, y) => x.uid - y.uid);
}

export class FolderSession {
  messages: readonly MessageInfo[] = [];
  uidValidity = 0;
  uidNext = 1;
  highestModseq = 1;
  /** Keywords the folder knows (for FLAGS / PERMANENTFLAGS). */
  keywords: readonly string[] = [];
  private readonly recent = new Set<number>();
  private ghosts = new Set<number>();
  private lastRead: { uid: number; bytes: Buffer } | undefined;
  /** readSmallMessage's buffer (made on first use) and the message it holds now. */
  private readBuf: Buffer | undefined;
  private readHeld: { uid: number; bytes: Buffer } | undefined;
  /** Sequence numbers by UID, only for a view not in UID order (else a binary search). */
  private seqByUid: Map<number, number> | undefined;
  private seen: Uidlist | undefined;
  /** The shared view `messages` was taken from (the same array unless ghosts were merged in). */
  private view: FolderView | undefined;

  private constructor(
    readonly dir: string,
    private readonly opts: FolderOptions,
  ) {}

  static async open(dir: string, opts: FolderOptions = {}): Promise<FolderSession> {
    const session = new FolderSession(dir, opts);
    await session.sync();
    return session;
  }

  get readOnly(): boolean {
    return this.opts.readOnly === true;
  }

  byUid(uid: number): MessageInfo | undefined {
    const seq = this.seqOf(uid);
    return seq === undefined ? undefined : this.messages[seq - 1];
  }

  seqOf(uid: number): number | undefined {
    return this.seqByUid === undefined ? seqIn(this.messages, uid) : this.seqByUid.get(uid);
  }

  isRecent(uid: number): boolean {
    return this.recent.has(uid);
  }

  get recentCount(): number {
    return this.recent.size;
  }

  /**
   * An object that stands for what this session shows (messages, keywords, UIDVALIDITY,
   * UIDNEXT, HIGHESTMODSEQ, first unseen): the shared view of the index state, the same for
   * every session of the process on that state; undefined while messages another session
   * expunged are still shown. \Recent is the session's own and not part of it.
   */
  get viewKey(): object | undefined {
    const view = this.view;
    return view !== undefined && view.messages === this.messages ? view : undefined;
  }

  /** The 0-based index of the first message without \Seen, or -1 (SELECT's UNSEEN). */
  firstUnseenIndex(): number {
    const view = this.view;
    if (view !== undefined && view.messages === this.messages) return view.firstUnseen();
    return this.messages.findIndex((m) => !m.flags.includes("\\Seen"));
  }

  /**
   * Bring the view up to date and say what changed since the previous sync. With
   * `announceExpunges: false` (during FETCH, STORE and SEARCH, where RFC 3501 §7.4.1 forbids
   * EXPUNGE responses) messages removed meanwhile stay in the view, as ghosts whose sequence
   * numbers do not move, until a later sync announces them.
   */
  async sync(opts: { announceExpunges?: boolean } = {}): Promise<FolderChanges> {
    const announce = opts.announceExpunges !== false;
    const quiet = this.opts.fs === undefined ? peekUnchanged(this.dir) : undefined;
    const nothingToClaim =
      quiet !== undefined && (this.readOnly || (quiet.firstRecentUid ?? 1) >= quiet.nextUid);
    const list =
      quiet !== undefined && nothingToClaim
        ? quiet
        : await withSyncedIndex(this.dir, this.opts, async (l) => this.claimRecent(l));
    if (list === this.seen && (!announce || this.ghosts.size === 0)) return NO_CHANGES;
    if (this.seen !== undefined && list.uidValidity !== this.seen.uidValidity)
      throw new MailError("temp", `UIDVALIDITY of ${this.dir} changed; the session must reselect`);
    this.keywords = knownKeywords(this.dir) ?? (await readKeywords(this.dir));
    return this.adopt(list, announce);
  }

  /** True for a message another session expunged that this view has not announced yet. */
  isExpunged(uid: number): boolean {
    return this.ghosts.has(uid);
  }

  private async claimRecent(list: Uidlist): Promise<{ list?: Uidlist; result: Uidlist }> {
    const first = list.firstRecentUid ?? 1;
    if (this.readOnly || first >= list.nextUid) return { result: list };
    for (const r of list.records) if (r.uid >= first) this.recent.add(r.uid);
    const claimed: Uidlist = { ...list, firstRecentUid: list.nextUid };
    return { list: claimed, result: claimed };
  }

  private adopt(list: Uidlist, announce: boolean): FolderChanges {
    const before = this.messages;
    const view = viewOf(this.dir, list, this.keywords);
    const current = view.messages;
    this.view = view;
    if (this.seen === undefined) {
      this.messages = current;
      this.seqByUid = view.ascending() ? undefined : view.seqByUid();
      this.takeHeader(list);
      return { expunged: [], expungedSeqs: [], added: [], flagged: [] };
    }
    if (this.ghosts.size === 0 && sameUids(before, current)) {
      // The usual cases (flags changed, messages added at the end, nothing removed): the old
      // sequence numbers stay, and no maps of the old view are needed to tell what changed
      const flagged: MessageInfo[] = [];
      for (let i = 0; i < before.length; i++) {
        const now = current[i];
        if (now !== undefined && now !== before[i] && now.modseq !== before[i]?.modseq) flagged.push(now);
      }
      const added = current.slice(before.length).map((m) => m.uid);
      this.messages = current;
      if (added.length > 0) this.seqByUid = view.ascending() ? undefined : view.seqByUid();
      this.takeHeader(list);
      return { expunged: [], expungedSeqs: [], added, flagged };
    }
    const oldModseq = new Map(before.map((m) => [m.uid, m.modseq]));
    const present = new Set(current.map((m) => m.uid));
    const ghosts = announce ? [] : before.filter((m) => !present.has(m.uid));
    const messages = ghosts.length === 0 ? current : mergeByUid(current, ghosts);
    this.ghosts = new Set(ghosts.map((m) => m.uid));
    const expungedSeqs: number[] = [];
    const expunged: number[] = [];
    for (let i = before.length - 1; i >= 0 && announce; i--) {
      const m = before[i];
      if (m !== undefined && !present.has(m.uid)) {
        expungedSeqs.push(i + 1);
        expunged.unshift(m.uid);
        this.recent.delete(m.uid);
      }
    }
    const added = messages.filter((m) => !oldModseq.has(m.uid)).map((m) => m.uid);
    const flagged = current.filter((m) => (oldModseq.get(m.uid) ?? m.modseq) !== m.modseq);
    this.messages = messages;
    this.seqByUid = (ghosts.length === 0 ? view.ascending() : ascendingUids(messages))
      ? undefined
      : ghosts.length === 0
        ? view.seqByUid()
        : new Map(messages.map((m, i) => [m.uid, i + 1]));
    this.takeHeader(list);
    return { expunged, expungedSeqs, added, flagged };
  }

  private takeHeader(list: Uidlist): void {
    this.uidValidity = list.uidValidity;
    this.uidNext = list.nextUid;
    this.highestModseq = list.highestModseq ?? 1;
    this.seen = list;
  }

  /** STORE: change flags of the messages with these UIDs; returns the UIDs UNCHANGEDSINCE refused. */
  async store(uids: Iterable<number>, req: StoreRequest): Promise<{ failed: number[] }> {
    this.assertWritable();
    const wanted = new Set(uids);
    return withSyncedIndex(this.dir, this.opts, async (list) => {
      const keywords = await addKeywords(this.dir, req.mode === "remove" ? [] : req.flags);
      let highest = list.highestModseq ?? 1;
      const failed: number[] = [];
      const records: UidRecord[] = [];
      for (const r of list.records) {
        if (!wanted.has(r.uid)) {
          records.push(r);
          continue;
        }
        if (req.unchangedSince !== undefined && (r.modseq ?? 1) > req.unchangedSince) {
          failed.push(r.uid);
          records.push(r);
          continue;
        }
        const changed = await this.renameFlags(r, keywords, req, highest + 1);
        if (changed !== r) highest++;
        if (changed !== undefined) records.push(changed);
      }
      // flags already as asked (a repeated +FLAGS \Seen): the index stays as it is
      if (highest === (list.highestModseq ?? 1)) return { result: { failed } };
      return {
        list: { ...list, records, highestModseq: highest },
        result: { failed },
        curChangesRecorded: true,
      };
    });
  }

  /** Rename one file to its new flags; undefined when it has vanished. */
  private async renameFlags(
    r: UidRecord,
    keywords: readonly string[],
    req: StoreRequest,
    modseq: number,
  ): Promise<UidRecord | undefined> {
    const parsed = parseInfo(r.info ?? "", keywords);
    const info = formatInfo(applyStore(parsed.flags, req), keywords, parsed.foreign);
    if (info === (r.info ?? "")) return r;
    try {
      const from = await currentPath(this.dir, r.base, r.info !== undefined ? `${r.base}:${r.info}` : r.base);
      await rename(from, join(this.dir, "cur", `${r.base}:${info}`));
    } catch (err) {
      if (err instanceof MailError && err.kind === "notFound") return undefined;
      throw err;
    }
    return { ...r, info: internInfo(info), modseq };
  }

  /**
   * EXPUNGE: remove the \Deleted messages (only those in `uids` when given: UID EXPUNGE);
   * with `all`, remove the `uids` whatever their flags (MOVE). Returns the removed UIDs.
   */
  async expunge(opts: { uids?: Iterable<number>; all?: boolean } = {}): Promise<number[]> {
    this.assertWritable();
    const only = opts.uids === undefined ? undefined : new Set(opts.uids);
    return withSyncedIndex(this.dir, this.opts, async (list) => {
      const keep: UidRecord[] = [];
      const removed: number[] = [];
      for (const r of list.records) {
        const named = only === undefined || only.has(r.uid);
        const deleted = opts.all === true || /^2,[^:]*T/.test(r.info ?? "");
        if (!(named && deleted)) {
          keep.push(r);
          continue;
        }
        await currentPath(this.dir, r.base, `${r.base}:${r.info ?? ""}`)
          .then((p) => unlink(p))
          .catch((e: unknown) => {
            if (!(e instanceof MailError && e.kind === "notFound")) throw e;
          });
        removed.push(r.uid);
      }
      if (removed.length === 0) return { result: removed };
      return {
        list: { ...list, records: keep, highestModseq: (list.highestModseq ?? 1) + 1 },
        result: removed,
        curChangesRecorded: true,
      };
    });
  }

  /**
   * The message's bytes as stored. A small message (the usual mail) is read whole with
   * blocking calls and the last one is kept: a SEARCH reads a message's header, structure
   * and text one after another, and a message's bytes never change under its UID.
   */
  async openMessage(uid: number): Promise<Readable & { readonly pending?: boolean; readonly held?: Buffer }> {
    const held = this.readSmall(uid);
    // the bytes ride along, so a reader can take them at once instead of streaming
    if (held !== undefined) return Object.assign(Readable.from([held]), { held });
    const m = this.byUid(uid);
    if (m === undefined) throw new MailError("notFound", `no message uid=${uid} in ${this.dir}`);
    const path = await currentPath(this.dir, m.base, m.file);
    if (m.size <= SMALL_FILE_MAX) {
      if (this.lastRead?.uid !== uid) {
        const bytes = readSmallFile(path, m.size);
        this.lastRead = bytes === undefined ? undefined : { uid, bytes };
      }
      if (this.lastRead !== undefined) return Readable.from([this.lastRead.bytes]);
    }
    return createReadStream(path, { highWaterMark: 64 * 1024 });
  }

  /**
   * A small message's bytes read at once by the name the snapshot knows (one open, pread,
   * close; no stream, no stat) into a buffer this session reuses: the bytes are valid until
   * the next call for another UID, so the caller must be done with them by then (SEARCH,
   * one message at a time). undefined when it is big, unknown, or was renamed since: the
   * caller then uses openMessage, which looks for the current name.
   */
  readSmallMessage(uid: number): Buffer | undefined {
    if (this.readHeld?.uid === uid) return this.readHeld.bytes;
    const m = this.byUid(uid);
    if (m === undefined || m.size > SMALL_FILE_MAX) return undefined;
    const want = m.size + 1;
    if (this.readBuf === undefined || this.readBuf.length < want)
      this.readBuf = Buffer.allocUnsafeSlow(Math.max(want, 2 * (this.readBuf?.length ?? 32 * 1024)));
    this.readHeld = undefined;
    const bytes = readSmallFile(join(this.dir, "cur", m.file), m.size, this.readBuf);
    if (bytes !== undefined) this.readHeld = { uid, bytes };
    return bytes;
  }

  /**
   * A small message's bytes read at once by the name the snapshot knows, with blocking calls
   * and no stat first; undefined when it is big, unknown, or was renamed since (the caller's
   * slower path looks for its current name).
   */
  private readSmall(uid: number): Buffer | undefined {
    if (this.lastRead?.uid === uid) return this.lastRead.bytes;
    const m = this.byUid(uid);
    if (m === undefined || m.size > SMALL_FILE_MAX) return undefined;
    const bytes = readSmallFile(join(this.dir, "cur", m.file), m.size);
    if (bytes !== undefined) this.lastRead = { uid, bytes };
    return bytes;
  }

  /**
   * The path of a message's file now (for hard-link copies). `unchecked`: the name the
   * snapshot knows, without a stat; a flag rename since makes opening it fail with ENOENT,
   * and the caller asks again without it.
   */
  async messagePath(uid: number, opts: { readonly unchecked?: boolean } = {}): Promise<string> {
    const m = this.byUid(uid);
    if (m === undefined) throw new MailError("notFound", `no message uid=${uid} in ${this.dir}`);
    if (opts.unchecked === true) return join(this.dir, "cur", m.file);
    return currentPath(this.dir, m.base, m.file);
  }

  /**
   * messagePath(uid, { unchecked: true }) without the promise: the name the snapshot knows,
   * no stat; undefined for a UID not in the snapshot.
   */
  snapshotPath(uid: number): string | undefined {
    const m = this.byUid(uid);
    return m === undefined ? undefined : join(this.dir, "cur", m.file);
  }

  /**
   * Call `onChange` (debounced) when new/ or cur/ change: IDLE. Falls back to polling every
   * `pollMs` where fs.watch is unavailable. Returns the function that stops watching.
   */
  watch(onChange: () => void, pollMs = 5000): () => void {
    let timer: NodeJS.Timeout | undefined;
    const fire = () => {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        onChange();
      }, 50);
    };
    try {
      const watchers = ["new", "cur"].map((sub) => watch(join(this.dir, sub), { persistent: false }, fire));
      return () => {
        for (const w of watchers) w.close();
        if (timer !== undefined) clearTimeout(timer);
      };
    } catch {
      const poll = setInterval(onChange, pollMs);
      poll.unref();
      return () => clearInterval(poll);
    }
  }

  private assertWritable(): void {
    if (this.readOnly) throw new MailError("perm", `${this.dir} is open read-only`);
  }
}
