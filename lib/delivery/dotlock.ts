/*
 * dotlock — the `<mailbox>.lock` file convention of mutt, procmail, liblockfile and Dovecot.
 *
 * A lock is taken NFS-safely as liblockfile does: write a uniquely named temporary file in
 * the mailbox's directory, link() it to `<mailbox>.lock`, and trust the link count of the
 * temporary file (2 = we own the lock) rather than link()'s return value, which NFS may get
 * wrong. A lock older than five minutes is stale (dotlockfile, procmail) and removed; the
 * age is measured against the file system's clock (the fresh temporary file's mtime), so
 * clock skew between an NFS client and server does not matter. While held, the lock is
 * touched every minute so that a long delivery is not mistaken for a dead one. Release
 * removes the lock only if it is still the file we created. Waiting is a retry loop with
 * backoff up to a deadline, never a busy loop.
 * Security: the lock lives in the mailbox directory (for /var/mail that needs group mail or
 * root); only regular files are removed as stale.
 */
import { randomBytes } from "node:crypto";
import { link, lstat, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DeliveryError, describeError, errnoOf } from "./status.js";

export const STALE_LOCK_MS = 5 * 60 * 1000;
const TOUCH_INTERVAL_MS = 60 * 1000;

export interface DotlockOptions {
  /** Give up after this long (0: one attempt). */
  readonly timeoutMs: number;
  /** A lock older than this is removed (default five minutes). */
  readonly staleMs?: number;
  /** First retry delay; doubles up to one second. */
  readonly retryMs?: number;
}

export interface Dotlock {
  readonly lockPath: string;
  release(): Promise<void>;
}

/** The temporary name liblockfile uses: hidden, in the same directory, unique per attempt. */
function temporaryName(lockPath: string): string {
  const unique = `${process.pid.toString(16)}${randomBytes(4).toString("hex")}`;
  const host = hostname().replace(/[/:]/g, "_");
  return join(dirname(lockPath), `.lk${unique}.${host}.${basename(lockPath)}`);
}

/** One link() attempt; returns the lock's inode on success, undefined if someone else holds it. */
async function tryLink(lockPath: string, staleMs: number): Promise<bigint | undefined> {
  const tmp = temporaryName(lockPath);
  await writeFile(tmp, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
  try {
    await link(tmp, lockPath).catch((err: unknown) => {
      if (errnoOf(err) !== "EEXIST") throw err;
    });
    const mine = await stat(tmp, { bigint: true });
    if (mine.nlink === 2n) return mine.ino;
    await removeIfStale(lockPath, mine.mtimeMs, staleMs);
    return undefined;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function removeIfStale(lockPath: string, nowMs: bigint, staleMs: number): Promise<void> {
  const held = await lstat(lockPath, { bigint: true }).catch(() => undefined);
  if (held === undefined || !held.isFile()) return;
  if (Number(nowMs - held.mtimeMs) > staleMs) await unlink(lockPath).catch(() => undefined);
}

function startTouching(lockPath: string): NodeJS.Timeout {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, TOUCH_INTERVAL_MS);
  timer.unref();
  return timer;
}

/** Take `<path>.lock`, waiting with backoff up to opts.timeoutMs; a temporary DeliveryError on timeout. */
export async function acquireDotlock(path: string, opts: DotlockOptions): Promise<Dotlock> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + opts.timeoutMs;
  const staleMs = opts.staleMs ?? STALE_LOCK_MS;
  let delay = opts.retryMs ?? 50;
  for (;;) {
    let inode: bigint | undefined;
    try {
      inode = await tryLink(lockPath, staleMs);
    } catch (err) {
      throw new DeliveryError("4.2.0", `unable to create lock file ${lockPath}: ${describeError(err)}`);
    }
    if (inode !== undefined) return heldLock(lockPath, inode);
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new DeliveryError(
        "4.2.0",
        `unable to create lock file ${lockPath}: Resource temporarily unavailable`,
      );
    }
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, 1000);
  }
}

function heldLock(lockPath: string, inode: bigint): Dotlock {
  const timer = startTouching(lockPath);
  let released = false;
  return {
    lockPath,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      clearInterval(timer);
      const now = await lstat(lockPath, { bigint: true }).catch(() => undefined);
      if (now !== undefined && now.ino === inode) await unlink(lockPath).catch(() => undefined);
    },
  };
}
