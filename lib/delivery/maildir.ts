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
 * Security: when running as root, created directories and the message file are chowned to
 * the recipient; otherwise the delivery is made as the current user.
 */
import { constants } from "node:fs";
import { chown, type FileHandle, link, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { chunksOf, type MessageContent } from "./content.js";
import { ownerFor, type Privs } from "./privs.js";
import { errnoOf, fileTooLarge } from "./status.js";

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

/** mkdir -p with mode 0700, giving every directory we create (and only those) to `owner`. */
export async function makeDirs(path: string, owner: Privs | undefined): Promise<void> {
  const existing = await stat(path).catch(() => undefined);
  if (existing !== undefined) {
    if (!existing.isDirectory())
      throw Object.assign(new Error(`${path}: not a directory`), { code: "ENOTDIR" });
    return;
  }
  const parent = dirname(path);
  if (parent !== path) await makeDirs(parent, owner);
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (err) {
    if (errnoOf(err) === "EEXIST") return;
    throw err;
  }
  if (owner !== undefined) await chown(path, owner.uid, owner.gid);
}

/** The Maildir and its tmp/, new/, cur/, created as needed (see makeDirs). */
export async function ensureMaildir(dir: string, owner: Privs | undefined): Promise<void> {
  await makeDirs(dir, owner);
  for (const sub of ["tmp", "new", "cur"]) await makeDirs(join(dir, sub), owner);
}

/** The tmp/ file of a repeatable delivery: a leftover from a crashed attempt is overwritten. */
async function openNamedTmp(
  dir: string,
  host: string,
  deliveryId: string,
): Promise<{ fh: FileHandle; base: string }> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  const base = `${deliveryId}.${escapeMaildirHost(host)}`;
  return { fh: await open(join(dir, "tmp", base), flags, 0o600), base };
}

async function openUniqueTmp(dir: string, host: string): Promise<{ fh: FileHandle; base: string }> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  for (let attempt = 0; ; attempt++) {
    const base = maildirUniqueName(host);
    try {
      return { fh: await open(join(dir, "tmp", base), flags, 0o600), base };
    } catch (err) {
      if (errnoOf(err) !== "EEXIST" || attempt >= 5) throw err;
    }
  }
}

async function writeAll(fh: FileHandle, opts: MaildirOptions, content: MessageContent): Promise<number> {
  const limit = opts.sizeLimit ?? 0;
  let size = 0;
  const put = async (buf: Buffer): Promise<void> => {
    size += buf.length;
    if (limit > 0 && size > limit) throw fileTooLarge();
    await fh.write(buf);
  };
  await put(Buffer.from(opts.prepend, "utf8"));
  for await (const chunk of chunksOf(content)) await put(chunk);
  return size;
}

async function fsyncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Move tmp → new without ever replacing an existing message; false if newPath existed. */
async function publish(tmpPath: string, newPath: string): Promise<boolean> {
  try {
    await link(tmpPath, newPath);
  } catch (err) {
    const code = errnoOf(err);
    if (code === "EEXIST") {
      await unlink(tmpPath);
      return false;
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw err;
    await rename(tmpPath, newPath);
    return true;
  }
  await unlink(tmpPath);
  return true;
}

/** Deliver `content` (with opts.prepend before it) into the Maildir `dir`. */
export async function deliverToMaildir(
  dir: string,
  content: MessageContent,
  opts: MaildirOptions,
): Promise<MaildirResult> {
  const owner = ownerFor(opts.uid, opts.gid);
  await ensureMaildir(dir, owner);
  const host = opts.hostname ?? hostname();
  const { fh, base } = opts.deliveryId
    ? await openNamedTmp(dir, host, opts.deliveryId)
    : await openUniqueTmp(dir, host);
  const tmpPath = join(dir, "tmp", base);
  let published = false;
  try {
    let size: number;
    try {
      size = await writeAll(fh, opts, content);
      if (owner !== undefined) await fh.chown(owner.uid, owner.gid);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const newPath = join(dir, "new", `${base},S=${size}`);
    const fresh = await publish(tmpPath, newPath);
    published = true;
    await fsyncDirectory(join(dir, "new"));
    return fresh ? { file: newPath, size } : { file: newPath, size, duplicate: true };
  } finally {
    if (!published) await unlink(tmpPath).catch(() => undefined);
  }
}
