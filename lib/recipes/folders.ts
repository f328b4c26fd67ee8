/*
 * folders — write a message into the four kinds of folder procmail knows, byte for byte as
 * procmail 3.22 writes them (checked by the differential suite against /usr/bin/procmail):
 *
 *   name/    Maildir: lib/delivery/maildir.ts (tmp/ + fsync + link into new/); the From_
 *            line is removed and the message is written exactly as it is.
 *   name/.   MH: the next number in the directory, From_ line kept.
 *   dir      an existing plain directory: a new file msg.XXXX, From_ line kept.
 *   file     mbox: appended under an exclusive fcntl lock (os-lock; the dotlock is the
 *            recipe's `:` lockfile, taken by the caller, as procmail does), body lines
 *            starting with "From " quoted as ">From ", truncated back on failure.
 *
 * Except in Maildirs, and unless the recipe has the `r` flag, a message not ending in an
 * empty line gets one newline appended, as procmail does. /dev/null swallows everything.
 * Security: runs with the privileges of the rc file's owner; files are created 0600, and
 * opened with O_NOFOLLOW where we create them.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { lock, unlock } from "os-lock";
import { deliverToMaildir, makeDirs } from "../delivery/maildir.js";
import { ownerFor } from "../delivery/privs.js";

export type FolderKind = "maildir" | "mh" | "dir" | "mbox" | "null";

export interface FolderTarget {
  readonly kind: FolderKind;
  /** Absolute path of the folder (without the trailing "/" or "/."). */
  readonly path: string;
}

export interface FolderWrite {
  /** The file written, relative to the folder name as given (procmail's "Folder:" text). */
  readonly file: string;
  readonly size: number;
}

export interface WriteOptions {
  readonly uid?: number;
  readonly gid?: number;
}

/** Classify a folder name the way procmail does. */
export async function classifyFolder(name: string, absolute: string): Promise<FolderTarget> {
  if (absolute === "/dev/null") return { kind: "null", path: absolute };
  if (name.endsWith("/.")) return { kind: "mh", path: absolute.replace(/\/\.?$/, "") };
  if (name.endsWith("/")) return { kind: "maildir", path: absolute.replace(/\/+$/, "") };
  const st = await stat(absolute).catch(() => undefined);
  return { kind: st?.isDirectory() === true ? "dir" : "mbox", path: absolute };
}

const FROM_LINE = /^From [^\n]*\n/;

/** The message without its leading From_ line. */
export function withoutFromLine(message: Buffer): Buffer {
  const m = FROM_LINE.exec(message.subarray(0, 4096).toString("latin1"));
  return m === null ? message : message.subarray(m[0].length);
}

/** Append one newline unless the text already ends in an empty line (procmail, not `r`). */
export function withTrailingEmptyLine(data: Buffer): Buffer {
  const n = data.length;
  if (n >= 2 && data[n - 1] === 0x0a && data[n - 2] === 0x0a) return data;
  if (n === 1 && data[0] === 0x0a) return data;
  return Buffer.concat([data, Buffer.from("\n")]);
}

/** Quote lines starting with "From " from `bodyStart` on (procmail's mbox escaping of the body). */
export function quoteFromLines(data: Buffer, bodyStart: number): Buffer {
  if (bodyStart < 0 || bodyStart >= data.length) return data;
  const head = data.subarray(0, bodyStart);
  const body = data
    .subarray(bodyStart)
    .toString("latin1")
    .replace(/(^|\n)From /g, "$1>From ");
  return Buffer.concat([head, Buffer.from(body, "latin1")]);
}

/** Write `data` (already prepared by the caller) into the folder. */
export async function writeFolder(
  target: FolderTarget,
  data: Buffer,
  opts: WriteOptions,
): Promise<FolderWrite> {
  switch (target.kind) {
    case "null":
      return { file: "", size: data.length };
    case "maildir": {
      // procmail creates the Maildir itself but not missing parent directories
      if ((await stat(dirname(target.path)).catch(() => undefined))?.isDirectory() !== true) {
        throw new Error(`${dirname(target.path)}: no such directory`);
      }
      const ids = {
        ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
        ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
      };
      const res = await deliverToMaildir(target.path, once(data), { prepend: "", ...ids });
      return { file: `new/${res.file.slice(res.file.lastIndexOf("/") + 1)}`, size: res.size };
    }
    case "mh":
      return await writeNumbered(target.path, data, opts);
    case "dir":
      return await writeUnique(target.path, data, opts);
    case "mbox":
      return await appendMbox(target.path, data, opts);
  }
}

async function* once(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

async function createExclusive(path: string, data: Buffer, opts: WriteOptions): Promise<boolean> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, flags, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    await fh.write(data);
    const owner = ownerFor(opts.uid, opts.gid);
    if (owner !== undefined) await fh.chown(owner.uid, owner.gid);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/** MH: the next free number (highest existing + 1). */
async function writeNumbered(dir: string, data: Buffer, opts: WriteOptions): Promise<FolderWrite> {
  await makeDirs(dir, ownerFor(opts.uid, opts.gid));
  const names = await readdir(dir);
  let next = 1 + Math.max(0, ...names.filter((n) => /^\d+$/.test(n)).map(Number));
  for (let attempt = 0; attempt < 100; attempt++, next++) {
    if (await createExclusive(join(dir, String(next)), data, opts))
      return { file: String(next), size: data.length };
  }
  throw new Error(`${dir}: cannot find a free message number`);
}

/** A plain directory: procmail's msg.XXXX names. */
async function writeUnique(dir: string, data: Buffer, opts: WriteOptions): Promise<FolderWrite> {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (let attempt = 0; attempt < 100; attempt++) {
    const name = `msg.${[...randomBytes(4)].map((b) => alphabet[b % 64]).join("")}`;
    if (await createExclusive(join(dir, name), data, opts)) return { file: name, size: data.length };
  }
  throw new Error(`${dir}: cannot create a unique file`);
}

async function appendMbox(path: string, data: Buffer, opts: WriteOptions): Promise<FolderWrite> {
  const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  const fh = await open(path, flags, 0o600);
  try {
    const created = (await fh.stat()).size === 0;
    const owner = ownerFor(opts.uid, opts.gid);
    if (created && owner !== undefined) await fh.chown(owner.uid, owner.gid);
    await lock(fh.fd, { exclusive: true });
    const before = (await fh.stat()).size;
    try {
      await fh.write(data);
      await fh.sync();
    } catch (err) {
      await fh.truncate(before).catch(() => undefined);
      throw err;
    }
    return { file: "", size: data.length };
  } finally {
    await unlock(fh.fd).catch(() => undefined);
    await fh.close();
  }
}
