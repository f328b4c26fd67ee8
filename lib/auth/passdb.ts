/*
 * passdb — password lookups for the auth process: the Dovecot passwd-file (user_passdb)
 * and, when enabled, system users from /etc/passwd with their crypt hashes from
 * /etc/shadow (Dovecot's passdb shadow / userdb passwd).
 *
 * Names are looked up as given ("user" or "user@domain", Dovecot's username_format=%u);
 * system users only for names without a domain. The home field may use %u %n %d, expanded
 * for the looked-up name. A passwd-file entry wins over a system user of the same name.
 * Talks to: the file system (passwd-file cache in passwd-file.ts; /etc/passwd and
 * /etc/shadow are read per lookup — they are small and change under us).
 * Security: /etc/shadow is readable only by root; when it cannot be read a system user
 * gets no password (every login fails) and the error is reported through onWarning once
 * per call. Hashes are returned to the caller and never logged here.
 */
import { readFileSync } from "node:fs";
import { expandUserVars, readPasswdFile } from "./passwd-file.js";

/** Where system users come from unless PassdbOptions.passwdPath says otherwise. */
export const SYSTEM_PASSWD = "/etc/passwd";

export interface PassdbEntry {
  user: string;
  /** "{SCHEME}data" or a bare crypt string; "" = no usable password. */
  password: string;
  uid?: number;
  gid?: number;
  home: string;
  extra: Record<string, string>;
  source: "passwd-file" | "system";
}

export interface PassdbOptions {
  /** user_passdb; undefined = none. A missing file means no users. */
  passwdFile?: string;
  systemUsers?: boolean;
  passwdPath?: string;
  shadowPath?: string;
  onWarning?: (message: string) => void;
}

async function fromPasswdFile(
  user: string,
  file: string,
  opts: PassdbOptions,
): Promise<PassdbEntry | undefined> {
  let users: Awaited<ReturnType<typeof readPasswdFile>>;
  try {
    users = await readPasswdFile(file, opts.onWarning === undefined ? {} : { onWarning: opts.onWarning });
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const e = users.get(user);
  if (e === undefined) return undefined;
  const entry: PassdbEntry = {
    user: e.user,
    password: e.password,
    home: expandUserVars(e.home, e.user),
    extra: { ...e.extra },
    source: "passwd-file",
  };
  if (e.uid !== undefined) entry.uid = e.uid;
  if (e.gid !== undefined) entry.gid = e.gid;
  return entry;
}

/**
 * The fields of `name`'s line in a colon-separated system file, or undefined. Read with
 * blocking calls: the file is small and an asynchronous read is four thread-pool round
 * trips (open, fstat, read, close), each dearer than the system call.
 */
async function systemLine(path: string, name: string): Promise<string[] | undefined> {
  const text = readFileSync(path, "utf8");
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[0] === name) return fields;
  }
  return undefined;
}

async function shadowHash(name: string, opts: PassdbOptions): Promise<string> {
  try {
    const fields = await systemLine(opts.shadowPath ?? "/etc/shadow", name);
    const hash = fields?.[1] ?? "";
    return hash.startsWith("!") || hash.startsWith("*") ? "" : hash;
  } catch (e: unknown) {
    opts.onWarning?.(
      `shadow: cannot read ${opts.shadowPath ?? "/etc/shadow"}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
    );
    return "";
  }
}

async function fromSystem(user: string, opts: PassdbOptions): Promise<PassdbEntry | undefined> {
  if (user.includes("@") || user === "" || user.includes(":")) return undefined;
  const fields = await systemLine(opts.passwdPath ?? SYSTEM_PASSWD, user);
  if (fields === undefined || fields.length < 7) return undefined;
  const [, pw = "", uid = "", gid = "", , home = ""] = fields;
  const direct = pw !== "x" && pw !== "*" && !pw.startsWith("!") ? pw : "";
  const password = pw === "x" ? await shadowHash(user, opts) : direct;
  return { user, password, uid: Number(uid), gid: Number(gid), home, extra: {}, source: "system" };
}

/** Look a user up: passwd-file first, then system users when enabled. */
export async function lookupPassdb(user: string, opts: PassdbOptions): Promise<PassdbEntry | undefined> {
  if (opts.passwdFile !== undefined) {
    const found = await fromPasswdFile(user, opts.passwdFile, opts);
    if (found !== undefined) return found;
  }
  return opts.systemUsers === true ? fromSystem(user, opts) : undefined;
}
