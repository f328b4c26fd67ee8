/*
 * uidlist-log — the folder index on disk as a base file plus an append-only change log, so
 * that a flag change in a 100,000-message folder appends one line instead of rewriting
 * megabytes, and another process catches up by reading only the lines it has not seen
 * (Dovecot's dovecot.index + dovecot.index.log idea, in our text format):
 *
 *   postern-uidlist      the base (uidlist.ts format), its header carrying G<generation>
 *   postern-uidlist.log  "G<generation>" then change lines, each ending in LF:
 *                          "H <header>"   the whole header as formatUidlist writes it
 *                          "+<record>"    a record, added or replaced (by UID)
 *                          "-<uid>"       a record removed
 *
 * Every line is idempotent, so replaying a line twice is harmless. A log whose generation is
 * not the base's is stale (a crash between writing a new base and resetting the log) and is
 * ignored. A torn last line (a crash mid-append) is ignored and cut off before the next
 * append. When the log outgrows a quarter of the base (and 64 KiB) the base is rewritten
 * with the next generation (temp + rename) and the log restarted. Callers hold the folder
 * lock (sync.ts), so there is one writer at a time.
 * Talks to: the folder directory. Security: our own files; damaged input degrades to a
 * rescan, never to trusting a bad line (lines are parsed by uidlist.ts's strict rules).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { open, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dirsUnchanged, stampsTrusted } from "./dir-stamps.js";
import { errnoCode } from "./errors.js";
import { type StoreFs, statQuick } from "./store-fs.js";
import {
  formatHeader,
  formatRecord,
  formatUidlistChunks,
  parseHeaderLine,
  parseRecordLine,
  parseUidlist,
  UIDLIST_NAME,
  type Uidlist,
  type UidRecord,
} from "./uidlist.js";

export const UIDLIST_LOG_NAME = `${UIDLIST_NAME}.log`;
const LOG_MIN_COMPACT = 64 * 1024;

/** What this process knows of a folder's index files. */
export interface IndexState {
  readonly list: Uidlist;
  /** Identity of the base file ("ino:size:mtime"). */
  readonly baseKey: string;
  readonly baseBytes: number;
  /** Inode of the log and the offset just after its last complete line read. */
  readonly logIno: string;
  readonly logOffset: number;
}

const states = new Map<string, IndexState>();

async function statOrUndefined(fs: StoreFs, path: string) {
  return statQuick(fs, path).catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  });
}

/** Apply complete log lines to a list; returns the list and the bytes consumed. */
function applyLog(list: Uidlist, text: string): { list: Uidlist; used: number } {
  const end = text.lastIndexOf("\n") + 1;
  if (end === 0) return { list, used: 0 };
  let head: Omit<Uidlist, "records"> = list;
  const byUid = new Map<number, UidRecord | null>();
  for (const line of text.slice(0, end).split("\n")) {
    if (line.startsWith("H "))
      head = parseHeaderLine(line.slice(2)) ?? head; // a whole header: fields it lacks are gone
    else if (line.startsWith("+")) {
      const r = parseRecordLine(line.slice(1));
      if (r !== undefined) byUid.set(r.uid, r);
    } else if (line.startsWith("-") && /^-\d{1,10}$/.test(line)) byUid.set(Number(line.slice(1)), null);
  }
  if (byUid.size === 0) return { list: { ...head, records: list.records }, used: end };
  const records: UidRecord[] = [];
  for (const r of list.records) {
    const change = byUid.get(r.uid);
    if (change === undefined) records.push(r);
    else if (change !== null) records.push(change);
    byUid.delete(r.uid);
  }
  const added = [...byUid.values()].filter((r): r is UidRecord => r !== null);
  added.sort((a, b) => a.uid - b.uid);
  for (const r of added) if (r.uid > (records[records.length - 1]?.uid ?? 0)) records.push(r);
  const last = records[records.length - 1]?.uid ?? 0;
  return { list: { ...head, nextUid: Math.max(head.nextUid, last + 1), records }, used: end };
}

/**
 * The index as it is on disk now, reading only what changed since this process last
 * looked; undefined when there is no usable base (the caller rebuilds).
 */
export async function loadIndexState(dir: string, fs: StoreFs): Promise<IndexState | undefined> {
  const baseSt = await statOrUndefined(fs, join(dir, UIDLIST_NAME));
  if (baseSt === undefined) {
    states.delete(dir);
    return undefined;
  }
  const baseKey = `${baseSt.ino}:${baseSt.size}:${baseSt.mtimeNs}`;
  const logSt = await statOrUndefined(fs, join(dir, UIDLIST_LOG_NAME));
  const logIno = logSt === undefined ? "" : String(logSt.ino);
  const logSize = logSt === undefined ? 0 : Number(logSt.size);
  const known = states.get(dir);
  if (known !== undefined && known.baseKey === baseKey && known.logIno === logIno) {
    if (known.logOffset === logSize) return known;
    if (known.logOffset < logSize) return remember(dir, readTail(dir, known, logSize));
  }
  const base = parseUidlist(await readFile(join(dir, UIDLIST_NAME), "utf8").catch(() => ""));
  if (base === undefined) {
    states.delete(dir);
    return undefined;
  }
  let state: IndexState = { list: base, baseKey, baseBytes: Number(baseSt.size), logIno, logOffset: 0 };
  if (logSt !== undefined) {
    const text = await readFile(join(dir, UIDLIST_LOG_NAME), "latin1").catch(() => "");
    const nl = text.indexOf("\n");
    const generation = /^G(\d{1,15})$/.exec(text.slice(0, nl))?.[1];
    if (nl > 0 && generation !== undefined && Number(generation) === (base.generation ?? 0)) {
      const tail = Buffer.from(text.slice(nl + 1), "latin1").toString("utf8");
      const applied = applyLog(base, tail);
      state = {
        ...state,
        list: applied.list,
        logOffset: nl + 1 + Buffer.byteLength(tail.slice(0, applied.used), "utf8"),
      };
    } else {
      state = { ...state, logOffset: -1 }; // stale or damaged: restart the log at the next write
    }
  }
  return remember(dir, state);
}

/** The lines another writer appended since (a few lines per command: blocking calls). */
function readTail(dir: string, known: IndexState, size: number): IndexState {
  const fd = openSync(join(dir, UIDLIST_LOG_NAME), "r");
  try {
    const buf = Buffer.alloc(size - known.logOffset);
    const bytesRead = readSync(fd, buf, 0, buf.length, known.logOffset);
    const text = buf.subarray(0, bytesRead).toString("utf8");
    const applied = applyLog(known.list, text);
    const used = Buffer.byteLength(text.slice(0, applied.used), "utf8");
    return { ...known, list: applied.list, logOffset: known.logOffset + used };
  } finally {
    closeSync(fd);
  }
}

function remember(dir: string, state: IndexState): IndexState {
  states.set(dir, state);
  return state;
}

/** The log lines that turn `old` into `next` (both sorted by UID; unchanged records are shared). */
function delta(old: Uidlist, next: Uidlist): string[] {
  const lines: string[] = [];
  if (formatHeader(old) !== formatHeader(next)) lines.push(`H ${formatHeader(next)}`);
  let i = 0;
  let j = 0;
  const a = old.records;
  const b = next.records;
  while (i < a.length || j < b.length) {
    const x = a[i];
    const y = b[j];
    if (y === undefined || (x !== undefined && x.uid < y.uid)) {
      lines.push(`-${x?.uid}`);
      i++;
    } else if (x === undefined || y.uid < x.uid) {
      lines.push(`+${formatRecord(y)}`);
      j++;
    } else {
      if (x !== y && formatRecord(x) !== formatRecord(y)) lines.push(`+${formatRecord(y)}`);
      i++;
      j++;
    }
  }
  return lines;
}

/** Write `next`; the caller holds the folder lock and loaded the index under it. */
export async function saveIndex(dir: string, fs: StoreFs, changed: Uidlist): Promise<void> {
  const state = states.get(dir);
  // Callers build new lists from old ones; the generation is this module's business.
  const generation = Math.max(state?.list.generation ?? 0, changed.generation ?? 0);
  const next: Uidlist = { ...changed, generation };
  const lines = state === undefined || state.logOffset < 0 ? null : delta(state.list, next);
  if (lines !== null && lines.length === 0) return;
  const body = lines === null ? "" : `${lines.join("\n")}\n`;
  const logBytes = (state?.logOffset ?? 0) + Buffer.byteLength(body);
  if (state === undefined || lines === null || (logBytes > LOG_MIN_COMPACT && logBytes > state.baseBytes / 4))
    return rewrite(dir, fs, next);
  const path = join(dir, UIDLIST_LOG_NAME);
  // A few lines appended to our own file: blocking calls, cheaper than thread-pool trips
  const fd = openSync(path, state.logIno === "" ? "w" : "r+", 0o600);
  try {
    if (state.logIno === "") writeSync(fd, `G${next.generation ?? 0}\n${body}`);
    else {
      ftruncateSync(fd, state.logOffset); // a torn line from a crash must not swallow ours
      writeSync(fd, body, state.logOffset);
    }
    const st = fstatSync(fd, { bigint: true });
    remember(dir, { ...state, list: next, logIno: String(st.ino), logOffset: Number(st.size) });
  } finally {
    closeSync(fd);
  }
}

/** A new base with the next generation, then an empty log of that generation. */
async function rewrite(dir: string, fs: StoreFs, next: Uidlist): Promise<void> {
  const generation = (next.generation ?? 0) + 1;
  const list: Uidlist = { ...next, generation };
  const tmp = join(dir, `${UIDLIST_NAME}.tmp`);
  const out = await open(tmp, "w", 0o600);
  try {
    for (const chunk of formatUidlistChunks(list)) await out.writeFile(chunk);
  } finally {
    await out.close();
  }
  await rename(tmp, join(dir, UIDLIST_NAME));
  const logTmp = join(dir, `${UIDLIST_LOG_NAME}.tmp`);
  await writeFile(logTmp, `G${generation}\n`, { mode: 0o600 });
  await rename(logTmp, join(dir, UIDLIST_LOG_NAME));
  const baseSt = await fs.stat(join(dir, UIDLIST_NAME));
  const logSt = await stat(join(dir, UIDLIST_LOG_NAME), { bigint: true });
  remember(dir, {
    list,
    baseKey: `${baseSt.ino}:${baseSt.size}:${baseSt.mtimeNs}`,
    baseBytes: Number(baseSt.size),
    logIno: String(logSt.ino),
    logOffset: Number(logSt.size),
  });
}

/**
 * The index this process last saw, if the files on disk prove nothing changed since: the
 * base and the log are the same files at the same sizes and new/ and cur/ still have the
 * mtimes the index records, which dir-stamps.ts trusts. Blocking stats, no lock: a NOOP or IDLE check on a quiet
 * folder costs four stat calls. Anything else (or any doubt) is undefined: take the lock.
 */
export function peekUnchanged(dir: string): Uidlist | undefined {
  const known = states.get(dir);
  if (known === undefined || !stampsTrusted(known.list, Date.now())) return undefined;
  const paths = peekPaths(dir);
  try {
    const base = statSync(paths.base, { bigint: true });
    if (`${base.ino}:${base.size}:${base.mtimeNs}` !== known.baseKey) return undefined;
    const log = statSync(paths.log, { bigint: true, throwIfNoEntry: false });
    if ((log === undefined ? "" : String(log.ino)) !== known.logIno) return undefined;
    if ((log === undefined ? 0 : Number(log.size)) !== known.logOffset) return undefined;
    const cur = statSync(paths.cur, { bigint: true }).mtimeNs;
    const fresh = statSync(paths.fresh, { bigint: true }).mtimeNs;
    if (!dirsUnchanged(known.list, cur, fresh, Date.now())) return undefined;
  } catch {
    return undefined;
  }
  return known.list;
}

interface PeekPaths {
  readonly base: string;
  readonly log: string;
  readonly cur: string;
  readonly fresh: string;
}

/** The four paths peekUnchanged stats, by folder (joined once, not per command). */
const peekPathsByDir = new Map<string, PeekPaths>();

function peekPaths(dir: string): PeekPaths {
  let paths = peekPathsByDir.get(dir);
  if (paths === undefined) {
    paths = {
      base: join(dir, UIDLIST_NAME),
      log: join(dir, UIDLIST_LOG_NAME),
      cur: join(dir, "cur"),
      fresh: join(dir, "new"),
    };
    if (peekPathsByDir.size >= 1024) peekPathsByDir.clear();
    peekPathsByDir.set(dir, paths);
  }
  return paths;
}

/** Forget what this process knows of a folder (deleted or renamed). */
export function forgetIndexState(dir: string): void {
  states.delete(dir);
}
