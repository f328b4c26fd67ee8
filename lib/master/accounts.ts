/*
 * accounts — users and groups from /etc/passwd and /etc/group (Node has no getpwnam): for
 * master's privilege separation (identity.ts) and for mail processes that become the mail's
 * owner (lib/login/mail-user.ts). A decimal number is accepted for either.
 * Talks to: /etc/passwd, /etc/group.
 */
import { readFileSync } from "node:fs";

/** A user the workers of one role run as: its name (for messages), uid and gid. */
export interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

export interface SystemAccounts {
  readonly users: ReadonlyMap<string, { uid: number; gid: number }>;
  readonly groups: ReadonlyMap<string, number>;
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split("\n");
  } catch {
    return [];
  }
}

/** /etc/passwd and /etc/group as name → id maps (first entry of a name wins, as getpwnam). */
export function readSystemAccounts(passwdFile = "/etc/passwd", groupFile = "/etc/group"): SystemAccounts {
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of readLines(passwdFile)) {
    const [name = "", , uid = "", gid = ""] = line.split(":");
    if (name === "" || !/^\d+$/.test(uid) || !/^\d+$/.test(gid) || users.has(name)) continue;
    users.set(name, { uid: Number(uid), gid: Number(gid) });
  }
  const groups = new Map<string, number>();
  for (const line of readLines(groupFile)) {
    const [name = "", , gid = ""] = line.split(":");
    if (name !== "" && /^\d+$/.test(gid) && !groups.has(name)) groups.set(name, Number(gid));
  }
  return { users, groups };
}

/** A user by name or number; a number that is in no passwd entry keeps itself as its gid. */
export function lookupUser(accounts: SystemAccounts, nameOrId: string): RunAs | undefined {
  const byName = accounts.users.get(nameOrId);
  if (byName) return { name: nameOrId, ...byName };
  if (!/^\d+$/.test(nameOrId)) return undefined;
  const uid = Number(nameOrId);
  for (const [name, u] of accounts.users) if (u.uid === uid) return { name, ...u };
  return { name: nameOrId, uid, gid: uid };
}

export function lookupGroup(accounts: SystemAccounts, nameOrId: string): number | undefined {
  const byName = accounts.groups.get(nameOrId);
  if (byName !== undefined) return byName;
  return /^\d+$/.test(nameOrId) ? Number(nameOrId) : undefined;
}
