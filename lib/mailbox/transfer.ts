/*
 * transfer — messages into and between folders: APPEND, COPY, MOVE (RFC 3501, RFC 4315
 * UIDPLUS: the UIDs they create, RFC 6851 MOVE) and STATUS counts (RFC 3501, RFC 7162
 * HIGHESTMODSEQ, RFC 8438 SIZE).
 *
 * APPEND writes tmp/<unique> (O_EXCL, fsynced; an in-memory literal with blocking calls but
 * the fsync), sets its mtime to the INTERNALDATE, and under the destination's folder lock,
 * after the sync, renames it to cur/<unique>,S=<size>,W=<crlf size>:2,<flags> and records it
 * in the index itself (next UID, credited to cur/'s mtime), so no reader ever sees half a
 * message and no sync reads cur/ to find it.
 * COPY hard-links each source file into the destination's cur/ under a new unique name (the
 * mtime, hence INTERNALDATE, comes along), copying only across file systems, under the
 * destination's lock after its sync, and records the new entries in the index itself as
 * APPEND does. UIDs are given in ascending source UID order, so COPYUID's two sets line up.
 * Talks to: folder directories. Security: runs as the mailbox owner; names are generated here.
 */
import { closeSync, constants, fsync, futimesSync, openSync, renameSync, writeSync } from "node:fs";
import { copyFile, link, open, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { errnoCode, MailError } from "./errors.js";
import { addKeywords, formatInfo } from "./flags.js";
import type { FolderSession } from "./folder.js";
import { ensureMaildir } from "./maildir.js";
import { type SyncOptions, sizeInName, syncIndex, withSyncedIndex } from "./sync.js";
import type { UidRecord } from "./uidlist.js";

export interface AppendOptions extends SyncOptions {
  readonly flags?: readonly string[];
  readonly internalDate?: Date;
}

export interface StatusCounts {
  readonly messages: number;
  readonly recent: number;
  readonly uidNext: number;
  readonly uidValidity: number;
  readonly unseen: number;
  readonly highestModseq: number;
  /** Sum of RFC822.SIZE (CRLF octets). */
  readonly size: number;
}

let uniqueCounter = 0;

/** A new Maildir base name, Dovecot's `<secs>.M<usecs>P<pid>Q<n>.<host>`. */
export function uniqueBaseName(): string {
  const nowUs = BigInt(Date.now()) * 1000n + ((process.hrtime.bigint() / 1000n) % 1000n);
  const host = hostname().replace(/\//g, "\\057").replace(/:/g, "\\072");
  return `${nowUs / 1_000_000n}.M${nowUs % 1_000_000n}P${process.pid}Q${++uniqueCounter}.${host}`;
}

const TMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Counts the LFs without a CR before them (each becomes CRLF on the wire). */
function bareLfs(buf: Buffer, prev: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, i + 1))
    if ((i > 0 ? buf[i - 1] : prev) !== 0x0d) n++;
  return n;
}

/**
 * A message held in memory (an APPEND literal) written with blocking calls: open, write, set
 * the mtime, close, with only the fsync (which may wait for the disk) on the thread pool —
 * one round trip instead of seven. The Maildir's tmp/ is created when it is missing.
 */
async function writeTmpHeld(dir: string, path: string, body: Uint8Array, when: Date): Promise<number> {
  let fd: number;
  try {
    fd = openSync(path, TMP_FLAGS, 0o600);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
    await ensureMaildir(dir);
    fd = openSync(path, TMP_FLAGS, 0o600);
  }
  try {
    const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at);
    futimesSync(fd, when, when);
    await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
    return buf.length + bareLfs(buf, -1);
  } finally {
    closeSync(fd);
  }
}

async function writeTmp(
  path: string,
  body: AsyncIterable<Uint8Array>,
  when: Date,
): Promise<{ size: number; crlf: number }> {
  const fh = await open(path, TMP_FLAGS, 0o600);
  let size = 0;
  let crlf = 0;
  let prev = -1;
  try {
    for await (const chunk of body) {
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      crlf += bareLfs(buf, prev);
      prev = buf[buf.length - 1] ?? prev;
      size += buf.length;
      await fh.write(buf);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  await utimes(path, when, when);
  return { size, crlf: size + crlf };
}

/** APPEND: store a message (bytes as the client sent them) and return its UID. */
export async function appendMessage(
  dir: string,
  body: AsyncIterable<Uint8Array> | Uint8Array,
  opts: AppendOptions = {},
): Promise<{ uid: number; uidValidity: number }> {
  const unique = uniqueBaseName();
  const tmp = join(dir, "tmp", unique);
  const when = opts.internalDate ?? new Date();
  let written: { size: number; crlf: number };
  try {
    if (body instanceof Uint8Array) {
      written = { size: body.byteLength, crlf: await writeTmpHeld(dir, tmp, body, when) };
    } else {
      await ensureMaildir(dir);
      written = await writeTmp(tmp, body, when);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new MailError(errnoCode(err) === "ENOSPC" ? "noQuota" : "temp", `append to ${dir}: ${String(err)}`);
  }
  const base = `${unique},S=${written.size},W=${written.crlf}`;
  const flags = opts.flags ?? [];
  // Renamed into cur/ after the sync and recorded by us: the index is written with cur/'s
  // new mtime (curChangesRecorded), so neither this nor the next sync reads cur/ for it.
  return withSyncedIndex(dir, opts, async (list) => {
    const info = formatInfo(flags, await addKeywords(dir, flags));
    await moveIntoCur(dir, tmp, `${base}:${info}`);
    const modseq = (list.highestModseq ?? 1) + 1;
    const record: UidRecord = {
      uid: list.nextUid,
      base,
      crlfSize: written.crlf,
      size: written.size,
      internalDate: Math.floor(when.getTime() / 1000),
      modseq,
      info,
    };
    return {
      list: { ...list, records: [...list.records, record], nextUid: list.nextUid + 1, highestModseq: modseq },
      result: { uid: record.uid, uidValidity: list.uidValidity },
      curChangesRecorded: true,
    };
  }).catch(async (err: unknown) => {
    await unlink(tmp).catch(() => undefined);
    throw err;
  });
}

/** tmp/ → cur/ with a blocking rename; creates cur/ when the Maildir lacks it. */
async function moveIntoCur(dir: string, tmp: string, name: string): Promise<void> {
  const to = join(dir, "cur", name);
  try {
    renameSync(tmp, to);
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
    await ensureMaildir(dir);
    renameSync(tmp, to);
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (err) {
    const code = errnoCode(err);
    if (code !== "EXDEV" && code !== "EPERM" && code !== "ENOTSUP") throw err;
    await copyFile(from, to, constants.COPYFILE_EXCL);
  }
}

export interface CopyResult {
  readonly uidValidity: number;
  /** Source UID → destination UID, in request order (COPYUID). */
  readonly map: ReadonlyArray<{ readonly from: number; readonly to: number }>;
}

/**
 * COPY: the messages with these UIDs of `source` into the folder at `destDir`. Linked into
 * cur/ under the folder lock after the sync and recorded in the index by us (sizes, date and
 * flags from the source's records, credited to cur/'s mtime, as APPEND does), so that no
 * sync lists cur/ to find them.
 */
export async function copyMessages(
  source: FolderSession,
  uids: Iterable<number>,
  destDir: string,
  opts: SyncOptions = {},
): Promise<CopyResult> {
  await ensureMaildir(destDir);
  const wanted = [...new Set(uids)].sort((a, b) => a - b).filter((u) => source.byUid(u) !== undefined);
  return withSyncedIndex(destDir, opts, async (list) => {
    const all = wanted.flatMap((u) => source.byUid(u)?.flags ?? []);
    const keywords = await addKeywords(destDir, all);
    let highest = list.highestModseq ?? 1;
    let nextUid = list.nextUid;
    const added: UidRecord[] = [];
    const map: { from: number; to: number }[] = [];
    for (const uid of wanted) {
      const m = source.byUid(uid);
      if (m === undefined) continue;
      const size = sizeInName(m.base, "S") ?? m.size;
      const crlfSize = sizeInName(m.base, "W") ?? m.crlfSize;
      const base = `${uniqueBaseName()},S=${size},W=${crlfSize}`;
      const from = await source.messagePath(uid).catch(() => undefined);
      if (from === undefined) continue; // expunged meanwhile: RFC 3501 lets COPY skip it
      const info = formatInfo(m.flags, keywords);
      await linkOrCopy(from, join(destDir, "cur", `${base}:${info}`));
      const internalDate = Math.floor(m.internalDate.getTime() / 1000);
      added.push({
        uid: nextUid,
        base,
        crlfSize: m.crlfSize,
        size: m.size,
        internalDate,
        modseq: ++highest,
        info,
      });
      map.push({ from: uid, to: nextUid++ });
    }
    const result = { uidValidity: list.uidValidity, map };
    if (added.length === 0) return { result };
    return {
      list: { ...list, records: [...list.records, ...added], nextUid, highestModseq: highest },
      result,
      curChangesRecorded: true,
    };
  });
}

/** MOVE: copy, then expunge the originals (whatever their flags). */
export async function moveMessages(
  source: FolderSession,
  uids: Iterable<number>,
  destDir: string,
  opts: SyncOptions = {},
): Promise<CopyResult> {
  const result = await copyMessages(source, uids, destDir, opts);
  await source.expunge({ uids: result.map.map((p) => p.from), all: true });
  return result;
}

/** STATUS counts, from the index (claims no \Recent). */
export async function folderStatus(dir: string, opts: SyncOptions = {}): Promise<StatusCounts> {
  const list = await syncIndex(dir, opts);
  const firstRecent = list.firstRecentUid ?? 1;
  let unseen = 0;
  let recent = 0;
  let size = 0;
  for (const r of list.records) {
    if (!/^2,[^:]*S/.test(r.info ?? "")) unseen++;
    if (r.uid >= firstRecent) recent++;
    size += r.crlfSize ?? r.size ?? 0;
  }
  return {
    messages: list.records.length,
    recent,
    uidNext: list.nextUid,
    uidValidity: list.uidValidity,
    unseen,
    highestModseq: list.highestModseq ?? 1,
    size,
  };
}
