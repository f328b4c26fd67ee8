/*
 * mbox — append one message to a UNIX mailbox file, locked the way everyone else locks it.
 *
 * Locking is Dovecot's mbox_write_locks = dotlock fcntl, the conventions mutt, procmail and
 * Postfix honour: first `<mbox>.lock` (see dotlock.ts), then an exclusive fcntl() write lock
 * on the open file (os-lock, non-blocking attempts with backoff so no libuv thread is parked
 * in F_SETLKW). The message is written as an mboxrd entry: the From_ envelope line, the
 * prepended headers, the content with /^>*From / lines quoted, a newline if the content
 * lacked one, and an empty line. Then fsync. On ANY failure the file is truncated back to
 * its size before the delivery, so a reader never sees half a message.
 * Security: the file is opened with O_NOFOLLOW, must be a regular file with one link, and
 * when running as root must be owned by the recipient (Postfix's strict_mailbox_ownership);
 * a new mailbox is created with mode 0600 and given to the recipient.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { unlock } from "os-lock";
import { fcntlLockWithin } from "../mailbox/locks.js";
import { chunksOf, fromLine, MboxQuoter, type MessageContent } from "./content.js";
import { acquireDotlock } from "./dotlock.js";
import { ownerFor, type Privs } from "./privs.js";
import { DeliveryError, errnoOf, fileTooLarge } from "./status.js";

export interface MboxOptions {
  /** Envelope sender for the From_ line ("" is the null sender). */
  readonly sender: string;
  readonly arrival: Date;
  /** Header lines (Return-Path, X-Original-To, Delivered-To) written after the From_ line. */
  readonly prepend: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Largest mailbox file size, in bytes; 0 or absent: no limit. */
  readonly sizeLimit?: number;
  /** How long to wait for the dotlock and the fcntl lock each (default 20 s, as Postfix's 20 × 1 s). */
  readonly lockTimeoutMs?: number;
  /** Age after which a dotlock is stale (default five minutes). */
  readonly staleLockMs?: number;
}

const DEFAULT_LOCK_TIMEOUT_MS = 20_000;
const FLUSH_BYTES = 64 * 1024;

/** Open (or create, 0600) the mailbox file, refusing anything but a plain file we may own. */
async function openMailbox(path: string, owner: Privs | undefined): Promise<FileHandle> {
  const base = constants.O_WRONLY | constants.O_APPEND | constants.O_NOFOLLOW;
  let fh: FileHandle;
  try {
    fh = await open(path, base | constants.O_CREAT | constants.O_EXCL, 0o600);
    if (owner !== undefined) await fh.chown(owner.uid, owner.gid);
    return fh;
  } catch (err) {
    if (errnoOf(err) !== "EEXIST") throw err;
  }
  fh = await open(path, base);
  const st = await fh.stat();
  const problem = !st.isFile()
    ? "is not a regular file"
    : st.nlink !== 1
      ? "has more than one hard link"
      : owner !== undefined && st.uid !== owner.uid
        ? `is owned by uid ${st.uid}, not by the recipient`
        : undefined;
  if (problem !== undefined) {
    await fh.close();
    throw new DeliveryError("4.2.0", `destination ${path} ${problem}`);
  }
  return fh;
}

/** Exclusive fcntl lock on the whole file, retried with backoff until the deadline. */
async function lockFcntl(fh: FileHandle, timeoutMs: number): Promise<void> {
  if (await fcntlLockWithin(fh, timeoutMs, 1000)) return;
  throw new DeliveryError("4.2.0", "unable to lock for exclusive access: Resource temporarily unavailable");
}

/** Buffered appender that enforces the mailbox size limit. */
class LimitedWriter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  written = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly room: number,
  ) {}

  async put(buf: Buffer): Promise<void> {
    if (buf.length === 0) return;
    this.written += buf.length;
    if (this.written > this.room) throw fileTooLarge();
    this.pending.push(buf);
    this.pendingBytes += buf.length;
    if (this.pendingBytes >= FLUSH_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.write(data);
  }
}

async function writeEntry(out: LimitedWriter, content: MessageContent, opts: MboxOptions): Promise<void> {
  await out.put(Buffer.from(fromLine(opts.sender, opts.arrival) + opts.prepend, "utf8"));
  const quoter = new MboxQuoter();
  for await (const chunk of chunksOf(content)) await out.put(quoter.push(chunk));
  await out.put(quoter.end());
  await out.put(Buffer.from(quoter.endsWithNewline ? "\n" : "\n\n"));
  await out.flush();
}

/** Append `content` as one mbox entry to `path`; returns the number of bytes appended. */
export async function deliverToMbox(
  path: string,
  content: MessageContent,
  opts: MboxOptions,
): Promise<{ size: number }> {
  const timeoutMs = opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const dotlock = await acquireDotlock(path, {
    timeoutMs,
    ...(opts.staleLockMs !== undefined ? { staleMs: opts.staleLockMs } : {}),
  });
  try {
    const fh = await openMailbox(path, ownerFor(opts.uid, opts.gid));
    try {
      await lockFcntl(fh, timeoutMs);
      return await appendLocked(fh, content, opts);
    } finally {
      await unlock(fh.fd).catch(() => undefined);
      await fh.close();
    }
  } finally {
    await dotlock.release();
  }
}

async function appendLocked(
  fh: FileHandle,
  content: MessageContent,
  opts: MboxOptions,
): Promise<{ size: number }> {
  const originalSize = (await fh.stat()).size;
  const limit = opts.sizeLimit ?? 0;
  const out = new LimitedWriter(fh, limit > 0 ? limit - originalSize : Number.POSITIVE_INFINITY);
  try {
    await writeEntry(out, content, opts);
    await fh.sync();
    return { size: out.written };
  } catch (err) {
    await fh.truncate(originalSize).catch(() => undefined);
    await fh.sync().catch(() => undefined);
    throw err;
  }
}
