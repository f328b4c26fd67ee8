/*
 * maildir — deliver one message into a Maildir (cr.yp.to/proto/maildir.html, Dovecot-compatible).
 *
 * The message is written to tmp/<unique> (O_EXCL, O_NOFOLLOW, mode 0600), fsynced, then
 * link()ed into new/<unique>,S=<size> (link never overwrites an existing file; rename is the
 * fallback on file systems without hard links), the tmp name is removed and new/ is fsynced:
 * only then is the delivery complete. The unique name is Dovecot's
 * `<secs>.M<usecs>P<pid>Q<n>.<host>` with "/" and ":" in the host escaped as \057 and \072,
 * and ",S=<size>" (the file size) so Dovecot can skip a stat(). On any failure the partial
 * tmp file is removed. Missing Maildir directories are created with mode 0700.
 * Cost: every step but the two fsyncs is a blocking call (open, write, fchown, link, unlink,
 * close, stat, mkdir only touch the page cache and the dentry cache: microseconds, where an
 * asynchronous call is a thread-pool round trip costing more than the call). The fsyncs wait
 * on the device: blocking while this is the process's only Maildir delivery in progress
 * (nobody waits; measured 0.4 ms CPU and 16 syscalls less per message than a thread-pool
 * fsync), asynchronous while others are, so that they proceed and their fsyncs overlap
 * (a local process may serve several qmgr connections). A Maildir found complete is
 * remembered per process; when it (or its tmp/ or new/) has been removed since, the open or
 * the link fails with ENOENT, and the Maildir is recreated and the step retried once.
 * Security: when running as root, created directories and the message file are chowned to
 * the recipient; otherwise the delivery is made as the current user.
 */
import {
  chownSync,
  closeSync,
  constants,
  fchownSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fsyncWhenAlone } from "../io/fsync.js";
import { writevFully } from "../io/write-fully.js";
import { chunksOf, type MessageContent } from "./content.js";
import { ownerFor, type Privs } from "./privs.js";
import { errnoOf, fileTooLarge } from "./status.js";

/** Maildir deliveries of this process between their start and their end. */
let deliveriesInProgress = 0;

/** fsync: blocking while no other Maildir delivery is in progress, else on the thread pool. */
function syncFile(fd: number, path: string): void | Promise<void> {
  return fsyncWhenAlone(fd, path, deliveriesInProgress <= 1);
}

export interface MaildirOptions {
  /** Header lines (Return-Path, Delivered-To) written before the content, with newlines. */
  readonly prepend: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Largest message accepted, in bytes; 0 or absent: no limit. */
  readonly sizeLimit?: number;
  /** Host name in the file name (default: os.hostname()). */
  readonly hostname?: string;
  /**
   * A name unique to this delivery (queue ID + recipient), used instead of a fresh unique
   * name. A repeated attempt then finds its earlier file in new/ and does not deliver twice:
   * what makes delivery exactly-once when a process dies between the delivery and the
   * queue's record of it.
   */
  readonly deliveryId?: string;
}

export interface MaildirResult {
  /** Full path of the delivered file in new/. */
  readonly file: string;
  readonly size: number;
  /** True when an earlier attempt with the same deliveryId had already delivered it. */
  readonly duplicate?: boolean;
}

let deliveryCounter = 0;

/** Dovecot's escaping of the host part of a Maildir file name. */
export function escapeMaildirHost(host: string): string {
  return host.replace(/\//g, "\\057").replace(/:/g, "\\072");
}

/** A new unique base name: `<secs>.M<usecs>P<pid>Q<n>.<host>`. */
export function maildirUniqueName(host: string): string {
  const nowMs = performance.timeOrigin + performance.now();
  const secs = Math.floor(nowMs / 1000);
  const usecs = Math.floor((nowMs - secs * 1000) * 1000);
  deliveryCounter++;
  return `${secs}.M${usecs}P${process.pid}Q${deliveryCounter}.${escapeMaildirHost(host)}`;
}

function makeDirsSync(path: string, owner: Privs | undefined): void {
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing !== undefined) {
    if (!existing.isDirectory())
      throw Object.assign(new Error(`${path}: not a directory`), { code: "ENOTDIR" });
    return;
  }
  const parent = dirname(path);
  if (parent !== path) makeDirsSync(parent, owner);
  try {
    mkdirSync(path, { mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) === "EEXIST") return;
    throw err;
  }
  if (owner !== undefined) chownSync(path, owner.uid, owner.gid);
}

/** mkdir -p with mode 0700, giving every directory we create (and only those) to `owner`. */
export async function makeDirs(path: string, owner: Privs | undefined): Promise<void> {
  makeDirsSync(path, owner);
}

/** Maildirs found or made complete by this process (a removed one is noticed by ENOENT). */
const knownMaildirs = new Set<string>();
/** Bound on knownMaildirs, so a process serving many mailboxes does not grow without end. */
const MAX_KNOWN_MAILDIRS = 10_000;

function ensureMaildirSync(dir: string, owner: Privs | undefined): void {
  makeDirsSync(dir, owner);
  for (const sub of ["tmp", "new", "cur"]) makeDirsSync(join(dir, sub), owner);
  if (knownMaildirs.size >= MAX_KNOWN_MAILDIRS) knownMaildirs.clear();
  knownMaildirs.add(dir);
}

/** The Maildir and its tmp/, new/, cur/, created as needed (see makeDirs). */
export async function ensureMaildir(dir: string, owner: Privs | undefined): Promise<void> {
  ensureMaildirSync(dir, owner);
}

/** Whether an error means the Maildir (or one of its subdirectories) is no longer there. */
function maildirGone(err: unknown): boolean {
  const code = errnoOf(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Run `step` in the Maildir `dir`, which is made complete first unless already known to be;
 * if a known Maildir turns out to be gone, it is recreated and `step` retried once.
 */
function inMaildir<T>(dir: string, owner: Privs | undefined, step: () => T): T {
  if (!knownMaildirs.has(dir)) {
    ensureMaildirSync(dir, owner);
    return step();
  }
  try {
    return step();
  } catch (err) {
    if (!maildirGone(err)) throw err;
    knownMaildirs.delete(dir);
    ensureMaildirSync(dir, owner);
    return step();
  }
}

/** The tmp/ file of a repeatable delivery: a leftover from a crashed attempt is overwritten. */
function openNamedTmp(dir: string, host: string, deliveryId: string): { fd: number; base: string } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const base = `${deliveryId}.${escapeMaildirHost(host)}`;
  return { fd: openSync(join(dir, "tmp", base), flags, 0o600), base };
}

function openUniqueTmp(dir: string, host: string): { fd: number; base: string } {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let attempt = 0; ; attempt++) {
    const base = maildirUniqueName(host);
    try {
      return { fd: openSync(join(dir, "tmp", base), flags, 0o600), base };
    } catch (err) {
      if (errnoOf(err) !== "EEXIST" || attempt >= 5) throw err;
    }
  }
}

function writeContent(fd: number, opts: MaildirOptions, content: MessageContent): number | Promise<number> {
  const limit = opts.sizeLimit ?? 0;
  const head = Buffer.from(opts.prepend, "utf8");
  if (Buffer.isBuffer(content)) {
    const size = head.length + content.length;
    if (limit > 0 && size > limit) throw fileTooLarge();
    writevFully(fd, [head, content]);
    return size;
  }
  return writeStream(fd, head, limit, content);
}

async function writeStream(
  fd: number,
  head: Buffer,
  limit: number,
  content: MessageContent,
): Promise<number> {
  let size = 0;
  const put = (buf: Buffer): void => {
    size += buf.length;
    if (limit > 0 && size > limit) throw fileTooLarge();
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
  };
  put(head);
  for await (const chunk of chunksOf(content)) put(chunk);
  return size;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    await syncFile(fd, dir);
  } finally {
    closeSync(fd);
  }
}

/** Move tmp → new without ever replacing an existing message; false if newPath existed. */
function publish(tmpPath: string, newPath: string): boolean {
  try {
    linkSync(tmpPath, newPath);
  } catch (err) {
    const code = errnoOf(err);
    if (code === "EEXIST") {
      unlinkSync(tmpPath);
      return false;
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw err;
    renameSync(tmpPath, newPath);
    return true;
  }
  unlinkSync(tmpPath);
  return true;
}

/** Deliver `content` (with opts.prepend before it) into the Maildir `dir`. */
export async function deliverToMaildir(
  dir: string,
  content: MessageContent,
  opts: MaildirOptions,
): Promise<MaildirResult> {
  deliveriesInProgress++;
  try {
    return await deliver(dir, content, opts);
  } finally {
    deliveriesInProgress--;
  }
}

async function deliver(dir: string, content: MessageContent, opts: MaildirOptions): Promise<MaildirResult> {
  const owner = ownerFor(opts.uid, opts.gid);
  const host = opts.hostname ?? hostname();
  const { fd, base } = inMaildir(dir, owner, () =>
    opts.deliveryId ? openNamedTmp(dir, host, opts.deliveryId) : openUniqueTmp(dir, host),
  );
  const tmpPath = join(dir, "tmp", base);
  let published = false;
  try {
    let size: number;
    try {
      size = await writeContent(fd, opts, content);
      if (owner !== undefined) fchownSync(fd, owner.uid, owner.gid);
      await syncFile(fd, tmpPath);
    } finally {
      closeSync(fd);
    }
    const newPath = join(dir, "new", `${base},S=${size}`);
    // new/ may have been removed while tmp/ remained: recreated like any missing part.
    const fresh = inMaildir(dir, owner, () => publish(tmpPath, newPath));
    published = true;
    await fsyncDirectory(join(dir, "new"));
    return fresh ? { file: newPath, size } : { file: newPath, size, duplicate: true };
  } finally {
    if (!published) {
      try {
        unlinkSync(tmpPath);
      } catch {
        // already gone
      }
    }
  }
}
