/*
 * passwd-file — Dovecot's passwd-file format: parse, format, read (cached), and the %u %n
 * %d %h variables of its templates.
 *
 * One user per line, fields separated by ':':
 *   user:password:uid:gid:(gecos):home:(shell):extra_fields
 * Every field after the user is optional; uid, gid and home may be empty; the user may be
 * "user@domain". extra_fields are space-separated key=value pairs (a bare key means an
 * empty value) and may themselves contain ':' (userdb_quota_rule=*:storage=1G), so
 * everything after the seventh ':' is extra_fields. '#' comment lines and blank lines are
 * skipped. A bad line is reported through onWarning and skipped, not fatal — Dovecot logs
 * and ignores it; the first of duplicate users wins, as in Dovecot.
 * Talks to the file system (readPasswdFile). Security: the file holds password hashes; this
 * module never logs a password field, warnings name only file, line and user.
 */
import { ParsedFiles } from "../io/parsed-files.js";

export interface PasswdEntry {
  user: string;
  password: string;
  uid?: number;
  gid?: number;
  gecos: string;
  home: string;
  shell: string;
  extra: Record<string, string>;
  /** 1-based line number in the file. */
  line: number;
}

export class PasswdFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PasswdFileError";
  }
}

function parseId(field: string | undefined): number | undefined | null {
  if (field === undefined || field === "") return undefined;
  if (!/^\d{1,10}$/.test(field)) return null;
  const n = Number(field);
  return n <= 0xffffffff ? n : null;
}

function parseExtra(text: string): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const item of text.split(/[ \t]+/)) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key !== "" && !(key in extra)) extra[key] = eq < 0 ? "" : item.slice(eq + 1);
  }
  return extra;
}

/** Parse one non-comment line; a string result is the reason the line is bad. */
function parseLine(raw: string, line: number): PasswdEntry | string {
  const fields = raw.split(":");
  const user = fields[0] ?? "";
  if (user === "" || /\s/.test(user)) return "missing or invalid user name";
  const uid = parseId(fields[2]);
  const gid = parseId(fields[3]);
  if (uid === null) return `user ${user}: invalid uid`;
  if (gid === null) return `user ${user}: invalid gid`;
  const entry: PasswdEntry = {
    user,
    password: fields[1] ?? "",
    gecos: fields[4] ?? "",
    home: fields[5] ?? "",
    shell: fields[6] ?? "",
    extra: parseExtra(fields.slice(7).join(":")),
    line,
  };
  if (uid !== undefined) entry.uid = uid;
  if (gid !== undefined) entry.gid = gid;
  return entry;
}

/** Parse passwd-file text; bad lines and duplicate users go to onWarning and are skipped. */
export function parsePasswdFile(
  text: string,
  file: string,
  onWarning?: (message: string) => void,
): Map<string, PasswdEntry> {
  const users = new Map<string, PasswdEntry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] ?? "").replace(/\r$/, "");
    if (raw.trim() === "" || raw.trimStart().startsWith("#")) continue;
    const parsed = parseLine(raw, i + 1);
    if (typeof parsed === "string") {
      onWarning?.(`passwd-file ${file}, line ${i + 1}: ${parsed}: line ignored`);
    } else if (users.has(parsed.user)) {
      onWarning?.(`passwd-file ${file}, line ${i + 1}: user ${parsed.user} exists more than once`);
    } else {
      users.set(parsed.user, parsed);
    }
  }
  return users;
}

function checkField(name: string, value: string): string {
  if (/[:\r\n]/.test(value))
    throw new PasswdFileError(`passwd-file ${name} must not contain ':' or a newline`);
  return value;
}

/** One passwd-file line (no newline). Throws PasswdFileError for values that cannot be stored. */
export function formatPasswdEntry(e: Omit<PasswdEntry, "line">): string {
  const extra = Object.entries(e.extra).map(([k, v]) => {
    if (k === "" || /[\s=]/.test(k) || /[\s]/.test(v)) {
      throw new PasswdFileError(`passwd-file extra field "${k}" must be key=value without whitespace`);
    }
    return v === "" ? k : `${k}=${v}`;
  });
  if (e.user === "" || /\s/.test(e.user))
    throw new PasswdFileError("passwd-file user name must be non-empty without whitespace");
  const fields = [
    checkField("user", e.user),
    checkField("password", e.password),
    e.uid === undefined ? "" : String(e.uid),
    e.gid === undefined ? "" : String(e.gid),
    checkField("gecos", e.gecos),
    checkField("home", e.home),
    checkField("shell", e.shell),
  ];
  if (/[\r\n]/.test(extra.join(" ")))
    throw new PasswdFileError("passwd-file extra fields must not contain a newline");
  return extra.length === 0 ? fields.join(":") : `${fields.join(":")}:${extra.join(" ")}`;
}

const passwdFiles = new ParsedFiles<Map<string, PasswdEntry>>();

/**
 * Read and parse a passwd-file, cached per path until it changes (lib/io/parsed-files).
 * fs errors (ENOENT, EACCES) are thrown as they are; bad lines go to onWarning.
 */
export function readPasswdFile(
  path: string,
  opts: { onWarning?: (message: string) => void } = {},
): Promise<Map<string, PasswdEntry>> {
  return passwdFiles.get(path, (text) => parsePasswdFile(text, path, opts.onWarning));
}

/**
 * Expand Dovecot variables: %u user, %n user part, %d domain part, %h home, %% a '%'.
 * Long forms %{user} %{username} %{domain} %{home} and the case modifiers %Lu / %Uu are
 * understood too; anything else is left as written.
 */
export function expandUserVars(template: string, user: string, home?: string): string {
  const at = user.lastIndexOf("@");
  const values: Record<string, string> = {
    u: user,
    user,
    n: at < 0 ? user : user.slice(0, at),
    username: at < 0 ? user : user.slice(0, at),
    d: at < 0 ? "" : user.slice(at + 1),
    domain: at < 0 ? "" : user.slice(at + 1),
    h: home ?? "",
    home: home ?? "",
  };
  return template.replace(
    /%(?:([LU]?)([undh%])|\{(user|username|domain|home)\})/g,
    (whole: string, mod?: string, short?: string, long?: string) => {
      if (short === "%") return "%";
      const v = values[short ?? long ?? ""];
      if (v === undefined) return whole;
      return mod === "L" ? v.toLowerCase() : mod === "U" ? v.toUpperCase() : v;
    },
  );
}
