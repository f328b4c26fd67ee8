/*
 * db-file — the on-disk format of compiled "hash:" tables (what `postern map` writes).
 *
 * A sorted key/value file with an offset index, searched by binary search:
 *
 *   header   8 bytes magic "PSTNMAP1", u32le record count, u32le total file length
 *   index    count × u32le: byte offset of each record, records ordered by key bytes
 *   records  u32le key length, u32le value length, key bytes (UTF-8), value bytes (UTF-8)
 *
 * A lookup touches log2(n) records and never parses the rest, so the file is kept as one
 * Buffer and re-read only when it changes on disk. Files are written atomically (temp file,
 * fsync, rename, fsync of the directory) so a reader sees the old table or the new one,
 * never half of one. Every offset is bounds-checked on open and on read: a truncated or
 * foreign file is a MapError, never a crash.
 * Talks to the file system only. Security: the file is written by root/the operator and read
 * by daemons; it is not trusted beyond its bounds checks.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { MapError } from "./map-error.js";

const MAGIC = Buffer.from("PSTNMAP1", "latin1");
const HEADER_BYTES = 16;

/** Serialise key → value pairs into the compiled format. */
export function encodeTable(entries: Iterable<readonly [string, string]>): Buffer {
  const records = [...entries]
    .map(([k, v]) => [Buffer.from(k, "utf8"), Buffer.from(v, "utf8")] as const)
    .sort((a, b) => Buffer.compare(a[0], b[0]));
  const indexBytes = records.length * 4;
  let total = HEADER_BYTES + indexBytes;
  for (const [k, v] of records) total += 8 + k.length + v.length;
  const out = Buffer.alloc(total);
  MAGIC.copy(out, 0);
  out.writeUInt32LE(records.length, 8);
  out.writeUInt32LE(total, 12);
  let pos = HEADER_BYTES + indexBytes;
  records.forEach(([k, v], i) => {
    out.writeUInt32LE(pos, HEADER_BYTES + i * 4);
    out.writeUInt32LE(k.length, pos);
    out.writeUInt32LE(v.length, pos + 4);
    k.copy(out, pos + 8);
    v.copy(out, pos + 8 + k.length);
    pos += 8 + k.length + v.length;
  });
  return out;
}

/** A compiled table held in memory, searched without decoding the other records. */
export class CompiledTable {
  readonly count: number;

  constructor(
    private readonly buf: Buffer,
    private readonly file: string,
  ) {
    if (buf.length < HEADER_BYTES || !buf.subarray(0, 8).equals(MAGIC)) {
      throw new MapError("not a postern compiled table (bad magic)", { file });
    }
    this.count = buf.readUInt32LE(8);
    if (buf.readUInt32LE(12) !== buf.length || HEADER_BYTES + this.count * 4 > buf.length) {
      throw new MapError("compiled table is truncated or corrupt", { file });
    }
  }

  private record(i: number): { key: Buffer; value: Buffer } {
    const at = this.buf.readUInt32LE(HEADER_BYTES + i * 4);
    if (at + 8 > this.buf.length) throw new MapError("corrupt record offset", { file: this.file });
    const keyLen = this.buf.readUInt32LE(at);
    const valueLen = this.buf.readUInt32LE(at + 4);
    const end = at + 8 + keyLen + valueLen;
    if (end > this.buf.length) throw new MapError("corrupt record length", { file: this.file });
    return {
      key: this.buf.subarray(at + 8, at + 8 + keyLen),
      value: this.buf.subarray(at + 8 + keyLen, end),
    };
  }

  get(key: string): string | undefined {
    const wanted = Buffer.from(key, "utf8");
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.record(mid);
      const cmp = Buffer.compare(r.key, wanted);
      if (cmp === 0) return r.value.toString("utf8");
      if (cmp < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  *entries(): Generator<[string, string]> {
    for (let i = 0; i < this.count; i++) {
      const r = this.record(i);
      yield [r.key.toString("utf8"), r.value.toString("utf8")];
    }
  }
}

/** Write data to path atomically: temp file in the same directory, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, data: Buffer, mode = 0o644): void {
  const tmp = `${path}.tmp.${process.pid}.${randomBytes(4).toString("hex")}`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dirFd = openSync(dirname(path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
