/*
 * claim — how pickup takes a file out of maildrop and decides whether to believe it.
 *
 * maildrop/ is writable by every local user, so nothing found there is trusted by name:
 * a user could put a symlink there (pointing at another user's queue file, which pickup,
 * as mail_owner, could read), or swap their own file between pickup's check and its read.
 * So pickup first *claims* the entry: it renames it (pickup owns the sticky maildrop
 * directory, so it may) into queue_directory/pickup/maildrop/, a directory only mail_owner
 * can write. From then on the entry cannot change under it. It then requires a regular
 * file (lstat, so a symlink is refused, not followed) with one link, takes the submitting
 * user from the file's owner uid, and refuses a file whose envelope claims another uid.
 * Only whitelisted attributes are carried on to cleanup, so a user cannot pose as an SMTP
 * client or a SASL-authenticated sender.
 *
 * Crash safety: a claimed file is removed only after cleanup has answered that the new
 * queue file is durable. If pickup dies in between, the file is still in the claim
 * directory at the next start; each queue file carries maildrop_id (the claimed file's
 * name), so recovery first looks for a queue file with that maildrop_id in incoming,
 * active, deferred and hold, and only re-submits when there is none. The one remaining
 * window (queued, then fully delivered and removed before pickup restarts) can duplicate,
 * never lose, a message.
 *
 * Talks to: the file system, lib/queue. Security: runs as mail_owner; maildrop content is
 * hostile input owned by another user.
 */
import { lstat, mkdir, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import {
  isQueueId,
  type QueueEnvelope,
  QueueFileError,
  type QueueFileInfo,
  type QueueName,
  queuePath,
  readQueueFile,
  scanQueue,
  syncDirectory,
} from "../queue/index.js";

/** Attributes a submitting user may set; everything else in a maildrop file is ignored. */
const USER_ATTRS: readonly string[] = ["full_name", "ret", "envid", "body"];
/** Queues searched for an already-queued copy of a claimed file during recovery. */
const RECOVERY_QUEUES: readonly QueueName[] = ["incoming", "active", "deferred", "hold"];

export function claimDirectory(queueDir: string): string {
  return join(queueDir, "pickup", "maildrop");
}

export async function ensureClaimDirectory(queueDir: string): Promise<void> {
  await mkdir(claimDirectory(queueDir), { recursive: true, mode: 0o700 });
}

/** Move maildrop/ID into the claim directory; false when it is gone already. */
export async function claim(queueDir: string, id: string): Promise<boolean> {
  try {
    await rename(queuePath(queueDir, "maildrop", id), join(claimDirectory(queueDir), id));
    return true;
  } catch (err) {
    if (errnoOf(err) === "ENOENT") return false;
    throw err;
  }
}

/** Files left in the claim directory by a pickup that stopped before finishing them. */
export async function leftoverClaims(queueDir: string): Promise<string[]> {
  return (await readdir(claimDirectory(queueDir))).filter(isQueueId).sort();
}

export type Verified =
  | { ok: true; info: QueueFileInfo; uid: number; envelope: QueueEnvelope }
  | { ok: false; reason: string; uid?: number };

/** Check a claimed file and build the envelope cleanup will get. */
export async function verifyClaimed(queueDir: string, id: string, now = Date.now()): Promise<Verified> {
  const path = join(claimDirectory(queueDir), id);
  const st = await lstat(path);
  if (!st.isFile()) return { ok: false, reason: "not a regular file" };
  if (st.nlink !== 1) return { ok: false, reason: `${st.nlink} hard links`, uid: st.uid };
  let info: QueueFileInfo;
  try {
    info = await readQueueFile(path);
  } catch (err) {
    if (err instanceof QueueFileError) return { ok: false, reason: err.reason, uid: st.uid };
    throw err;
  }
  const claimed = info.envelope.attrs["uid"];
  // A queue file that postern super -r moved here: written by postern's own processes, so
  // owned by the uid pickup runs as, which no other user can give a file in the sticky maildrop.
  if (st.uid === process.getuid?.() && claimed !== String(st.uid)) {
    const pending = info.envelope.recipients.filter((_r, i) => !info.done.has(i));
    if (pending.length === 0)
      return { ok: false, reason: "requeued file with no pending recipient", uid: st.uid };
    return { ok: true, info, uid: st.uid, envelope: requeuedEnvelope(info.envelope, pending, id) };
  }
  if (claimed !== String(st.uid))
    return {
      ok: false,
      reason: `file owned by uid ${st.uid} claims uid ${claimed ?? "(none)"}`,
      uid: st.uid,
    };
  if (info.envelope.recipients.length === 0) return { ok: false, reason: "no recipients", uid: st.uid };
  return { ok: true, info, uid: st.uid, envelope: trustedEnvelope(info.envelope, st.uid, id, now) };
}

/** A requeued message keeps its sender, arrival time and attributes; done recipients are dropped. */
function requeuedEnvelope(
  file: QueueEnvelope,
  pending: QueueEnvelope["recipients"],
  id: string,
): QueueEnvelope {
  const { message_id: _m, size: _s, ...kept } = file.attrs;
  return {
    sender: file.sender,
    recipients: pending.map((r) => ({ ...r })),
    arrivalTime: file.arrivalTime,
    attrs: { ...kept, requeued: "yes", maildrop_id: id },
  };
}

function trustedEnvelope(file: QueueEnvelope, uid: number, id: string, now: number): QueueEnvelope {
  const attrs: Record<string, string> = { origin: "sendmail", uid: String(uid), rewrite_context: "local" };
  for (const name of USER_ATTRS) {
    const value = file.attrs[name];
    if (value !== undefined) attrs[name] = value;
  }
  attrs["maildrop_id"] = id;
  return {
    sender: file.sender,
    recipients: file.recipients.map((r) => ({ ...r })),
    // The submission time, but never in the future (a user cannot postdate their mail).
    arrivalTime: Math.min(file.arrivalTime, now),
    attrs,
  };
}

/** Move a claimed file to corrupt/ for the administrator. */
export async function claimedToCorrupt(queueDir: string, id: string): Promise<void> {
  await rename(join(claimDirectory(queueDir), id), queuePath(queueDir, "corrupt", id));
  await syncDirectory(join(queueDir, "corrupt"));
}

/** Put a claimed file back into maildrop (cleanup is unavailable: try again later). */
export async function unclaim(queueDir: string, id: string): Promise<void> {
  await rename(join(claimDirectory(queueDir), id), queuePath(queueDir, "maildrop", id));
}

/** maildrop_id → queue ID of every queue file that came from pickup (for recovery). */
export async function queuedMaildropIds(queueDir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const queue of RECOVERY_QUEUES) {
    for await (const id of scanQueue(queueDir, queue)) {
      try {
        const maildropId = (await readQueueFile(queuePath(queueDir, queue, id))).envelope.attrs[
          "maildrop_id"
        ];
        if (maildropId !== undefined) found.set(maildropId, id);
      } catch {
        /* moved on or unreadable: not the copy we are looking for */
      }
    }
  }
  return found;
}

export function errnoOf(err: unknown): string | undefined {
  return err instanceof Error ? (err as NodeJS.ErrnoException).code : undefined;
}
