/*
 * privileges — what `postern check` verifies and `postern set-permissions` repairs about
 * privilege separation: the users and group of main.cf exist (when run as root, as master
 * is: an unknown one is fatal), chroot = y services (refused by Node, warned), the owners
 * and modes of the queue, its sockets and the maillog (lib/master/permissions), and
 * whether the TLS keys are readable by the user smtpd and the login processes run as —
 * they are forked with no supplementary groups, so only owner, primary group (setgid_group)
 * and other bits count.
 * Talks to: the file system, /etc/passwd, /etc/group. Runs as root or as the sandbox's user.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { loadMainCf, type MainCf, type MasterService } from "../config/index.js";
import { P } from "../config/params.js";
import { confinementWarning } from "../master/confine.js";
import {
  idNames,
  ownersOf,
  PrivilegeError,
  type Privileges,
  readSystemAccounts,
  resolvePrivileges,
  roleUser,
  runningAsRoot,
  serviceRole,
} from "../master/identity.js";
import { unixSocketPath } from "../master/listeners.js";
import {
  type Expectation,
  type IdNames,
  maillogExpectation,
  type Owners,
  queueExpectations,
  socketExpectation,
  socketMode,
} from "../master/permissions.js";
import { CliFatal } from "./context.js";

export interface PrivilegeContext {
  /** Undefined when not root: nothing is dropped, only modes are compared. */
  readonly privs: Privileges | undefined;
  readonly owners: Owners | undefined;
  readonly names: IdNames;
}

/** Resolve the identities as master will; unknown users are fatal only for root. */
export function privilegeContext(main: MainCf): PrivilegeContext {
  const accounts = readSystemAccounts();
  const names = idNames(accounts);
  if (!runningAsRoot()) return { privs: undefined, owners: undefined, names };
  try {
    const privs = resolvePrivileges(main, accounts);
    return { privs, owners: ownersOf(privs), names };
  } catch (err) {
    if (err instanceof PrivilegeError) throw new CliFatal(`${main.file}: ${err.message}`);
    throw err;
  }
}

/** Every path whose owner and mode matter: the queue, the sockets of master.cf, the maillog. */
export function systemExpectations(
  main: MainCf,
  services: readonly MasterService[],
  owners: Owners | undefined,
): Expectation[] {
  const list = queueExpectations(main.get(P.queue_directory), owners);
  for (const svc of services) {
    if (svc.type !== "unix" && svc.type !== "fifo") continue;
    list.push(socketExpectation(unixSocketPath(svc, main), socketMode(svc), owners));
  }
  const log = maillogExpectation(main.get(P.maillog_file), owners);
  if (log) list.push(log);
  return list;
}

export function chrootWarnings(main: MainCf, services: readonly MasterService[]): string[] {
  return services.flatMap((svc) => {
    const text = confinementWarning(svc);
    return text ? [`${main.configDir}/${text}`] : [];
  });
}

/** Whether uid/gid (no supplementary groups) may read path, directories on the way included. */
export function readableBy(path: string, ids: { uid: number; gid: number }): boolean {
  const allowed = (p: string, bit: number): boolean => {
    const st = statSync(p);
    if (ids.uid === 0) return true;
    if (st.uid === ids.uid) return (st.mode & (bit << 6)) !== 0;
    if (st.gid === ids.gid) return (st.mode & (bit << 3)) !== 0;
    return (st.mode & bit) !== 0;
  };
  try {
    for (let dir = dirname(path); ; dir = dirname(dir)) {
      if (!allowed(dir, 1)) return false;
      if (dir === dirname(dir)) break;
    }
    return allowed(path, 4);
  } catch {
    return false;
  }
}

const TLS_FILES: Readonly<Record<string, readonly (typeof P)[keyof typeof P][]>> = {
  smtpd: [P.smtpd_tls_cert_file, P.smtpd_tls_key_file],
  "pop3-login": [P.ssl_cert, P.ssl_key],
  "imap-login": [P.ssl_cert, P.ssl_key],
};

/** Warnings for TLS files that exist but that a service's (dropped) user cannot read. */
export function tlsReadabilityWarnings(
  main: MainCf,
  services: readonly MasterService[],
  privs: Privileges,
): string[] {
  const out = new Set<string>();
  for (const svc of services) {
    const params = TLS_FILES[svc.command];
    const user = roleUser(privs, serviceRole(svc));
    if (!params || !user) continue;
    const config = loadMainCf(main.configDir, { overrides: svc.overrides });
    const ids = { uid: user.uid, gid: privs.group.gid };
    for (const p of params) {
      const file = String(config.get(p)).trim().replace(/^</, "");
      if (file === "" || !exists(file) || readableBy(file, ids)) continue;
      out.add(
        `${p.name} ${file} is not readable by ${user.name} (group ${privs.group.name}), ` +
          `the user ${svc.name}/${svc.type} runs as: TLS will be off for it`,
      );
    }
  }
  return [...out];
}

/** The files behind lookup tables smtpd opens itself (passwd-file:, hash: → .db). */
function mapFiles(specs: readonly string[]): string[] {
  return specs.flatMap((spec) => {
    const colon = spec.indexOf(":");
    const [type, path] = [spec.slice(0, colon), spec.slice(colon + 1)];
    if (type === "passwd-file") return [path];
    if (type === "hash") return [`${path}.db`];
    return [];
  });
}

/**
 * Warnings for local_recipient_maps files smtpd (as mail_owner) cannot read: every RCPT to
 * a local domain would then be answered 451 "Temporary lookup failure".
 */
export function recipientMapWarnings(
  main: MainCf,
  services: readonly MasterService[],
  privs: Privileges,
): string[] {
  const out = new Set<string>();
  for (const svc of services) {
    const user = svc.command === "smtpd" ? roleUser(privs, serviceRole(svc)) : undefined;
    if (!user) continue;
    const config = loadMainCf(main.configDir, { overrides: svc.overrides });
    const ids = { uid: user.uid, gid: privs.group.gid };
    for (const file of mapFiles(config.get(P.local_recipient_maps))) {
      if (!exists(file) || readableBy(file, ids)) continue;
      out.add(
        `local_recipient_maps: ${file} is not readable by ${user.name} (group ${privs.group.name}), ` +
          `the user ${svc.name}/${svc.type} runs as: local recipients will get 451 temporary failures`,
      );
    }
  }
  return [...out];
}

function exists(file: string): boolean {
  try {
    accessSync(file, constants.F_OK);
    return true;
  } catch {
    return false;
  }
}
