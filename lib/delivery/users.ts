/*
 * users — who a local recipient is, and where their mailbox lives.
 *
 * Recipients resolve to virtual users (the Dovecot-format passwd-file, mail owned by a
 * virtual uid/gid) or, when local_system_users is on, to system accounts. Node has no
 * getpwnam(), so /etc/passwd (path injectable) is parsed; accounts only in NSS sources
 * such as LDAP are not seen. Address extensions (user+ext with recipient_delimiter) are
 * split off first, except for owner-list and list-request names (owner_request_special).
 * The mailbox location is, in order: Dovecot's mail_location (maildir:/mbox: with ~, %u,
 * %n, %d, %h; a passwd-file user's userdb_mail extra field overrides it), home_mailbox
 * (relative to home, trailing / = Maildir), mail_spool_directory/<user> (trailing / =
 * Maildir). Talks to the file system only to read passwd files (cached until they change).
 * Security: user names are validated before they become path components.
 */

import { join } from "node:path";
import { ParsedFiles } from "../io/parsed-files.js";

export interface UserInfo {
  /** The mailbox owner's name as looked up (lower-case local part, or user@domain for virtual users). */
  readonly user: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
  readonly kind: "virtual" | "system";
  /** Per-user mail_location override (passwd-file extra field userdb_mail). */
  readonly mailLocation?: string;
}

/** Looks up a local user by name (the part before the extension) and recipient domain. */
export type UserLookup = (user: string, domain: string) => Promise<UserInfo | undefined>;

/** The shape of lib/auth/passwd-file's PasswdEntry that this module needs. */
export interface PasswdFileEntry {
  readonly user: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly home: string;
  readonly shell: string;
  readonly extra: Readonly<Record<string, string>>;
}

export interface SplitAddress {
  readonly base: string;
  readonly extension?: string;
}

/** Split `user+ext` at the first delimiter character (Postfix accepts several one-character delimiters). */
export function splitExtension(local: string, delimiters: string, ownerRequestSpecial = true): SplitAddress {
  if (delimiters === "") return { base: local };
  if (ownerRequestSpecial && delimiters.includes("-")) {
    if (/^owner-/i.test(local) || /-request$/i.test(local)) return { base: local };
  }
  let at = -1;
  for (const d of delimiters) {
    const i = local.indexOf(d);
    if (i > 0 && (at < 0 || i < at)) at = i;
  }
  if (at <= 0) return { base: local };
  return { base: local.slice(0, at), extension: local.slice(at + 1) };
}

/** Parse /etc/passwd text into users keyed by name; malformed lines are skipped. */
export function parseSystemPasswd(text: string): Map<string, UserInfo> {
  const users = new Map<string, UserInfo>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("+") || line.startsWith("-")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    const [user = "", , uidText = "", gidText = "", , home = "", shell = ""] = f;
    const uid = Number(uidText);
    const gid = Number(gidText);
    if (user === "" || !Number.isInteger(uid) || !Number.isInteger(gid) || uidText === "" || gidText === "")
      continue;
    if (!users.has(user)) users.set(user, { user, uid, gid, home, shell, kind: "system" });
  }
  return users;
}

const systemPasswdFiles = new ParsedFiles<ReadonlyMap<string, UserInfo>>();

/** Read and parse a passwd(5) file, cached per path until it changes (lib/io/parsed-files). */
export function readSystemPasswd(path = "/etc/passwd"): Promise<ReadonlyMap<string, UserInfo>> {
  return systemPasswdFiles.get(path, parseSystemPasswd);
}

export interface UserResolverOptions {
  /** Virtual users (lib/auth/passwd-file readPasswdFile), or a function returning them fresh. */
  readonly virtualUsers?:
    | ReadonlyMap<string, PasswdFileEntry>
    | (() => Promise<ReadonlyMap<string, PasswdFileEntry>>);
  /** uid/gid for virtual users whose entry has none (Dovecot's mail_uid/mail_gid). */
  readonly virtualUid?: number;
  readonly virtualGid?: number;
  /** Whether system accounts receive mail (local_system_users). */
  readonly systemUsers: boolean;
  /** Path of the system passwd file (default /etc/passwd), re-read when it changes. */
  readonly systemPasswdPath?: string;
}

function fromPasswdEntry(e: PasswdFileEntry, opts: UserResolverOptions): UserInfo {
  const uid = e.uid ?? opts.virtualUid ?? process.getuid?.() ?? 0;
  const gid = e.gid ?? opts.virtualGid ?? process.getgid?.() ?? uid;
  const mail = e.extra["userdb_mail"] ?? e.extra["mail"];
  return {
    user: e.user,
    uid,
    gid,
    home: e.home,
    shell: e.shell,
    kind: "virtual",
    ...(mail !== undefined ? { mailLocation: mail } : {}),
  };
}

/** A UserLookup over virtual users (user@domain first, then user) and, if enabled, system users. */
export function createUserResolver(opts: UserResolverOptions): UserLookup {
  return async (user, domain) => {
    const source = opts.virtualUsers;
    const virtual = typeof source === "function" ? await source() : source;
    if (virtual !== undefined) {
      const entry = (domain !== "" ? virtual.get(`${user}@${domain}`) : undefined) ?? virtual.get(user);
      if (entry !== undefined) return fromPasswdEntry(entry, opts);
    }
    if (!opts.systemUsers) return undefined;
    const system = await readSystemPasswd(opts.systemPasswdPath);
    return system.get(user);
  };
}

export type MailboxLocation =
  | { readonly format: "maildir" | "mbox"; readonly path: string }
  | { readonly error: string };

export interface LocationConfig {
  readonly mailLocation: string;
  readonly homeMailbox: string;
  readonly mailSpoolDirectory: string;
  /** Recipient domain, for %d. */
  readonly domain?: string;
}

/** A user name safe to use as one path component. */
function safeComponent(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0");
}

/** Dovecot variable expansion: %u %n %d %h %%, the %{user} long forms, and a leading ~. */
export function expandMailVars(template: string, user: UserInfo, domain = ""): string {
  const at = user.user.indexOf("@");
  const name = at >= 0 ? user.user.slice(0, at) : user.user;
  const dom = at >= 0 ? user.user.slice(at + 1) : domain;
  const vars: Record<string, string> = { u: user.user, n: name, d: dom, h: user.home, "%": "%" };
  const long: Record<string, string> = { user: user.user, username: name, domain: dom, home: user.home };
  let out = template.replace(/%\{(\w+)\}|%([undh%])/g, (whole, longName?: string, short?: string) => {
    if (longName !== undefined) return long[longName] ?? whole;
    return vars[short ?? ""] ?? whole;
  });
  if (out === "~" || out.startsWith("~/")) out = user.home + out.slice(1);
  return out;
}

function fromMailLocation(location: string, user: UserInfo, domain: string): MailboxLocation {
  const colon = location.indexOf(":");
  const format = colon < 0 ? "" : location.slice(0, colon).toLowerCase();
  if (format !== "maildir" && format !== "mbox") return { error: `unsupported mail_location "${location}"` };
  const [root = "", ...params] = location.slice(colon + 1).split(":");
  const needsHome = root.startsWith("~") || root.includes("%h") || params.some((p) => p.includes("%h"));
  if (needsHome && user.home === "") return { error: `mail_location "${location}" needs a home directory` };
  if (format === "maildir") return { format, path: expandMailVars(root, user, domain) };
  const inbox = params.find((p) => p.toUpperCase().startsWith("INBOX="));
  const path = inbox !== undefined ? inbox.slice(6) : join(root, "inbox");
  return { format, path: expandMailVars(path, user, domain) };
}

/** Decide where `user`'s new mail goes. */
export function mailboxLocation(user: UserInfo, cfg: LocationConfig): MailboxLocation {
  const domain = cfg.domain ?? "";
  const location = user.mailLocation ?? cfg.mailLocation;
  if (location !== "") return fromMailLocation(location, user, domain);
  if (cfg.homeMailbox !== "") {
    if (user.home === "") return { error: `user ${user.user} has no home directory for home_mailbox` };
    const path = join(user.home, cfg.homeMailbox).replace(/(.)\/+$/, "$1");
    return cfg.homeMailbox.endsWith("/") ? { format: "maildir", path } : { format: "mbox", path };
  }
  if (!safeComponent(user.user)) return { error: `user name "${user.user}" cannot name a mailbox file` };
  const path = join(cfg.mailSpoolDirectory, user.user);
  return cfg.mailSpoolDirectory.endsWith("/") ? { format: "maildir", path } : { format: "mbox", path };
}
