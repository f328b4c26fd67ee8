/*
 * queue-space — smtpd's free-space check on the queue file system at MAIL FROM, as
 * Postfix's smtpd_check_queue(): a queue with less than 1.5 × message_size_limit free (or
 * less than 1.5 × the size the client announced with SIZE=) answers
 * "452 4.3.1 Insufficient system storage", so a full disk defers mail before the client
 * sends it instead of failing after DATA.
 *
 * Talks to: the file system (statfs of queue_directory). RFCs: 1870 (SIZE), 3463 (4.3.1).
 * Security: read-only; a failing statfs is not a reason to refuse mail (the queue write
 * itself will still fail safely with 4xx).
 */
import { statfsSync } from "node:fs";
import type { SmtpReply } from "../smtp/reply.js";

/** Postfix's smtpd_space_multf. */
const SPACE_MULTIPLIER = 1.5;

export const INSUFFICIENT_STORAGE: SmtpReply = {
  code: 452,
  enhanced: "4.3.1",
  text: "Insufficient system storage",
};

/** Bytes available to unprivileged writers on the file system holding dir, or null. */
function freeBytes(dir: string): number | null {
  try {
    // statfs(2) of a local directory takes microseconds: a thread-pool round trip per
    // MAIL FROM cost more than the call itself.
    const st = statfsSync(dir);
    return st.bavail * st.bsize;
  } catch {
    return null;
  }
}

/**
 * null when the queue has room for a message of the larger of messageSizeLimit (0 =
 * unlimited, then only the announced size counts) and announcedSize; else the 452 reply
 * and a warning text for maillog.
 */
export async function checkQueueSpace(
  queueDir: string,
  limits: { messageSizeLimit: number; announcedSize?: number },
): Promise<{ reply: SmtpReply; warning: string } | null> {
  const free = freeBytes(queueDir);
  if (free === null) return null;
  const usable = free / SPACE_MULTIPLIER;
  const need = Math.max(limits.messageSizeLimit, limits.announcedSize ?? 0, 1);
  if (need < usable) return null;
  const what = need === limits.announcedSize ? "the announced message size" : "message_size_limit";
  return {
    reply: INSUFFICIENT_STORAGE,
    warning: `not enough free space in mail queue: ${free} bytes < ${SPACE_MULTIPLIER}*${what} (${need})`,
  };
}
