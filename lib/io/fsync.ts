/*
 * fsync — fsync of a descriptor, also in a confined worker (lib/master/confine), and
 * blocking when nobody else in the process waits (queue writer, Maildir delivery).
 *
 * Node 20's permission model refuses fs.fsync/fs.fdatasync outright ("fsync API is disabled
 * when Permission Model is enabled") but allows FileHandle.sync(). fsync(2) flushes the
 * inode, whichever descriptor names it, so a confined worker opens the same path again and
 * syncs through that handle; everyone else keeps the plain (cheaper) fs.fsync, and may
 * also fsync blocking (fsyncBlocking), which saves the thread pool's round trip when
 * nothing else in the process is waiting.
 */
import { fsync, fsyncSync } from "node:fs";
import { open } from "node:fs/promises";
import { promisify } from "node:util";

const fsyncPlain = promisify(fsync);
const confined = (process as { permission?: unknown }).permission !== undefined;

/** Whether this process may fsync blocking (not in a confined worker). */
export const canFsyncBlocking = !confined;

/** fsync(2) in the calling thread; only where canFsyncBlocking. */
export function fsyncBlocking(fd: number): void {
  fsyncSync(fd);
}

/** fsync the file or directory open as fd at path. */
export async function fsyncFd(fd: number, path: string): Promise<void> {
  if (!confined) return fsyncPlain(fd);
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * fsync fd (open at path): a blocking call when `alone` (no other work of this process is
 * waiting for the event loop) and allowed, else on the thread pool so that others proceed.
 */
export function fsyncWhenAlone(fd: number, path: string, alone: boolean): void | Promise<void> {
  if (alone && canFsyncBlocking) return fsyncBlocking(fd);
  return fsyncFd(fd, path);
}
