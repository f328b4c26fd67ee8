/*
 * locks — the two locks of a mail store, both fcntl() write locks through os-lock (so they
 * vanish with a crashed process, and other tools that honour fcntl see them):
 *
 *   withFileLock  a short exclusive lock held while the uidlist is read and rewritten;
 *                 waiters retry with backoff (no libuv thread parked on F_SETLKW).
 *   trySessionLock a long lock held for a whole POP3 session; taken without waiting,
 *                 failing with MailError "in-use" (POP3's -ERR [IN-USE], RFC 2449).
 *
 * fcntl locks belong to a process, not to a descriptor: a second session in the same
 * worker would "get" the lock again, and closing any descriptor of the file drops it. So
 * each lock is also registered in this process, and a lock file is opened at most once
 * per holder.
 */
import { closeSync, openSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { lock } from "os-lock";
import { errnoCode, MailError } from "./errors.js";

const sessionHolders = new Set<string>();
const fileLockQueues = new Map<string, Promise<void>>();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function tryLock(fh: FileHandle | number): Promise<boolean> {
  try {
    await lock(typeof fh === "number" ? fh : fh.fd, { exclusive: true, immediate: true });
    return true;
  } catch (err) {
    const code = errnoCode(err);
    if (code === "EAGAIN" || code === "EACCES") return false;
    throw err;
  }
}

/**
 * An exclusive fcntl lock on an open file, retried with backoff until `timeoutMs` has
 * passed (no libuv thread parked in F_SETLKW); false on timeout. Shared by the index lock,
 * local delivery to mbox and POP3 on mbox.
 */
export async function fcntlLockWithin(
  fh: FileHandle | number,
  timeoutMs: number,
  maxDelayMs = 200,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, maxDelayMs)) {
    if (await tryLock(fh)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await sleep(Math.min(delay, left));
  }
}

/**
 * The lock file opened and locked; a descriptor, not a FileHandle: opening and closing it
 * are blocking calls (one each per locked change, cheaper than thread-pool round trips).
 */
async function lockWithin(path: string, timeoutMs: number): Promise<number> {
  const fd = openSync(path, "a+", 0o600);
  let locked: boolean;
  try {
    locked = await fcntlLockWithin(fd, timeoutMs);
  } catch (err) {
    closeQuietly(fd);
    throw err;
  }
  if (locked) return fd;
  closeQuietly(fd);
  throw new MailError("temp", `timeout waiting for lock ${path}`);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already unusable: nothing to release
  }
}

/** Run `fn` holding the exclusive lock on `path` (serialised within this process too). */
export async function withFileLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const before = fileLockQueues.get(path) ?? Promise.resolve();
  let release: () => void = () => undefined;
  const mine = new Promise<void>((resolve) => {
    release = resolve;
  });
  const tail = before.then(() => mine);
  fileLockQueues.set(path, tail);
  await before;
  try {
    const fd = await lockWithin(path, timeoutMs);
    try {
      return await fn();
    } finally {
      closeSync(fd);
    }
  } finally {
    release();
    if (fileLockQueues.get(path) === tail) fileLockQueues.delete(path);
  }
}

export interface SessionLock {
  release(): Promise<void>;
}

/** Take the session lock on `path` now, or fail with MailError("in-use"). */
export async function trySessionLock(path: string): Promise<SessionLock> {
  if (sessionHolders.has(path))
    throw new MailError("in-use", `${path} is locked by a session of this process`);
  sessionHolders.add(path);
  // A descriptor opened and closed with blocking calls (one each per session, cheaper than
  // thread-pool round trips); only the fcntl goes through os-lock's pool.
  let fd: number;
  try {
    fd = openSync(path, "a+", 0o600);
    let locked: boolean;
    try {
      locked = await tryLock(fd);
    } catch (err) {
      closeQuietly(fd);
      throw err;
    }
    if (!locked) {
      closeQuietly(fd);
      throw new MailError("in-use", `${path} is locked by another process`);
    }
  } catch (err) {
    sessionHolders.delete(path);
    throw err;
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      closeQuietly(fd);
      sessionHolders.delete(path);
    },
  };
}
