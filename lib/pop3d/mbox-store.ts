/*
 * mbox-store — the Pop3Store for a UNIX mbox (mail_location = mbox:..., home_mailbox or
 * mail_spool_directory without a trailing slash): the same file local delivery appends to
 * (lib/delivery/mbox.ts), read with the inverse of its mboxrd quoting (mbox-parse.ts).
 *
 * Locking is the writer's, held for the whole session as Dovecot does: first the
 * `<mbox>.lock` dotlock (lib/delivery/dotlock.ts), then an exclusive fcntl() lock on the
 * open file. A delivery arriving meanwhile waits for the dotlock and, if the session
 * outlasts its lock timeout, defers (4.2.0) and is retried by qmgr. A second POP3 session
 * (in this process or another) finds the lock taken and gets MailError "in-use"
 * (-ERR [IN-USE]). Everything is read through the one locked descriptor: closing any other
 * descriptor of the file would drop this process' fcntl lock.
 *
 * DELE is applied at QUIT by writing the kept entries, byte for byte, to a temporary file
 * in the same directory, fsyncing it, giving it the old file's mode and owner, renaming it
 * over the mailbox and fsyncing the directory — still under the dotlock, so no delivery
 * can append to the old inode. A failure at any step leaves the original file untouched;
 * a dropped connection never gets here. UIDLs are content hashes (see mbox-parse.ts);
 * pop3_uidl_format does not apply to mbox.
 * Security: runs as the mailbox owner; the mailbox is opened with O_NOFOLLOW and must be
 * a regular file.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { unlock } from "os-lock";
import { acquireDotlock, type Dotlock } from "../delivery/dotlock.js";
import { errnoCode, MailError } from "../mailbox/errors.js";
import { fcntlLockWithin } from "../mailbox/locks.js";
import type { Pop3Store } from "../pop3/mail-engine.js";
import { toCrlf, topOf } from "./crlf.js";
import { type MboxEntry, MboxScanner, unquoted } from "./mbox-parse.js";
import { counted, newSessionStats, type Pop3SessionStats } from "./store.js";

export interface MboxPop3Options {
  /** How long to wait for the dotlock and the fcntl lock before answering [IN-USE] (default 5 s). */
  lockTimeoutMs?: number;
  /** Age after which a dotlock is stale (the dotlock default: five minutes). */
  staleLockMs?: number;
  /** Test seam for crash safety: runs after the new file is synced, before it replaces the old. */
  beforeReplace?: () => Promise<void>;
}

const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
const CHUNK = 64 * 1024;

/** Mailboxes with a session in this process (fcntl locks cannot tell two of ours apart). */
const holders = new Set<string>();

interface Held {
  dotlock: Dotlock;
  fh: FileHandle;
}

/** Bytes [start, end) of the open file, read by position in chunks. */
async function* readRange(fh: FileHandle, start: number, end: number): AsyncGenerator<Buffer> {
  for (let pos = start; pos < end; ) {
    const want = Math.min(CHUNK, end - pos);
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(want), 0, want, pos);
    if (bytesRead === 0) throw new MailError("temp", "mbox shrank while locked");
    pos += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** Exclusive fcntl lock, retried with backoff (no libuv thread parked in F_SETLKW). */
async function lockFcntl(fh: FileHandle, deadline: number, path: string): Promise<void> {
  if (await fcntlLockWithin(fh, Math.max(0, deadline - Date.now()), 500)) return;
  throw new MailError("in-use", `${path} is fcntl-locked by another process`);
}

async function takeDotlock(path: string, opts: MboxPop3Options): Promise<Dotlock> {
  try {
    return await acquireDotlock(path, {
      timeoutMs: opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
      ...(opts.staleLockMs !== undefined ? { staleMs: opts.staleLockMs } : {}),
    });
  } catch (err) {
    const held = await lstat(`${path}.lock`).then(
      () => true,
      () => false,
    );
    throw new MailError(held ? "in-use" : "temp", err instanceof Error ? err.message : String(err));
  }
}

/** Dotlock, then open and fcntl-lock the mailbox; undefined when there is no mailbox yet. */
async function lockMailbox(path: string, opts: MboxPop3Options): Promise<Held | undefined> {
  const exists = await lstat(path).then(
    () => true,
    (e: unknown) => (errnoCode(e) === "ENOENT" ? false : Promise.reject(e)),
  );
  if (!exists) return undefined;
  const deadline = Date.now() + (opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  const dotlock = await takeDotlock(path, opts);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, constants.O_RDWR | constants.O_NOFOLLOW);
    if (!(await fh.stat()).isFile()) throw new MailError("temp", `${path} is not a regular file`);
    await lockFcntl(fh, deadline, path);
    return { dotlock, fh };
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await dotlock.release();
    throw err;
  }
}

async function scanFile(fh: FileHandle): Promise<{ entries: MboxEntry[]; size: number }> {
  const size = (await fh.stat()).size;
  const scanner = new MboxScanner();
  for await (const chunk of readRange(fh, 0, size)) scanner.push(chunk);
  return { entries: scanner.end(), size };
}

export class MboxPop3Store implements Pop3Store {
  readonly stats: Pop3SessionStats = newSessionStats();
  private entries: readonly MboxEntry[] = [];
  private scannedSize = 0;

  private constructor(
    private readonly path: string,
    private held: Held | undefined,
    private readonly opts: MboxPop3Options,
  ) {}

  /** Lock the mailbox for this session and index its messages. */
  static async open(path: string, opts: MboxPop3Options = {}): Promise<MboxPop3Store> {
    if (holders.has(path)) throw new MailError("in-use", `${path} is locked by a session of this process`);
    holders.add(path);
    let self: MboxPop3Store | undefined;
    try {
      self = new MboxPop3Store(path, await lockMailbox(path, opts), opts);
      if (self.held !== undefined) {
        const { entries, size } = await scanFile(self.held.fh);
        self.entries = entries;
        self.scannedSize = size;
      }
    } catch (err) {
      if (self !== undefined) await self.close();
      else holders.delete(path);
      throw err;
    }
    self.stats.messages = self.entries.length;
    self.stats.size = self.entries.reduce((sum, e) => sum + e.crlfSize, 0);
    return self;
  }

  async list(): Promise<{ uidl: string; size: number }[]> {
    return this.entries.map((e) => ({ uidl: e.uidl, size: e.crlfSize }));
  }

  private entry(n: number): MboxEntry {
    const e = this.entries[n - 1];
    if (e === undefined || this.held === undefined) throw new MailError("notFound", `no message ${n}`);
    return e;
  }

  private crlfStream(n: number): AsyncIterable<Buffer> {
    const e = this.entry(n);
    return toCrlf(unquoted(readRange((this.held as Held).fh, e.bodyStart, e.contentEnd)));
  }

  async retrieve(n: number): Promise<AsyncIterable<Buffer>> {
    const body = this.crlfStream(n);
    this.stats.retr++;
    return counted(body, (k) => {
      this.stats.retrBytes += k;
    });
  }

  async top(n: number, lines: number): Promise<AsyncIterable<Buffer>> {
    const body = topOf(this.crlfStream(n), lines);
    this.stats.top++;
    return counted(body, (k) => {
      this.stats.topBytes += k;
    });
  }

  async commitDeletes(ns: number[]): Promise<void> {
    const doomed = new Set(ns.map((n) => this.entry(n)));
    await this.rewrite(this.entries.filter((e) => !doomed.has(e)));
    this.stats.deleted = doomed.size;
  }

  /** Replace the mailbox by one holding only `kept` (plus any preamble and late appends). */
  private async rewrite(kept: readonly MboxEntry[]): Promise<void> {
    const { fh } = this.held as Held;
    const old = await fh.stat();
    const firstStart = this.entries[0]?.entryStart ?? this.scannedSize;
    const ranges: Array<[number, number]> = [
      [0, firstStart],
      ...kept.map((e): [number, number] => [e.entryStart, e.entryEnd]),
      [this.scannedSize, old.size],
    ];
    const tmp = join(
      dirname(this.path),
      `.${basename(this.path)}.pop3.${process.pid}.${randomBytes(4).toString("hex")}`,
    );
    const out = await open(
      tmp,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
    try {
      try {
        for (const [start, end] of ranges)
          for await (const chunk of readRange(fh, start, end)) await out.write(chunk);
        await out.chmod(old.mode & 0o7777);
        if (process.getuid?.() === 0) await out.chown(old.uid, old.gid);
        await out.sync();
      } finally {
        await out.close();
      }
      await this.opts.beforeReplace?.();
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await syncDirectory(dirname(this.path));
  }

  async close(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) {
      await unlock(held.fh.fd).catch(() => undefined);
      await held.fh.close().catch(() => undefined);
      await held.dotlock.release();
    }
    holders.delete(this.path);
  }
}

/** Make a rename durable; some file systems refuse fsync on a directory, which is harmless. */
async function syncDirectory(dir: string): Promise<void> {
  const d = await open(dir, "r").catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close();
}
