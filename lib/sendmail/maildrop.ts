/*
 * maildrop — creating a file in queue_directory/maildrop for `postern sendmail` (both the
 * command-line and the -bs path), and who the invoking user is.
 *
 * No master, no socket, no running daemon is needed: the file is written with the queue's
 * own durable writer (temporary name, fsync, rename, directory fsync), so mail submitted
 * while postern is stopped waits safely until pickup runs. Afterwards pickup is woken
 * through public/pickup, best effort: if that fails, pickup's 60-second timer finds it.
 *
 * Non-root submission (no setgid in Node): maildrop/ is meant to be mode 3733 owned by
 * mail_owner: sticky (nobody removes or renames another user's file), setgid (every file
 * gets the directory's group), writable and searchable by all but not listable, so a user
 * can drop a file but cannot find, read or remove anyone else's. Files are made 0640:
 * the owner and the mail_owner's group (pickup) can read them, nobody else. pickup trusts
 * the file's owner uid, never what the file claims.
 *
 * Talks to: lib/queue (QueueFileWriter), lib/ipc (trigger), /etc/passwd.
 * Security: runs as the invoking user with no privileges.
 */
import { readFileSync } from "node:fs";
import { chmod } from "node:fs/promises";
import { userInfo } from "node:os";
import { join } from "node:path";
import { trigger } from "../ipc/index.js";
import { type QueueEnvelope, QueueFileWriter } from "../queue/index.js";

/** Mode of a maildrop file once created: readable by its owner and by pickup's group. */
export const MAILDROP_FILE_MODE = 0o640;

/** The login name of uid, from /etc/passwd (then the C library), or undefined. */
export function userNameOf(uid: number, passwdFile = "/etc/passwd"): string | undefined {
  try {
    for (const line of readFileSync(passwdFile, "utf8").split("\n")) {
      const fields = line.split(":");
      if (fields.length >= 3 && fields[2] === String(uid) && fields[0]) return fields[0];
    }
  } catch {
    /* no readable passwd file: ask the C library below */
  }
  try {
    const info = userInfo();
    return info.uid === uid ? info.username : undefined;
  } catch {
    return undefined;
  }
}

/** Create a maildrop queue file for envelope; the caller writes content and commits. */
export async function createMaildropFile(
  queueDir: string,
  envelope: QueueEnvelope,
): Promise<QueueFileWriter> {
  const writer = await QueueFileWriter.create(queueDir, { queue: "maildrop", envelope });
  try {
    // The writer makes files 0600; pickup (another uid when installed) must read it.
    await chmod(join(queueDir, "maildrop", `.${writer.id}.tmp`), MAILDROP_FILE_MODE);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return writer;
}

/** Wake pickup (queue_directory/public/pickup); false when it could not be reached. */
export function wakePickup(queueDir: string): Promise<boolean> {
  return trigger(join(queueDir, "public", "pickup"), "W", 2000);
}
