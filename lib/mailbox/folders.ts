/*
 * folders — a user's folder tree in Maildir++ layout (Courier's and Dovecot's): INBOX is the
 * Maildir root, folder "a/b" is the directory ".a.b" beside cur/ new/ tmp/, holding its own
 * Maildir and an empty "maildirfolder" file. The API speaks UTF-8 names with the IMAP
 * hierarchy separator (imap_hierarchy_separator, default "/"); on disk each name component
 * is modified UTF-7 (RFC 3501 §5.1.3, as Dovecot stores it) with "%" written "%25" and "."
 * (the on-disk separator) written "%2E" — so "a.b" is ".a%2Eb" and cannot be confused with
 * "a/b" (".a.b"). Folders created by other programs (".Lists" from procmail recipes) are
 * listed; directory names that do not decode are ignored.
 *
 * Rules (RFC 3501 §6.3, Dovecot's choices where the RFC leaves one):
 *   - INBOX is case-insensitive, cannot be deleted; renaming it moves its messages into the
 *     new folder and leaves INBOX empty.
 *   - a parent that does not exist but has children is listed \Noselect; DELETE of a folder
 *     with children is refused (Dovecot: "Mailbox has children, delete them first").
 *   - RENAME moves the children along; a folder cannot move under itself.
 *   - subscriptions are the file "subscriptions", one UTF-8 name per line.
 *   - special-use folders (RFC 6154) Drafts, Sent, Trash, Junk are known by name.
 * Security: every name is validated and encoded before it becomes one path component; no
 * "/" "\0" or control characters, no empty components, and "." cannot occur unescaped, so
 * ".." or absolute paths can never escape the mail directory.
 */
import { statSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode, MailError } from "./errors.js";
import { ensureMaildir } from "./maildir.js";
import { decodeMutf7, encodeMutf7 } from "./mutf7.js";
import { forgetIndex } from "./sync.js";
import { appendMessage } from "./transfer.js";

export const SPECIAL_USE: Readonly<Record<string, string>> = {
  Drafts: "\\Drafts",
  Sent: "\\Sent",
  Trash: "\\Trash",
  Junk: "\\Junk",
};
const SUBSCRIPTIONS = "subscriptions";

export interface FolderEntry {
  readonly name: string;
  /** \HasChildren or \HasNoChildren, \Noselect, \Subscribed, special-use. */
  readonly attributes: readonly string[];
}

function isInbox(name: string): boolean {
  return name.toUpperCase() === "INBOX";
}

export class MailStore {
  constructor(
    /** The Maildir root (INBOX). */
    readonly root: string,
    readonly separator = "/",
  ) {}

  /** Canonical name ("inbox" → "INBOX") or MailError "badName". */
  normalize(name: string): string {
    const parts = name.split(this.separator);
    if (parts.some((p) => p === "") || /[\0-\x1f\x7f]/.test(name) || name.length > 1000)
      throw new MailError("badName", `invalid mailbox name ${JSON.stringify(name)}`);
    if (isInbox(parts[0] ?? "") && parts.length === 1) return "INBOX";
    return parts.join(this.separator);
  }

  /** The directory name (".a.b") of a folder; INBOX is "". */
  diskName(name: string): string {
    const canonical = this.normalize(name);
    if (canonical === "INBOX") return "";
    const enc = canonical
      .split(this.separator)
      .map((p) => encodeMutf7(p).replace(/%/g, "%25").replace(/\./g, "%2E"));
    if (enc.some((p) => p.includes("/"))) throw new MailError("badName", `invalid mailbox name ${name}`);
    return `.${enc.join(".")}`;
  }

  /** The folder's Maildir directory. */
  path(name: string): string {
    const disk = this.diskName(name);
    return disk === "" ? this.root : join(this.root, disk);
  }

  /** The API name of a directory name, or undefined when it is not a folder of ours. */
  nameOf(dirName: string): string | undefined {
    if (!dirName.startsWith(".") || dirName === "." || dirName === "..") return undefined;
    const parts: string[] = [];
    for (const enc of dirName.slice(1).split(".")) {
      if (enc === "" || /%(?!25|2E)/i.test(enc)) return undefined;
      const result = decodeMutf7(enc.replace(/%2E/gi, ".").replace(/%25/g, "%"));
      if (!result.ok) return undefined;
      const decoded = result.value;
      if (decoded.includes(this.separator) || /[\0-\x1f\x7f]/.test(decoded)) return undefined;
      parts.push(decoded);
    }
    return parts.join(this.separator);
  }

  private async folderNames(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true }).catch((e: unknown) => {
      if (errnoCode(e) === "ENOENT") return [];
      throw e;
    });
    const names: string[] = [];
    for (const e of entries) {
      const name = e.isDirectory() ? this.nameOf(e.name) : undefined;
      if (name !== undefined && !isInbox(name)) names.push(name);
    }
    return names;
  }

  /** Every folder, INBOX first, with \Noselect parents and child/subscription attributes. */
  async list(): Promise<FolderEntry[]> {
    const real = new Set(await this.folderNames());
    const all = new Set(["INBOX", ...real]);
    for (const name of real) {
      const parts = name.split(this.separator);
      for (let i = 1; i < parts.length; i++) all.add(parts.slice(0, i).join(this.separator));
    }
    const subs = new Set(await this.subscriptions());
    const sorted = [...all].sort((a, b) =>
      a === "INBOX" ? -1 : b === "INBOX" ? 1 : a < b ? -1 : a > b ? 1 : 0,
    );
    return sorted.map((name) => {
      const prefix = `${name}${this.separator}`;
      const attributes = [[...all].some((n) => n.startsWith(prefix)) ? "\\HasChildren" : "\\HasNoChildren"];
      if (name !== "INBOX" && !real.has(name)) attributes.push("\\Noselect");
      if (subs.has(name)) attributes.push("\\Subscribed");
      const special = SPECIAL_USE[name];
      if (special !== undefined) attributes.push(special);
      return { name, attributes };
    });
  }

  async exists(name: string): Promise<boolean> {
    // a blocking stat: cheaper than a thread-pool round trip, and APPEND asks it twice
    try {
      return statSync(this.path(name), { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      return false;
    }
  }

  /** CREATE (parents are not created: they are listed \Noselect, as Dovecot does). */
  async create(name: string): Promise<void> {
    const canonical = this.normalize(
      name.endsWith(this.separator) ? name.slice(0, -this.separator.length) : name,
    );
    if (canonical === "INBOX" || (await this.exists(canonical)))
      throw new MailError("exists", `mailbox ${canonical} already exists`);
    const dir = this.path(canonical);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      throw new MailError(
        errnoCode(err) === "EEXIST" ? "exists" : "temp",
        `create ${canonical}: ${String(err)}`,
      );
    }
    await ensureMaildir(dir);
    await writeFile(join(dir, "maildirfolder"), "", { mode: 0o600 });
  }

  /** Create the special-use folders that are missing (first login). */
  async ensureSpecialUse(): Promise<void> {
    for (const name of Object.keys(SPECIAL_USE)) {
      if (await this.exists(name)) continue;
      await this.create(name).catch((e: unknown) => {
        if (!(e instanceof MailError && e.kind === "exists")) throw e;
      });
      await this.subscribe(name);
    }
  }

  private async children(name: string): Promise<string[]> {
    const prefix = `${name}${this.separator}`;
    return (await this.folderNames()).filter((n) => n.startsWith(prefix));
  }

  /** DELETE: refuses INBOX and folders with children. */
  async delete(name: string): Promise<void> {
    const canonical = this.normalize(name);
    if (canonical === "INBOX") throw new MailError("perm", "INBOX cannot be deleted");
    if (!(await this.exists(canonical)))
      throw new MailError("notFound", `mailbox ${canonical} does not exist`);
    if ((await this.children(canonical)).length > 0)
      throw new MailError("hasChildren", `mailbox ${canonical} has children, delete them first`);
    // Rename first, so the folder disappears at once and a crash leaves no half folder.
    const trash = join(this.root, `..postern-deleting-${process.pid}-${Date.now()}`);
    await rename(this.path(canonical), trash);
    forgetIndex(this.path(canonical));
    await rm(trash, { recursive: true, force: true });
  }

  /** RENAME, children included; INBOX's messages move out and INBOX stays. */
  async rename(from: string, to: string): Promise<void> {
    const src = this.normalize(from);
    const dst = this.normalize(to);
    if (dst === "INBOX" || (await this.exists(dst)))
      throw new MailError("exists", `mailbox ${dst} already exists`);
    if (src === "INBOX") return this.renameInbox(dst);
    if (!(await this.exists(src))) throw new MailError("notFound", `mailbox ${src} does not exist`);
    if (dst.startsWith(`${src}${this.separator}`))
      throw new MailError("badName", `cannot move ${src} under itself`);
    const moves = [src, ...(await this.children(src))].map(
      (n) => [n, `${dst}${n.slice(src.length)}`] as const,
    );
    for (const [a, b] of moves) {
      await rename(this.path(a), this.path(b));
      forgetIndex(this.path(a));
    }
  }

  private async renameInbox(dst: string): Promise<void> {
    await this.create(dst);
    for (const sub of ["new", "cur"]) {
      for (const file of await readdir(join(this.root, sub))) {
        if (file.startsWith(".")) continue;
        await rename(join(this.root, sub, file), join(this.path(dst), sub, file)).catch((e: unknown) => {
          if (errnoCode(e) !== "ENOENT") throw e; // expunged meanwhile
        });
      }
    }
  }

  async subscriptions(): Promise<string[]> {
    const text = await readFile(join(this.root, SUBSCRIPTIONS), "utf8").catch((e: unknown) => {
      if (errnoCode(e) === "ENOENT") return "";
      throw e;
    });
    return text.split("\n").filter((l) => l !== "");
  }

  private async writeSubscriptions(names: readonly string[]): Promise<void> {
    const tmp = join(this.root, `${SUBSCRIPTIONS}.tmp`);
    await writeFile(tmp, names.map((n) => `${n}\n`).join(""), { mode: 0o600 });
    await rename(tmp, join(this.root, SUBSCRIPTIONS));
  }

  /** SUBSCRIBE (a folder need not exist, RFC 3501 §6.3.6). */
  async subscribe(name: string): Promise<void> {
    const canonical = this.normalize(name);
    const subs = await this.subscriptions();
    if (!subs.includes(canonical)) await this.writeSubscriptions([...subs, canonical]);
  }

  async unsubscribe(name: string): Promise<void> {
    const canonical = this.normalize(name);
    const subs = await this.subscriptions();
    if (!subs.includes(canonical)) throw new MailError("notFound", `${canonical} is not subscribed`);
    await this.writeSubscriptions(subs.filter((s) => s !== canonical));
  }

  /** APPEND into a folder by name. */
  async append(
    name: string,
    body: AsyncIterable<Uint8Array> | Uint8Array,
    opts: Parameters<typeof appendMessage>[2] = {},
  ): Promise<{ uid: number; uidValidity: number }> {
    if (!(await this.exists(name))) throw new MailError("notFound", `mailbox ${name} does not exist`);
    return appendMessage(this.path(name), body, opts);
  }
}
