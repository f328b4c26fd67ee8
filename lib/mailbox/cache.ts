/*
 * cache — per-folder cache of strings the IMAP layer computes once per message (ENVELOPE,
 * BODYSTRUCTURE): the file "postern-cache", append-only lines
 * "<uidvalidity> <uid> <key> <JSON string>", loaded on first use. Appending means a crash
 * can at worst leave a torn last line, which is skipped; entries of another UIDVALIDITY or
 * of expunged UIDs are ignored (a cache miss only costs a re-parse). The sessions of one
 * process share what they have read, and a SELECT reads only the lines added since.
 * Talks to: the folder directory. Security: values are our own JSON; keys are [A-Za-z0-9.]+.
 */
import { appendFileSync, closeSync, openSync, readSync, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";

export const CACHE_FILE = "postern-cache";

/** What this process has read of one folder's cache file. */
interface SharedEntries {
  readonly uidValidity: number;
  readonly entries: Entries;
  /** Inode of the file and the offset just after the last complete line read. */
  ino: number;
  offset: number;
}

/** Values are kept in slabs of this size (one bigger than that gets a slab of its own). */
const SLAB = 1 << 20;
/** A value's place: slab × SLAB + offset, a small integer (up to 1,023 slabs: 1 GiB). */
const MAX_SLABS = 1023;

/**
 * The values by key, then by UID. The values (JSON text, some 150 bytes for an envelope)
 * are kept as UTF-8 in slabs off the V8 heap, each behind its 4-byte length, and found by a
 * small integer: 100,000 envelopes cost the heap two numbers in a map each, not a string
 * apiece for the garbage collector to walk and make room for. The UIDs are numbers, so an
 * entry costs no "<uid> <key>" string either and a lookup hashes nothing.
 */
class Entries {
  private readonly byKey = new Map<string, Map<number, number>>();
  private readonly slabs: Buffer[] = [];
  private used = SLAB;

  get(uid: number, key: string): string | undefined {
    const at = this.byKey.get(key)?.get(uid);
    if (at === undefined) return undefined;
    const slab = this.slabs[Math.floor(at / SLAB)] as Buffer;
    const offset = at % SLAB;
    return slab.toString("utf8", offset + 4, offset + 4 + slab.readUInt32LE(offset));
  }

  set(uid: number, key: string, value: string): void {
    const length = Buffer.byteLength(value, "utf8");
    if (this.slabs.length >= MAX_SLABS) return; // 1 GiB of cache: the rest is recomputed
    if (this.used + 4 + length > SLAB) {
      this.slabs.push(Buffer.allocUnsafeSlow(Math.max(SLAB, 4 + length)));
      this.used = 0;
    }
    const index = this.slabs.length - 1;
    const slab = this.slabs[index] as Buffer;
    slab.writeUInt32LE(length, this.used);
    slab.write(value, this.used + 4, length, "utf8");
    let byUid = this.byKey.get(key);
    if (byUid === undefined) {
      byUid = new Map();
      this.byKey.set(key, byUid);
    }
    byUid.set(uid, index * SLAB + this.used);
    // a value bigger than a slab fills its own
    this.used = length + 4 > SLAB ? SLAB : this.used + 4 + length;
  }
}

/** By folder: every session of the process shares one map and reads each line once. */
const shared = new Map<string, SharedEntries>();

function parseLines(text: string, uidValidity: number, into: Entries): void {
  for (const line of text.split("\n")) {
    const m = /^(\d+) (\d+) ([A-Za-z0-9.]+) (".*")$/.exec(line);
    if (m === null || Number(m[1]) !== uidValidity) continue;
    try {
      const value: unknown = JSON.parse(m[4] ?? "");
      if (typeof value === "string") into.set(Number(m[2]), m[3] ?? "", value);
    } catch {
      // a torn line from a crash: skip it
    }
  }
}

/** A tail this small is read with blocking calls (the usual catch-up after a few FETCHes). */
const SMALL_TAIL = 64 * 1024;
/** A bigger tail (a process's first look at a big folder's cache) is read this much at a time. */
const TAIL_CHUNK = 1 << 20;

/**
 * Hands the complete lines appended since `from` to `take`, a chunk at a time, so reading a
 * 20 MB cache costs a 1 MiB buffer and its text, not the whole file twice; returns the
 * bytes consumed (up to the end of the last complete line).
 */
async function readTail(
  path: string,
  from: number,
  size: number,
  take: (text: string) => void,
): Promise<number> {
  if (size - from <= SMALL_TAIL) {
    const fd = openSync(path, "r");
    try {
      const buf = Buffer.allocUnsafe(size - from);
      const end = buf.subarray(0, readSync(fd, buf, 0, buf.length, from)).lastIndexOf(0x0a) + 1;
      if (end > 0) take(buf.toString("utf8", 0, end));
      return end;
    } finally {
      closeSync(fd);
    }
  }
  const fh = await open(path, "r");
  try {
    let buf = Buffer.allocUnsafe(Math.min(TAIL_CHUNK, size - from));
    let held = 0; // bytes of an unfinished line carried to the front of buf
    let at = from; // file offset of buf[held]
    let consumed = 0;
    while (at < size) {
      if (held === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2); // a line longer than the chunk
        buf.copy(bigger, 0, 0, held);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, held, Math.min(buf.length - held, size - at), at);
      if (bytesRead === 0) break;
      at += bytesRead;
      const have = held + bytesRead;
      const end = buf.subarray(0, have).lastIndexOf(0x0a) + 1;
      if (end > 0) {
        take(buf.toString("utf8", 0, end));
        consumed += end;
      }
      held = have - end;
      buf.copy(buf, 0, end, have);
    }
    return consumed;
  } finally {
    await fh.close();
  }
}

/** Pending lines are appended once they hold this many characters, without waiting for a turn. */
const FLUSH_CHARS = 64 * 1024;

export class FolderCache {
  private entries: Entries | undefined;
  /** Lines waiting to be appended: a FETCH of 1,000 envelopes writes once, not 1,000 times. */
  private pending: string[] = [];
  private pendingChars = 0;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly uidValidity: number,
  ) {}

  /** The entries, catching up once per FolderCache (per SELECT) with lines others appended. */
  private async load(): Promise<Entries> {
    if (this.entries !== undefined) return this.entries;
    const path = join(this.dir, CACHE_FILE);
    // once per SELECT: a blocking stat, cheaper than a thread-pool round trip
    const st = statSync(path, { throwIfNoEntry: false });
    const ino = st?.ino ?? 0;
    let known = shared.get(this.dir);
    // A file replaced or cut short is read again; one that merely appeared (our own first
    // append may still be in flight) adds to what this process already knows.
    const replaced =
      known !== undefined && known.ino !== 0 && (known.ino !== ino || known.offset > (st?.size ?? 0));
    if (known === undefined || known.uidValidity !== this.uidValidity || replaced) {
      known = { uidValidity: this.uidValidity, entries: new Entries(), ino, offset: 0 };
      shared.set(this.dir, known);
    }
    known.ino = ino;
    if (st !== undefined && st.size > known.offset) {
      const entries = known.entries;
      known.offset += await readTail(path, known.offset, st.size, (text) =>
        parseLines(text, this.uidValidity, entries),
      );
    }
    this.entries = known.entries;
    return known.entries;
  }

  /**
   * get() without waiting: the value when this FolderCache has loaded its entries already
   * (after its first get or set), else undefined, as for a value not cached.
   */
  peek(uid: number, key: string): string | undefined {
    return this.entries?.get(uid, key);
  }

  async get(uid: number, key: string): Promise<string | undefined> {
    return (await this.load()).get(uid, key);
  }

  /**
   * Records a value and queues its line; the lines of one turn of the event loop are
   * appended in one write. Resolves once that write is done. `onError` (once per set) gets
   * a failed load or write instead of a rejection, for callers that do not wait.
   */
  set(uid: number, key: string, value: string, onError?: (err: unknown) => void): Promise<void> {
    const done = !/^[A-Za-z0-9.]+$/.test(key)
      ? Promise.reject(new RangeError(`bad cache key ${key}`))
      : this.entries !== undefined
        ? this.record(this.entries, uid, key, value)
        : this.loadAndRecord(uid, key, value);
    if (onError === undefined) return done;
    return done.catch(onError);
  }

  private async loadAndRecord(uid: number, key: string, value: string): Promise<void> {
    return this.record(await this.load(), uid, key, value);
  }

  private record(entries: Entries, uid: number, key: string, value: string): Promise<void> {
    if (entries.get(uid, key) === value) return Promise.resolve();
    entries.set(uid, key, value);
    const line = `${this.uidValidity} ${uid} ${key} ${JSON.stringify(value)}\n`;
    this.pending.push(line);
    this.pendingChars += line.length;
    // A FETCH whose socket never fills runs without giving the event loop a turn: without
    // this, 100,000 envelopes would wait as lines in memory and then as one 20 MB write.
    if (this.pendingChars >= FLUSH_CHARS) return this.flush();
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    return this.flushing;
  }

  private flush(): Promise<void> {
    const lines = this.pending.join("");
    this.pending = [];
    this.pendingChars = 0;
    this.flushing = undefined;
    if (lines === "") return Promise.resolve();
    try {
      // Blocking: at most some 64 KiB into the page cache, cheaper than open, write and close
      // through the thread pool, and no batch waits in memory behind a slower one.
      appendFileSync(join(this.dir, CACHE_FILE), lines, { mode: 0o600 });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
