/*
 * maildir — the Maildir mail store as POP3 sees it: one folder, messages with stable UIDs
 * and CRLF sizes (from the shared index, sync.ts + uidlist.ts, so POP3 UIDLs and IMAP UIDs
 * agree), message files opened by UID, deletion by unlink, and the POP3 session lock.
 *
 * Maildir: cr.yp.to/proto/maildir.html; file names as local delivery and Dovecot write them,
 * "<base>:2,<flags>" in cur/, where <base> may carry ",S=<size>" (LF form) and ",W=<size>"
 * (CRLF form, RFC 1939 sizes). Concurrent delivery is safe: a file that lands in new/ after
 * the sync is simply seen by the next one.
 * Talks to: the file system only. Security: runs as the mailbox owner; file names from the
 * directory are used as single path components only.
 */

import { closeSync, fstatSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, MailError } from "./errors.js";
import { type SessionLock, trySessionLock } from "./locks.js";
import { maildirBase, sizeInName, syncIndex, withSyncedIndex } from "./sync.js";

export { crlfSizeOfFile, maildirBase } from "./sync.js";

export interface MaildirMessage {
  readonly uid: number;
  readonly base: string;
  /** The current file name in cur/ (base plus ":2,<flags>"). */
  readonly file: string;
  readonly crlfSize: number;
}

export interface MaildirSnapshot {
  readonly uidValidity: number;
  readonly messages: readonly MaildirMessage[];
}

export interface MaildirStoreOptions {
  /** How long a sync waits for the uidlist lock (default 10 s). */
  readonly lockTimeoutMs?: number;
}

/** The CRLF size a writer recorded in the name (",W=<n>"), if any. */
export function sizeFromName(base: string): number | undefined {
  return sizeInName(base, "W");
}

/**
 * Create cur/ new/ tmp/ (mode 0700) when missing. Blocking calls: on every POP3 login and
 * IMAP APPEND the three already exist, and six thread-pool round trips (mkdir, then stat on
 * EEXIST) cost more than the calls themselves.
 */
export async function ensureMaildir(root: string): Promise<void> {
  try {
    for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new MailError(errnoCode(err) === "EACCES" ? "perm" : "temp", `open ${root}: ${String(err)}`);
  }
}

/** Messages up to this size are read whole with blocking calls: cheaper than thread-pool trips. */
export const SMALL_FILE_MAX = 256 * 1024;

/**
 * The file read with one blocking open/pread/close into `into` (at least max + 1 bytes long)
 * when it has at most `max` bytes: a short read of a regular file is its end, so no fstat.
 * undefined when it is bigger or cannot be read (renamed meanwhile, say): the caller's
 * general path decides. The bytes are a view of `into`, valid until the caller reuses it.
 */
export function readAtMost(path: string, max: number, into: Buffer): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const got = readSync(fd, into, 0, max + 1, 0);
    return got > max ? undefined : into.subarray(0, got);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * A small message file read whole with blocking calls: open, one read of the size the index
 * knows plus a byte (a short read of a regular file is its end, so no fstat is needed), close.
 * undefined when it is bigger than SMALL_FILE_MAX (`expected` is the size the index knows) or
 * cannot be read (renamed meanwhile, say), for the caller's slower path to handle. With
 * `into` (at least expected + 1 bytes) the read goes there and the answer is a view of it
 * unless the file turned out bigger than the index said.
 */
export function readSmallFile(path: string, expected: number, into?: Buffer): Buffer | undefined {
  if (expected > SMALL_FILE_MAX) return undefined;
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined; // renamed meanwhile, or unreadable: the streaming path decides
  }
  try {
    const want = Math.max(0, expected) + 1;
    const first =
      into !== undefined && into.length >= want ? into.subarray(0, want) : Buffer.allocUnsafe(want);
    const got = readSync(fd, first, 0, first.length, 0);
    if (got < first.length) return first.subarray(0, got);
    // bigger than the index said: size it and read the rest
    const size = fstatSync(fd).size;
    if (size > SMALL_FILE_MAX) return undefined;
    const bytes = Buffer.allocUnsafe(Math.max(size, got));
    first.copy(bytes, 0, 0, got);
    let have = got;
    while (have < bytes.length) {
      const n = readSync(fd, bytes, have, bytes.length - have, have);
      if (n === 0) break;
      have += n;
    }
    return bytes.subarray(0, have);
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The current path of a message in cur/, following a rename of its flags by anyone. */
export async function currentPath(root: string, base: string, file: string): Promise<string> {
  const path = join(root, "cur", file);
  // A blocking stat costs microseconds; a thread-pool round trip per message costs more.
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    return path; // exists but cannot be examined: the caller's open reports why
  }
  if (st !== undefined) return path;
  const renamed = (await readdir(join(root, "cur"))).find((f) => maildirBase(f) === base);
  if (renamed === undefined) throw new MailError("notFound", `message ${base} vanished`);
  return join(root, "cur", renamed);
}

export class MaildirStore {
  private constructor(
    readonly root: string,
    private readonly lockTimeoutMs: number,
  ) {}

  /** Open (creating cur/ new/ tmp/ when missing, mode 0700) the Maildir at `root`. */
  static async open(root: string, opts: MaildirStoreOptions = {}): Promise<MaildirStore> {
    await ensureMaildir(root);
    return new MaildirStore(root, opts.lockTimeoutMs ?? 10_000);
  }

  /** Bring the uidlist up to date with the directories and return every message by UID. */
  async sync(): Promise<MaildirSnapshot> {
    const list = await syncIndex(this.root, { lockTimeoutMs: this.lockTimeoutMs });
    return {
      uidValidity: list.uidValidity,
      messages: list.records.map((r) => ({
        uid: r.uid,
        base: r.base,
        file: r.info !== undefined ? `${r.base}:${r.info}` : r.base,
        crlfSize: r.crlfSize ?? 0,
      })),
    };
  }

  /** The session lock (POP3: one session per mailbox); fails with MailError "in-use". */
  sessionLock(name = "postern-pop3.lock"): Promise<SessionLock> {
    return trySessionLock(join(this.root, name));
  }

  /** Full path of a message's file, following a rename of its flags since the sync. */
  messagePath(msg: MaildirMessage): Promise<string> {
    return currentPath(this.root, msg.base, msg.file).catch((err: unknown) => {
      if (err instanceof MailError) throw new MailError("notFound", `message uid=${msg.uid} vanished`);
      throw err;
    });
  }

  /**
   * Unlink the messages and forget their UIDs; returns how many files were removed. Done
   * under the folder lock and recorded in the index, so no sync need read cur/ for them, and
   * no STORE's rename in another process can hide them (see sync.ts).
   */
  async expunge(msgs: readonly MaildirMessage[]): Promise<number> {
    const bases = new Set(msgs.map((m) => m.base));
    return withSyncedIndex(this.root, { lockTimeoutMs: this.lockTimeoutMs }, async (list) => {
      let removed = 0;
      for (const msg of msgs) {
        try {
          await unlink(await this.messagePath(msg));
          removed++;
        } catch (err) {
          if (!(err instanceof MailError && err.kind === "notFound")) throw err;
        }
      }
      const records = list.records.filter((r) => !bases.has(r.base));
      if (records.length === list.records.length) return { result: removed };
      const highestModseq = (list.highestModseq ?? 1) + 1;
      return { list: { ...list, records, highestModseq }, result: removed, curChangesRecorded: true };
    });
  }
}
