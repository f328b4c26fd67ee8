/*
 * store-fs — the two file-system calls whose number decides how fast a large folder opens
 * (readdir and stat), behind an interface so tests can count them and prove that a second
 * SELECT of a 100,000-message folder does neither per message. Everything else in
 * lib/mailbox calls node:fs directly.
 * Talks to: node:fs. Security: paths are built by the caller from validated components.
 */
import { type BigIntStats, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";

export interface StoreFs {
  readdir(dir: string): Promise<string[]>;
  stat(path: string): Promise<BigIntStats>;
}

export const nodeStoreFs: StoreFs = {
  readdir: (dir) => readdir(dir),
  stat: (path) => stat(path, { bigint: true }),
};

/** A StoreFs that counts its calls (for tests and for the benchmark's sanity checks). */
export function countingStoreFs(
  inner: StoreFs = nodeStoreFs,
): StoreFs & { readonly calls: { readdir: number; stat: number } } {
  const calls = { readdir: 0, stat: 0 };
  return {
    calls,
    readdir(dir) {
      calls.readdir++;
      return inner.readdir(dir);
    },
    stat(path) {
      calls.stat++;
      return inner.stat(path);
    },
  };
}

/**
 * A stat of one of a folder's few own entries (index, log, new/, cur/), blocking when the
 * real file system is used: a thread-pool round trip costs more than the call, and these
 * run once or twice per command. Other StoreFs (tests counting calls) are asked as usual.
 */
export function statQuick(fs: StoreFs, path: string): Promise<BigIntStats> {
  if (fs !== nodeStoreFs) return fs.stat(path);
  try {
    return Promise.resolve(statSync(path, { bigint: true }));
  } catch (err) {
    return Promise.reject(err);
  }
}
