/*
 * dir-stamps — when the mtimes of a folder's new/ and cur/ recorded in its index prove that
 * the directories still hold what the index says, so that no directory need be read.
 *
 * A full scan records both mtimes (nanoseconds) and the wall-clock time it started
 * (scanAt, ms). A change made after the scan moves an mtime, unless it falls in the same
 * clock tick as the recorded one. Like Dovecot's MAILDIR_SYNC_SECS rule, a recorded state
 * is "dirty" when an mtime is less than MAILDIR_SYNC_MS older than the scan; a dirty state
 * is trusted only until the scan itself is MAILDIR_SYNC_MS old, then the folder is scanned
 * again, which finds any change the tick hid. The same bound covers renames a postern
 * process makes itself and credits to the index (sync.ts): a change by another program
 * racing with those renames is found by that rescan at the latest. (Crediting changes to a
 * clean state moves scanAt to just before the renames: the directories were exactly the
 * index then, so the rescan is due a second after them.) The margin is also the
 * clock drift allowed between hosts sharing the Maildir (NFS).
 * Talks to: nothing (pure). Security: n/a.
 */
import type { Uidlist } from "./uidlist.js";

export const MAILDIR_SYNC_MS = 1000;

/** A directory mtime in ns (the index's decimal string) in whole ms. */
function nsToMs(ns: string): number {
  return ns.length <= 6 ? 0 : Number(ns.slice(0, -6));
}

/** Whether an mtime is less than MAILDIR_SYNC_MS older than the scan (or there is no usable state). */
export function stampsDirty(list: Uidlist): boolean {
  const { curMtime, newMtime, scanAt } = list;
  if (curMtime === undefined || curMtime === "0" || newMtime === undefined || newMtime === "0") return true;
  if (scanAt === undefined) return true;
  return scanAt - Math.max(nsToMs(curMtime), nsToMs(newMtime)) <= MAILDIR_SYNC_MS;
}

/** Whether the index's stamps let a sync skip reading the directories. */
export function stampsTrusted(list: Uidlist, nowMs: number): boolean {
  const { curMtime, newMtime, scanAt } = list;
  if (curMtime === undefined || curMtime === "0" || newMtime === undefined || newMtime === "0") return false;
  if (scanAt === undefined) return false;
  return !stampsDirty(list) || nowMs - scanAt <= MAILDIR_SYNC_MS;
}

/** Whether new/ and cur/ with these mtimes hold exactly what the index says. */
export function dirsUnchanged(list: Uidlist, curNs: bigint, newNs: bigint, nowMs: number): boolean {
  return stampsTrusted(list, nowMs) && String(curNs) === list.curMtime && String(newNs) === list.newMtime;
}
