/*
 * store-fs — the two file-system calls whose number decides how fast a large folder opens
 * (readdir and stat), behind an interface so tests can count them and prove that a second
 * SELECT of a 100,000-message folder does neither per message. Everything else in
 * lib/mailbox calls node:fs directly.
 * Talks to: node:fs. Security: paths are built by the caller from validated components.
 */
import type { BigIntStats } from "node:fs";
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
