/*
 * select — which recipients of a queued message a notification reports, and the
 * per-message log of recipients already reported (queue_directory/bounce/ID).
 *
 * Failure notices cover recipients whose outcome is bounced or expired; delay warnings
 * cover recipients still deferred. RFC 3461 NOTIFY is honoured: NEVER suppresses both,
 * a list without FAILURE (DELAY) suppresses failure notices (delay warnings); no NOTIFY
 * means FAILURE,DELAY, as Postfix does.
 *
 * The log makes failure notices idempotent: qmgr may ask twice for the same message
 * (a retry after a crash or a timeout) and each bounced recipient is still reported once.
 * An index is appended (and fsynced) only after cleanup has made the notice durable, so
 * a crash between the two can at worst send a notice twice, never lose one. qmgr (or
 * `postern super`) removes the log together with the queue file.
 *
 * Talks to: the file system. Security: the log path is built from a checked queue ID.
 */
import { existsSync, unlinkSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isQueueId, type QueueFileInfo } from "../queue/index.js";
import type { DsnRecipient } from "./dsn.js";

export type NoticeKind = "failure" | "delay";

/** True when the recipient's NOTIFY asks for this kind of notice. */
export function wantsNotice(notify: string | undefined, kind: NoticeKind): boolean {
  if (notify === undefined || notify === "") return true;
  const flags = notify.toUpperCase().split(",");
  if (flags.includes("NEVER")) return false;
  return flags.includes(kind === "failure" ? "FAILURE" : "DELAY");
}

export interface SelectedRecipient extends DsnRecipient {
  index: number;
}

/** The recipients to report, in queue file order; `reported` indices are skipped. */
export function selectRecipients(
  info: QueueFileInfo,
  kind: NoticeKind,
  reported: ReadonlySet<number> = new Set(),
): SelectedRecipient[] {
  const out: SelectedRecipient[] = [];
  for (const [index, rcpt] of info.envelope.recipients.entries()) {
    if (reported.has(index) || !wantsNotice(rcpt.notify, kind)) continue;
    const base = { index, address: rcpt.address, ...(rcpt.orcpt !== undefined ? { orcpt: rcpt.orcpt } : {}) };
    if (kind === "failure") {
      const done = info.done.get(index);
      if (done === undefined || done.status === "sent") continue;
      const { dsn, relay, text, time } = done;
      out.push({ ...base, action: "failed", status: dsn, relay, text, time });
    } else {
      const deferral = info.deferred.get(index);
      if (deferral === undefined || info.done.has(index)) continue;
      const { dsn, relay, text, time } = deferral;
      out.push({ ...base, action: "delayed", status: dsn, relay, text, time });
    }
  }
  return out;
}

/** queue_directory/bounce/ID */
export function reportLogPath(queueDir: string, id: string): string {
  if (!isQueueId(id)) throw new RangeError(`not a queue ID: ${JSON.stringify(id)}`);
  return join(queueDir, "bounce", id);
}

/** The recipient indices already reported in failure notices for this message. */
export async function readReported(queueDir: string, id: string): Promise<Set<number>> {
  let text: string;
  try {
    text = await readFile(reportLogPath(queueDir, id), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Set();
    throw err;
  }
  const out = new Set<number>();
  // A torn last line (crash mid-append) is simply not a number and is ignored.
  for (const line of text.split("\n")) if (/^\d+$/.test(line)) out.add(Number(line));
  return out;
}

/** Append reported indices to the log, fsynced before returning. */
export async function recordReported(
  queueDir: string,
  id: string,
  indices: readonly number[],
): Promise<void> {
  if (indices.length === 0) return;
  const handle = await open(reportLogPath(queueDir, id), "a", 0o600);
  try {
    await handle.write(`\n${indices.join("\n")}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Remove a message's report log; a no-op when there is none. qmgr calls it for every message
 * and most have none: existsSync answers that without the cost of a thrown ENOENT error.
 */
export async function removeReportLog(queueDir: string, id: string): Promise<void> {
  const path = reportLogPath(queueDir, id);
  if (!existsSync(path)) return;
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
