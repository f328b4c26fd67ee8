/*
 * dirs — the queue directory tree and directory fsync.
 *
 * Layout under queue_directory (Postfix names, flat: no hashed subdirectories yet):
 *   maildrop  locally submitted mail (postern sendmail), picked up by pickup
 *   incoming  new queue files from cleanup, waiting for qmgr
 *   active    files qmgr is delivering
 *   deferred  files waiting for a retry
 *   hold      files held by the administrator
 *   corrupt   unreadable files, kept for inspection
 *   bounce defer trace  per-message delivery logs; saved  files kept by `postern queue save`
 *   pickup    pickup's claim directory for maildrop files (pickup/maildrop, lib/pickup)
 *   private public  Unix sockets;  pid  pid and lock files
 *
 * Modes are 0700 (only mail_owner) except maildrop and public (see DIR_MODES); as in Postfix,
 * those two are group postdrop so the setgid submission program can drop files into
 * maildrop (write + search, no listing) and reach the public sockets. The modes are set
 * with chmod on creation only, so the umask does not strip group bits and an operator's
 * own choice on an existing tree is left alone.
 *
 * syncDirectory() is the group commit for directory fsyncs: all callers that arrive while
 * an fsync of the same directory is running share the next one, which starts after their
 * renames, so every caller's rename is durable when its promise resolves.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { canFsyncBlocking, fsyncBlocking, fsyncFd } from "../io/fsync.js";

export const QUEUE_DIRS: readonly string[] = [
  "maildrop",
  "incoming",
  "active",
  "deferred",
  "hold",
  "corrupt",
  "bounce",
  "defer",
  "trace",
  "saved",
  "pickup",
  "private",
  "public",
  "pid",
];

/**
 * maildrop 03733: any local user may create a file (sendmail needs no setgid helper) but not
 * list the directory, nor remove or rename another user's file (sticky); files take the
 * directory's group (setgid) so pickup, as mail_owner, can read them. public 0711: anyone can
 * reach the (0666) trigger sockets, so a submission wakes pickup at once.
 */
const DIR_MODES: Readonly<Record<string, number>> = { maildrop: 0o3733, public: 0o711 };

/** mkdir -p the queue root and every queue directory, with Postfix's modes on creation. */
export function ensureQueueDirs(queueDir: string): void {
  mkdirSync(queueDir, { recursive: true, mode: 0o755 });
  for (const name of QUEUE_DIRS) {
    const path = join(queueDir, name);
    const mode = DIR_MODES[name] ?? 0o700;
    if (mkdirSync(path, { recursive: true, mode }) !== undefined) chmodSync(path, mode);
  }
}

interface DirSyncState {
  running: Promise<void> | null;
  next: Promise<void> | null;
}

const dirSyncs = new Map<string, DirSyncState>();

/** open and close are synchronous (microseconds); only the fsync goes to the thread pool. */
async function fsyncDirectory(path: string): Promise<void> {
  const fd = openSync(path, "r");
  try {
    await fsyncFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

function startSync(path: string, state: DirSyncState): Promise<void> {
  const run = fsyncDirectory(path).finally(() => {
    if (state.running === run) state.running = null;
    if (state.running === null && state.next === null) dirSyncs.delete(path);
  });
  state.running = run;
  return run;
}

/**
 * fsync a directory at once, blocking, when no grouped fsync of it is in flight (whose
 * waiters must keep their order); false when the caller must use syncDirectory instead.
 */
export function syncDirectoryNow(path: string): boolean {
  if (!canFsyncBlocking || dirSyncs.has(path)) return false;
  const fd = openSync(path, "r");
  try {
    fsyncBlocking(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** fsync a directory so that renames and creations in it survive a crash; grouped per directory. */
export function syncDirectory(path: string): Promise<void> {
  let state = dirSyncs.get(path);
  if (state === undefined) {
    state = { running: null, next: null };
    dirSyncs.set(path, state);
  }
  const current = state;
  if (current.running === null) return startSync(path, current);
  if (current.next !== null) return current.next;
  // One fsync is in flight and may have started before our rename: queue one more for
  // everybody who arrives until it starts.
  const next = current.running
    .catch(() => undefined)
    .then(() => {
      current.next = null;
      return startSync(path, current);
    });
  current.next = next;
  return next;
}
