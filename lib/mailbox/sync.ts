/*
 * sync — keeps a folder's index (the uidlist, see uidlist.ts) in step with its Maildir
 * directories, for POP3 and IMAP alike. Under the short folder lock (locks.ts) it:
 *   1. loads the index, reusing this process's parsed copy when the base file is unchanged
 *      and reading only the log lines added since (a SELECT of a big folder costs two
 *      stats, not a parse);
 *   2. stats new/ and cur/; when both mtimes equal those the index records, nothing
 *      changed and no directory is read (dir-stamps.ts: Dovecot's rule, a recent mtime may
 *      hide a change made in the same clock tick, so such a state is rescanned once the
 *      scan is a second old);
 *   3. otherwise moves new/ to cur/, lists cur/, drops records whose file is gone
 *      (expunged by POP3, mutt, another IMAP process), records changed info parts (flags
 *      set by other programs) with a new modseq, and gives new base names the next UIDs,
 *      stat()ing only those files;
 *   4. lets the caller change the index (flags, expunge) and saves the difference as lines
 *      appended to the index's change log (uidlist-log.ts), rewriting the base file
 *      (temp + rename) only now and then; a damaged base is rebuilt from the directories
 *      with a new UIDVALIDITY. Renames and unlinks the caller made in cur/ and recorded
 *      in the index are credited: the index takes cur/'s new mtime, so other sessions and
 *      processes catch up from the log instead of reading the directory.
 * Talks to: the folder's directories, through StoreFs for readdir/stat.
 * Security: runs as the mailbox owner; directory entries are used as single path
 * components only.
 */
import { createReadStream } from "node:fs";
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { compareArrival } from "./arrival.js";
import { dirsUnchanged, stampsDirty, stampsTrusted } from "./dir-stamps.js";
import { errnoCode, MailError } from "./errors.js";
import { withFileLock } from "./locks.js";
import { nodeStoreFs, type StoreFs, statQuick } from "./store-fs.js";
import {
  internInfo,
  newUidValidity,
  ownString,
  UIDLIST_NAME,
  type Uidlist,
  type UidRecord,
} from "./uidlist.js";
import { forgetIndexState, loadIndexState, saveIndex } from "./uidlist-log.js";

export interface SyncOptions {
  readonly fs?: StoreFs;
  /** How long to wait for the folder lock (default 10 s). */
  readonly lockTimeoutMs?: number;
}

interface Ctx {
  readonly dir: string;
  readonly fs: StoreFs;
}

/** The base name of a Maildir file: everything before the ":" info part. */
export function maildirBase(file: string): string {
  const colon = file.indexOf(":");
  return colon < 0 ? file : file.slice(0, colon);
}

/** The info part of a Maildir file name ("2,FS"), or "" without one. */
export function maildirInfo(file: string): string {
  const colon = file.indexOf(":");
  return colon < 0 ? "" : file.slice(colon + 1);
}

/** A size a writer recorded in the name (",S=<n>" LF form, ",W=<n>" CRLF form), if any. */
export function sizeInName(base: string, letter: "S" | "W"): number | undefined {
  const m = new RegExp(`,${letter}=(\\d{1,15})(?:,|$)`).exec(base);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

function visible(name: string): boolean {
  return !name.startsWith(".");
}

async function loadIndex(ctx: Ctx): Promise<Uidlist> {
  const state = await loadIndexState(ctx.dir, ctx.fs);
  return (
    state?.list ?? {
      uidValidity: newUidValidity(),
      nextUid: 1,
      records: [],
      highestModseq: 1,
      firstRecentUid: 1,
    }
  );
}

function writeIndex(ctx: Ctx, list: Uidlist): Promise<void> {
  return saveIndex(ctx.dir, ctx.fs, list);
}

async function moveNew(ctx: Ctx): Promise<void> {
  for (const name of (await ctx.fs.readdir(join(ctx.dir, "new"))).filter(visible)) {
    const target = name.includes(":") ? name : `${name}:2,`;
    await rename(join(ctx.dir, "new", name), join(ctx.dir, "cur", target)).catch((e: unknown) => {
      if (errnoCode(e) !== "ENOENT") throw e;
    });
  }
}

async function newRecord(
  ctx: Ctx,
  uid: number,
  file: string,
  modseq: number,
): Promise<UidRecord | undefined> {
  const base = ownString(maildirBase(file));
  const path = join(ctx.dir, "cur", file);
  const st = await ctx.fs.stat(path).catch(() => undefined);
  if (st === undefined) return undefined; // gone between readdir and stat: never existed for us
  const size = Number(st.size);
  const crlfSize = sizeInName(base, "W") ?? (await crlfSizeOfFile(path).catch(() => size));
  const internalDate = Number(st.mtimeNs / 1_000_000_000n);
  return { uid, base, crlfSize, size, internalDate, modseq, info: internInfo(maildirInfo(file)) };
}

/** Merge the listing of cur/ into the index: see the header, step 3. */
async function merge(ctx: Ctx, old: Uidlist, files: Map<string, string>): Promise<Uidlist> {
  let highest = old.highestModseq ?? 1;
  const records: UidRecord[] = [];
  let dropped = 0;
  for (const r of old.records) {
    const file = files.get(r.base);
    if (file === undefined) {
      dropped++;
      continue;
    }
    files.delete(r.base);
    const info = maildirInfo(file);
    records.push(r.info === info ? r : { ...r, info: internInfo(info), modseq: ++highest });
  }
  if (dropped > 0) highest++;
  let nextUid = old.nextUid;
  for (const base of [...files.keys()].sort(compareArrival)) {
    const rec = await newRecord(ctx, nextUid, files.get(base) ?? base, highest + 1);
    if (rec === undefined) continue;
    records.push(rec);
    nextUid++;
    highest++;
  }
  return { ...old, records, nextUid, highestModseq: highest, firstRecentUid: old.firstRecentUid ?? 1 };
}

async function scan(ctx: Ctx, old: Uidlist): Promise<Uidlist> {
  await moveNew(ctx);
  const scanAt = Date.now();
  const [curSt, newSt] = [await ctx.fs.stat(join(ctx.dir, "cur")), await ctx.fs.stat(join(ctx.dir, "new"))];
  const files = new Map<string, string>();
  for (const f of await ctx.fs.readdir(join(ctx.dir, "cur"))) if (visible(f)) files.set(maildirBase(f), f);
  const merged = await merge(ctx, old, files);
  return { ...merged, curMtime: String(curSt.mtimeNs), newMtime: String(newSt.mtimeNs), scanAt };
}

async function upToDate(ctx: Ctx, list: Uidlist): Promise<boolean> {
  if (!stampsTrusted(list, Date.now())) return false;
  const curSt = await statQuick(ctx.fs, join(ctx.dir, "cur"));
  const newSt = await statQuick(ctx.fs, join(ctx.dir, "new"));
  return dirsUnchanged(list, curSt.mtimeNs, newSt.mtimeNs, Date.now());
}

/** The index brought up to date (caller holds the lock). */
async function syncLocked(ctx: Ctx): Promise<Uidlist> {
  const old = await loadIndex(ctx);
  if (await upToDate(ctx, old)) return old;
  const list = await scan(ctx, old);
  await writeIndex(ctx, list);
  return list;
}

/**
 * `next` with cur/'s mtime after renames and unlinks in cur/ that `next` already records, so
 * that no process rescans for them; `synced` proved the directories matched the index just
 * before (at `changeAt`). Such a state is dirty (dir-stamps.ts), so a change another program
 * made while we renamed is found by a rescan within MAILDIR_SYNC_MS of the scan, or of
 * `changeAt` when the state was clean (exactly the directories) until then.
 */
async function creditCurChanges(
  ctx: Ctx,
  synced: Uidlist,
  next: Uidlist,
  changeAt: number,
): Promise<Uidlist> {
  if (!stampsTrusted(synced, changeAt) || next.curMtime !== synced.curMtime) return next;
  const curMtime = String((await statQuick(ctx.fs, join(ctx.dir, "cur"))).mtimeNs);
  if (curMtime === synced.curMtime) return next; // nothing was renamed after all
  const scanAt = stampsDirty(synced) ? (synced.scanAt ?? changeAt) : changeAt;
  return { ...next, curMtime, scanAt };
}

/** What a change under the folder lock returns (see withSyncedIndex). */
export interface IndexChange<T> {
  /** The new index to write, or undefined to keep it. */
  readonly list?: Uidlist;
  readonly result: T;
  /**
   * The change renamed or removed files in cur/ only, and `list` records every one of them:
   * the index is written with cur/'s new mtime instead of leaving the next sync a rescan.
   */
  readonly curChangesRecorded?: boolean;
}

/**
 * Take the folder lock, sync, and let `change` return a new index to write (or undefined
 * to keep it) along with its result.
 */
export async function withSyncedIndex<T>(
  dir: string,
  opts: SyncOptions,
  change: (list: Uidlist) => Promise<IndexChange<T>>,
): Promise<T> {
  const ctx: Ctx = { dir, fs: opts.fs ?? nodeStoreFs };
  return withFileLock(join(dir, `${UIDLIST_NAME}.lock`), opts.lockTimeoutMs ?? 10_000, async () => {
    const list = await syncLocked(ctx);
    const changeAt = Date.now();
    const out = await change(list);
    if (out.list !== undefined && out.list !== list) {
      const recorded = out.curChangesRecorded === true;
      const next = recorded ? await creditCurChanges(ctx, list, out.list, changeAt) : out.list;
      await writeIndex(ctx, next);
    }
    return out.result;
  }).catch((err: unknown) => {
    if (err instanceof MailError) throw err;
    throw new MailError(errnoCode(err) === "EACCES" ? "perm" : "temp", `sync ${dir}: ${String(err)}`);
  });
}

/** Sync and return the index. */
export function syncIndex(dir: string, opts: SyncOptions = {}): Promise<Uidlist> {
  return withSyncedIndex(dir, opts, async (list) => ({ result: list }));
}

/** Forget this process's parsed copy of an index (after the folder was deleted or renamed). */
export function forgetIndex(dir: string): void {
  forgetIndexState(dir);
}

/** Octets of the file in CRLF form: its size plus one for every LF without a CR before it. */
export async function crlfSizeOfFile(path: string): Promise<number> {
  let size = 0;
  let prev = -1;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      const before = i > 0 ? chunk[i - 1] : prev;
      if (before !== 0x0d) size++;
    }
    prev = chunk[chunk.length - 1] ?? prev;
  }
  return size;
}
