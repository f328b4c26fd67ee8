/*
 * permissions — the owners and modes of the queue, its sockets and the maillog (Postfix's
 * postfix-files, as `postfix check` verifies and `postfix set-permissions` repairs them).
 *
 *   queue_directory           root            0755
 *   pid/                      root            0700   master's lock and pid file
 *   incoming/ active/ ...     mail_owner      0700   and every file below them
 *   private/                  mail_owner:G    0710   G may only reach the sockets made for it
 *   public/                   mail_owner:G    0711
 *   maildrop/                 mail_owner:G    3733
 *   private/<service>         mail_owner:G    0600, or 0660 for auth, pop3 and imap (the
 *                                                    sockets the login processes use)
 *   public/<service>          mail_owner:G    0666 for triggers (fifo services) and showq
 *                                                    (mailq for any user), else 0660
 *   maillog_file              group G, group-writable (every worker appends to it)
 * G is setgid_group (postdrop), the gid of every unprivileged worker (lib/master/identity).
 *
 * Two deliberate differences from Postfix, because Node programs cannot be set-gid (the
 * kernel ignores set-id bits on interpreted scripts) so `postern sendmail` runs with no
 * privilege at all: maildrop/ is 3733 (any user may drop a file but not list, read or
 * remove others'; files take group G so pickup reads them), not 1730; public/ is 0711, not
 * 2710, so any user's sendmail can wake pickup — the socket it reaches carries no data,
 * and public/cleanup is 0660 so only postern's own processes inject mail.
 *
 * Owners are compared and changed only when the caller knows them (master or the command
 * runs as root); unprivileged (the dev sandbox) only modes are. Talks to the file system.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { MasterService } from "../config/index.js";
import { QUEUE_DIRS } from "../queue/index.js";

/** Who owns what, by number, with names for messages. Undefined owners: compare modes only. */
export interface Owners {
  readonly root: { readonly uid: number; readonly gid: number };
  readonly mailOwner: { readonly name: string; readonly uid: number; readonly gid: number };
  readonly group: { readonly name: string; readonly gid: number };
}

export interface Expectation {
  readonly path: string;
  readonly what: "directory" | "socket" | "file";
  readonly uid?: number;
  /** Undefined: the group is not checked. */
  readonly gid?: number;
  /** The exact permission bits (07777), when checked. */
  readonly mode?: number;
  /** Bits that must be set, whatever the others are (the maillog's group write). */
  readonly bits?: number;
  /** Everything below the directory must be owned by uid too (queue files). */
  readonly tree?: boolean;
}

/** Owner, group and mode as found or wanted (undefined: not checked). */
export interface Ids {
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly mode?: number | undefined;
  readonly bits?: number | undefined;
}

export interface Problem {
  readonly path: string;
  readonly expected: Ids;
  readonly actual: Ids | "missing";
}

/** Names for ids in messages ("postern" rather than 105). */
export interface IdNames {
  user(uid: number): string;
  group(gid: number): string;
}

const DIR_MODES: Readonly<Record<string, number>> = {
  maildrop: 0o3733,
  public: 0o711,
  private: 0o710,
  pid: 0o700,
};
/** Directories whose group is G (the others' group does not matter). */
const GROUP_DIRS: ReadonlySet<string> = new Set(["maildrop", "public", "private"]);
/** Directories not holding mail_owner's queue files. */
const NOT_A_QUEUE: ReadonlySet<string> = new Set(["maildrop", "public", "private", "pid"]);
/** Commands whose private sockets the login processes (group G, not mail_owner) connect to. */
const LOGIN_REACHABLE: ReadonlySet<string> = new Set(["auth", "pop3", "imap"]);

/** The queue tree under queueDir, as the table in the header says. */
export function queueExpectations(queueDir: string, owners: Owners | undefined): Expectation[] {
  const out: Expectation[] = [
    { path: queueDir, what: "directory", mode: 0o755, ...(owners ? { uid: owners.root.uid } : {}) },
  ];
  for (const name of QUEUE_DIRS) {
    const root = name === "pid";
    const ids = !owners
      ? {}
      : {
          uid: root ? owners.root.uid : owners.mailOwner.uid,
          ...(GROUP_DIRS.has(name) ? { gid: owners.group.gid } : {}),
          ...(NOT_A_QUEUE.has(name) ? {} : { tree: true }),
        };
    out.push({ path: join(queueDir, name), what: "directory", mode: DIR_MODES[name] ?? 0o700, ...ids });
  }
  return out;
}

/** The mode of a service's socket (see the header). */
export function socketMode(svc: Pick<MasterService, "private" | "type" | "command">): number {
  if (svc.private) return LOGIN_REACHABLE.has(svc.command) ? 0o660 : 0o600;
  return svc.type === "fifo" || svc.command === "showq" ? 0o666 : 0o660;
}

export function socketExpectation(path: string, mode: number, owners: Owners | undefined): Expectation {
  return {
    path,
    what: "socket",
    mode,
    ...(owners ? { uid: owners.mailOwner.uid, gid: owners.group.gid } : {}),
  };
}

/** maillog_file: group G with group write; nothing to check for /dev/ files or without owners. */
export function maillogExpectation(file: string, owners: Owners | undefined): Expectation | undefined {
  if (!owners || file === "" || file.startsWith("/dev/")) return undefined;
  return { path: file, what: "file", gid: owners.group.gid, bits: 0o020 };
}

function statOf(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

const octal = (mode: number): string => mode.toString(8).padStart(4, "0");

function describe(e: Ids, names: IdNames | undefined): string {
  const parts: string[] = [];
  if (e.uid !== undefined) parts.push(`owner ${names ? names.user(e.uid) : e.uid}`);
  if (e.gid !== undefined) parts.push(`group ${names ? names.group(e.gid) : e.gid}`);
  if (e.mode !== undefined) parts.push(`mode ${octal(e.mode)}`);
  if (e.bits !== undefined) parts.push(`mode including ${octal(e.bits)}`);
  return parts.join(", ");
}

/** "PATH: expected owner postern, mode 0700; found owner root, mode 0755". */
export function formatProblem(p: Problem, names?: IdNames): string {
  const actual = p.actual === "missing" ? "missing" : `found ${describe(p.actual, names)}`;
  return `${p.path}: expected ${describe(p.expected, names)}; ${actual}`;
}

/** What differs between one expectation and the file system (nothing for a missing socket or log). */
export function inspectOne(e: Expectation): Problem[] {
  const st = statOf(e.path);
  const expected: Ids = { uid: e.uid, gid: e.gid, mode: e.mode, bits: e.bits };
  if (!st) return e.what === "directory" ? [{ path: e.path, expected, actual: "missing" }] : [];
  const mode = st.mode & 0o7777;
  const wrong =
    (e.uid !== undefined && st.uid !== e.uid) ||
    (e.gid !== undefined && st.gid !== e.gid) ||
    (e.mode !== undefined && mode !== e.mode) ||
    (e.bits !== undefined && (mode & e.bits) !== e.bits);
  const problems: Problem[] = [];
  if (wrong) problems.push({ path: e.path, expected, actual: { uid: st.uid, gid: st.gid, mode } });
  if (e.tree && e.uid !== undefined && st.isDirectory()) problems.push(...inspectTree(e.path, e.uid));
  return problems;
}

function inspectTree(dir: string, uid: number): Problem[] {
  const problems: Problem[] = [];
  for (const path of walk(dir)) {
    const st = statOf(path);
    if (st && st.uid !== uid) problems.push({ path, expected: { uid }, actual: { uid: st.uid } });
  }
  return problems;
}

/** Every path below dir (not following symbolic links). */
function* walk(dir: string): Generator<string> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    yield path;
    if (statOf(path)?.isDirectory()) yield* walk(path);
  }
}

export function inspect(list: readonly Expectation[]): Problem[] {
  return list.flatMap(inspectOne);
}

/**
 * Make the file system match: create missing directories, then set owner, group and
 * mode (and the owner of everything below a queue directory when `trees`). Returns one
 * line per change, for the caller to print or log.
 */
export function repair(list: readonly Expectation[], opts: { trees: boolean; names?: IdNames }): string[] {
  const done: string[] = [];
  for (const e of list) {
    let st = statOf(e.path);
    if (!st && e.what === "directory") {
      mkdirSync(e.path, { recursive: true, mode: e.mode ?? 0o700 });
      done.push(`created ${e.path}`);
      st = statOf(e.path);
    }
    if (!st) continue;
    done.push(...fixOne(e, st, opts.names));
    if (opts.trees && e.tree && e.uid !== undefined && st.isDirectory()) {
      for (const path of walk(e.path)) {
        if (statOf(path)?.uid === e.uid) continue;
        chownSync(path, e.uid, -1);
        done.push(`${path}: ${describe({ uid: e.uid }, opts.names)}`);
      }
    }
  }
  return done;
}

function fixOne(e: Expectation, st: Stats, names: IdNames | undefined): string[] {
  const done: string[] = [];
  const uid = e.uid !== undefined && st.uid !== e.uid ? e.uid : -1;
  const gid = e.gid !== undefined && st.gid !== e.gid ? e.gid : -1;
  if (uid !== -1 || gid !== -1) {
    chownSync(e.path, uid, gid);
    done.push(`${e.path}: ${describe({ uid: e.uid, gid: e.gid }, names)}`);
  }
  const have = st.mode & 0o7777;
  // chown(2) clears set-id bits: the mode is set afterwards, from what it should be.
  const want = e.mode ?? have | (e.bits ?? 0);
  if (want !== have || uid !== -1 || gid !== -1) {
    chmodSync(e.path, want);
    if (want !== have) done.push(`${e.path}: mode ${octal(want)}`);
  }
  return done;
}

/** The queue's directories: create the missing ones as they should be; report the others. */
export function ensureQueueTree(queueDir: string, owners: Owners | undefined): Problem[] {
  const dirs = queueExpectations(queueDir, owners);
  repair(
    dirs.filter((e) => !statOf(e.path)),
    { trees: false },
  );
  return inspect(dirs.map((e) => ({ ...e, tree: false })));
}
