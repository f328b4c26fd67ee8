/*
 * identity — as whom master starts each service (privilege separation, Postfix's
 * mail_owner and Dovecot's login_user / mail_uid).
 *
 * Master runs as root; every worker is forked with the uid and gid its service runs as, so
 * the worker never executes a line of code with more privilege than it needs (Node's fork
 * passes uid/gid to libuv, which calls setgroups(0, NULL), setgid and setuid in the child
 * before exec: the worker has no supplementary groups). The role comes from master.cf:
 *   unpriv n                      root (auth reads the passdb; local acts as each recipient)
 *   pop3-login, imap-login        login_user: no access to mail, queue or password data
 *   pop3, imap                    virtual_uid: the owner of virtual users' Maildirs
 *   anything else                 mail_owner: owns the queue
 * Every unprivileged worker runs with gid setgid_group, the one group all postern
 * processes share: it may append to maillog_file, traverse private/ to the sockets the
 * login processes need, and read the files in maildrop/ (which take that group).
 *
 * Only when master itself runs as root: otherwise (the dev sandbox, the tests) nothing is
 * dropped and every process runs as the invoking user, as before. A role whose uid and gid
 * equal master's own is not a drop either (a sandbox run as root names root everywhere).
 * Users and groups are read from /etc/passwd and /etc/group (Node has no getpwnam); a
 * decimal number is accepted for either. chroot (master.cf column 5) is lib/master/confine's.
 * Talks to: /etc/passwd, /etc/group.
 */
import type { MainCf, MasterService } from "../config/index.js";
import { P } from "../config/params.js";
import { lookupGroup, lookupUser, type RunAs, readSystemAccounts, type SystemAccounts } from "./accounts.js";
import type { IdNames, Owners } from "./permissions.js";

export { lookupGroup, lookupUser, type RunAs, readSystemAccounts, type SystemAccounts } from "./accounts.js";

export type ServiceRole = "root" | "mail_owner" | "login_user" | "virtual_uid";

/** The resolved identities of one configuration (only built when master runs as root). */
export interface Privileges {
  readonly mailOwner: RunAs;
  readonly loginUser: RunAs;
  readonly mailUser: RunAs;
  /** setgid_group: the group of maildrop/, public/ and private/, and every worker's gid. */
  readonly group: { readonly name: string; readonly gid: number };
}

export class PrivilegeError extends Error {}

const LOGIN_COMMANDS: ReadonlySet<string> = new Set(["pop3-login", "imap-login"]);
const MAIL_COMMANDS: ReadonlySet<string> = new Set(["pop3", "imap"]);

/** Whether this process can start others as another user. */
export function runningAsRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** The role master.cf gives a service (see the header). */
export function serviceRole(svc: Pick<MasterService, "unpriv" | "command">): ServiceRole {
  if (!svc.unpriv) return "root";
  if (LOGIN_COMMANDS.has(svc.command)) return "login_user";
  if (MAIL_COMMANDS.has(svc.command)) return "virtual_uid";
  return "mail_owner";
}

function requireUser(accounts: SystemAccounts, param: string, value: string): RunAs {
  const user = lookupUser(accounts, value);
  if (!user) throw new PrivilegeError(`${param}: unknown user: ${value} (create it with useradd --system)`);
  return user;
}

/** Resolve mail_owner, login_user, virtual_uid and setgid_group; unknown names are errors. */
export function resolvePrivileges(main: MainCf, accounts = readSystemAccounts()): Privileges {
  const groupName = main.get(P.setgid_group);
  const gid = lookupGroup(accounts, groupName);
  if (gid === undefined)
    throw new PrivilegeError(`setgid_group: unknown group: ${groupName} (create it with groupadd --system)`);
  return {
    mailOwner: requireUser(accounts, "mail_owner", main.get(P.mail_owner)),
    loginUser: requireUser(accounts, "login_user", main.get(P.login_user)),
    mailUser: requireUser(accounts, "virtual_uid", main.get(P.virtual_uid)),
    group: { name: groupName, gid },
  };
}

/** The user of a role, or undefined for root (the role that keeps master's identity). */
export function roleUser(privs: Privileges, role: ServiceRole): RunAs | undefined {
  if (role === "mail_owner") return privs.mailOwner;
  if (role === "login_user") return privs.loginUser;
  if (role === "virtual_uid") return privs.mailUser;
  return undefined;
}

/**
 * The uid/gid to fork a service's workers with, or undefined when nothing changes: no
 * privileges resolved (master is not root), an unpriv n service, or the same ids as master.
 */
export function forkIdentity(
  svc: Pick<MasterService, "unpriv" | "command">,
  privs: Privileges | undefined,
  self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
): { uid: number; gid: number } | undefined {
  if (!privs) return undefined;
  const user = roleUser(privs, serviceRole(svc));
  if (!user) return undefined;
  const ids = { uid: user.uid, gid: privs.group.gid };
  return ids.uid === self.uid && ids.gid === self.gid ? undefined : ids;
}

/** The owners the queue's permissions are checked against (lib/master/permissions). */
export function ownersOf(privs: Privileges): Owners {
  return { root: { uid: 0, gid: 0 }, mailOwner: privs.mailOwner, group: privs.group };
}

/** uid and gid → name for messages, from the system accounts (the number when unknown). */
export function idNames(accounts: SystemAccounts): IdNames {
  const users = new Map<number, string>();
  for (const [name, u] of accounts.users) if (!users.has(u.uid)) users.set(u.uid, name);
  const groups = new Map<number, string>();
  for (const [name, gid] of accounts.groups) if (!groups.has(gid)) groups.set(gid, name);
  return {
    user: (uid) => users.get(uid) ?? String(uid),
    group: (gid) => groups.get(gid) ?? String(gid),
  };
}
