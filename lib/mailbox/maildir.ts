/*
 * maildir — a Maildir mail store with stable UIDs (what POP3 reads now and IMAP extends):
 * new/ → cur/ moves, UIDs and CRLF sizes kept in the uidlist (uidlist.ts), message files
 * opened by UID, deletion by unlink.
 *
 * Maildir: cr.yp.to/proto/maildir.html; file names as local delivery and Dovecot write them,
 * "<base>:2,<flags>" in cur/, where <base> may carry ",S=<size>" (LF form) and ",W=<size>"
 * (CRLF form, RFC 1939 sizes). A sync takes the short uidlist lock, moves new/ to cur/,
 * gives new base names the next UIDs in name (= delivery time) order, drops vanished ones,
 * and computes missing CRLF sizes once. Concurrent delivery is safe: a file that lands in
 * new/ after the sync is simply seen by the next one.
 * Talks to: the file system only. Security: runs as the mailbox owner; file names from the
 * directory are used as single path components only.
 */
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, MailError } from "./errors.js";
import { type SessionLock, trySessionLock, withFileLock } from "./locks.js";
import {
  formatUidlist,
  newUidValidity,
  parseUidlist,
  UIDLIST_NAME,
  type Uidlist,
  type UidRecord,
} from "./uidlist.js";

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

/** The base name of a Maildir file: everything before the ":" info part. */
export function maildirBase(file: string): string {
  const colon = file.indexOf(":");
  return colon < 0 ? file : file.slice(0, colon);
}

/** The CRLF size a writer recorded in the name (",W=<n>"), if any. */
export function sizeFromName(base: string): number | undefined {
  const m = /,W=(\d{1,15})(?:,|$)/.exec(base);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** Octets of the file in CRLF form: its size plus one for every LF without a CR before it. */
export async function crlfSizeOfFile(path: string): Promise<number> {
  let size = 0;
  let prev = -1;
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) {
      const before = i > 0 ? chunk[i - 1] : prev;
      if (before !== 0x0d) size++;
    }
    prev = chunk[chunk.length - 1] ?? prev;
  }
  return size;
}

function visible(name: string): boolean {
  return !name.startsWith(".");
}

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter(visible);
}

export class MaildirStore {
  private constructor(
    readonly root: string,
    private readonly lockTimeoutMs: number,
  ) {}

  /** Open (creating cur/ new/ tmp/ when missing, mode 0700) the Maildir at `root`. */
  static async open(root: string, opts: MaildirStoreOptions = {}): Promise<MaildirStore> {
    try {
      for (const sub of ["cur", "new", "tmp"]) await mkdir(join(root, sub), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new MailError(errnoCode(err) === "EACCES" ? "perm" : "temp", `open ${root}: ${String(err)}`);
    }
    return new MaildirStore(root, opts.lockTimeoutMs ?? 10_000);
  }

  /** Bring the uidlist up to date with the directories and return every message by UID. */
  sync(): Promise<MaildirSnapshot> {
    return withFileLock(join(this.root, `${UIDLIST_NAME}.lock`), this.lockTimeoutMs, () => this.syncLocked());
  }

  /** The session lock (POP3: one session per mailbox); fails with MailError "in-use". */
  sessionLock(name = "postern-pop3.lock"): Promise<SessionLock> {
    return trySessionLock(join(this.root, name));
  }

  /** Full path of a message's file, following a rename of its flags since the sync. */
  async messagePath(msg: MaildirMessage): Promise<string> {
    const path = join(this.root, "cur", msg.file);
    const found = await stat(path).then(
      () => true,
      (e: unknown) => errnoCode(e) !== "ENOENT",
    );
    if (found) return path;
    const renamed = (await listDir(join(this.root, "cur"))).find((f) => maildirBase(f) === msg.base);
    if (renamed === undefined) throw new MailError("notFound", `message uid=${msg.uid} vanished`);
    return join(this.root, "cur", renamed);
  }

  /** Unlink the messages and forget their UIDs; returns how many files were removed. */
  async expunge(msgs: readonly MaildirMessage[]): Promise<number> {
    let removed = 0;
    for (const msg of msgs) {
      try {
        await unlink(await this.messagePath(msg));
        removed++;
      } catch (err) {
        if (!(err instanceof MailError && err.kind === "notFound")) throw err;
      }
    }
    await this.sync();
    return removed;
  }

  private async readUidlist(): Promise<Uidlist> {
    const text = await readFile(join(this.root, UIDLIST_NAME), "utf8").catch((e: unknown) => {
      if (errnoCode(e) === "ENOENT") return "";
      throw e;
    });
    return parseUidlist(text) ?? { uidValidity: newUidValidity(), nextUid: 1, records: [] };
  }

  private async writeUidlist(list: Uidlist): Promise<void> {
    const tmp = join(this.root, `${UIDLIST_NAME}.tmp`);
    await writeFile(tmp, formatUidlist(list), { mode: 0o600 });
    await rename(tmp, join(this.root, UIDLIST_NAME));
  }

  /** Move everything in new/ to cur/ with an empty info part. */
  private async moveNew(): Promise<void> {
    for (const name of await listDir(join(this.root, "new"))) {
      const target = name.includes(":") ? name : `${name}:2,`;
      await rename(join(this.root, "new", name), join(this.root, "cur", target)).catch((e: unknown) => {
        if (errnoCode(e) !== "ENOENT") throw e;
      });
    }
  }

  private async syncLocked(): Promise<MaildirSnapshot> {
    const old = await this.readUidlist();
    await this.moveNew();
    const files = new Map<string, string>();
    for (const f of await listDir(join(this.root, "cur"))) files.set(maildirBase(f), f);
    const kept = old.records.filter((r) => files.has(r.base));
    const known = new Set(kept.map((r) => r.base));
    let nextUid = old.nextUid;
    const added: UidRecord[] = [...files.keys()]
      .filter((b) => !known.has(b))
      .sort()
      .map((base) => ({ uid: nextUid++, base }));
    const records = await this.withSizes([...kept, ...added], files);
    const list: Uidlist = { uidValidity: old.uidValidity, nextUid, records };
    const changed =
      added.length > 0 || kept.length !== old.records.length || records.some((r, i) => r !== kept[i]);
    if (changed || old.records.length === 0) await this.writeUidlist(list);
    return {
      uidValidity: list.uidValidity,
      messages: records.map((r) => ({
        uid: r.uid,
        base: r.base,
        file: files.get(r.base) ?? r.base,
        crlfSize: r.crlfSize ?? 0,
      })),
    };
  }

  private async withSizes(records: UidRecord[], files: Map<string, string>): Promise<UidRecord[]> {
    const out: UidRecord[] = [];
    for (const r of records) {
      if (r.crlfSize !== undefined) {
        out.push(r);
        continue;
      }
      const named = sizeFromName(r.base);
      const size = named ?? (await crlfSizeOfFile(join(this.root, "cur", files.get(r.base) ?? r.base)));
      out.push({ ...r, crlfSize: size });
    }
    return out;
  }
}
