/*
 * confine — what master.cf's chroot column (= y) does for a postern worker.
 *
 * Postfix chroots such daemons into queue_directory so a compromised smtpd sees nothing
 * else of the file system. Node has no chroot(2) (not without a native module), so a
 * chroot = y worker instead runs under Node's permission model, which gives the same
 * guarantee for everything the JavaScript does: it may read only its own code, the
 * configuration directory, the queue, data_directory, the files main.cf names (maps,
 * certificates, passdb: every absolute path in a parameter value, with any suffix such as
 * ".db", except the mailbox locations) and the few system files name lookups need; it may write only the queue,
 * data_directory and the maillog file; it may not start programs or load native addons
 * (threads, which share its grants, it may). Like Postfix's, only services that stay inside the queue can be confined:
 * local, pipe, pop3 and imap reach mailboxes and users' files and fail when confined
 * (`postern check` says so).
 * Talks to: nothing (computes node command-line flags for lib/master/pool's fork).
 */
import { realpathSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MainCf, MasterService } from "../config/index.js";
import { P } from "../config/params.js";

/** Where the code lives: dist/ and node_modules/ under it (/usr/lib/postern in the package). */
const CODE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** System files read by name and address lookups. */
const SYSTEM_FILES = [
  "/etc/passwd",
  "/etc/group",
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/nsswitch.conf",
  "/etc/services",
  "/etc/mailname",
  "/etc/localtime",
];

/** Services that must reach mailboxes or users' files, which a confined worker cannot. */
const NEEDS_WHOLE_SYSTEM = new Set(["local", "pipe", "pop3", "imap", "virtual", "spawn"]);

/** Parameters that say where mailboxes are: what confinement keeps out of reach. */
const MAILBOX_PARAMS = new Set([
  "mail_location",
  "mail_spool_directory",
  "home_mailbox",
  "virtual_home",
  "mailbox_command",
]);

/** Absolute paths in a parameter value: "/x", "hash:/x", "maildir:/x/%u" (up to a % or $). */
export function pathsIn(value: string): string[] {
  const out: string[] = [];
  for (const m of value.matchAll(/(?:^|[\s,:=])(\/[^\s,%$]*)/g)) {
    const path = m[1] as string;
    if (path.length > 1 && !path.startsWith("/dev/")) out.push(path.replace(/\/+$/, ""));
  }
  return out;
}

function withRealPath(path: string): string[] {
  try {
    const real = realpathSync(path);
    return real === path ? [path] : [path, real];
  } catch {
    return [path];
  }
}

interface Grant {
  readonly raw: string;
  readonly base: string;
  readonly kind: "exact" | "prefix" | "tree";
}

function grant(raw: string): Grant {
  if (raw.endsWith("/*")) return { raw, base: raw.slice(0, -2), kind: "tree" };
  if (raw.endsWith("*")) return { raw, base: raw.slice(0, -1), kind: "prefix" };
  return { raw, base: raw, kind: "exact" };
}

function covers(w: Grant, e: Grant): boolean {
  if (w.kind === "prefix") return e.base.startsWith(w.base);
  if (w.kind === "tree") return e.base === w.base || e.base.startsWith(`${w.base}/`);
  return false;
}

/**
 * The grants without those another already covers, broadest first. Node 20 aborts at start
 * on some overlapping grants (an assertion in its permission radix tree, e.g. "/d/*" with
 * "/d"), and they add nothing.
 */
export function withoutOverlaps(paths: Iterable<string>): string[] {
  const order = { prefix: 0, tree: 1, exact: 2 };
  const sorted = [...new Set(paths)]
    .map(grant)
    .sort((a, b) => a.base.length - b.base.length || order[a.kind] - order[b.kind]);
  const kept: Grant[] = [];
  for (const g of sorted) if (!kept.some((k) => covers(k, g))) kept.push(g);
  return kept.map((g) => g.raw);
}

/** daemon_directory as a tree grant, when set (empty: the daemons under CODE_ROOT). */
function daemonDirectory(main: MainCf): string[] {
  const dir = main.get(P.daemon_directory).replace(/\/+$/, "");
  return dir.startsWith("/") && dir.length > 1 ? withRealPath(dir).map((p) => `${p}/*`) : [];
}

/** The node flags that confine a chroot = y service; [] for chroot = n. */
export function confinementArgv(main: MainCf, svc: Pick<MasterService, "chroot" | "overrides">): string[] {
  if (!svc.chroot) return [];
  const queue = main.get(P.queue_directory);
  const data = main.get(P.data_directory);
  const code = CODE_ROOT.replace(/\/+$/, "");
  const read = new Set<string>([
    ...withRealPath(code).map((p) => `${p}/*`),
    ...withRealPath(join(code, "node_modules")).map((p) => `${p}/*`),
    `${main.configDir}/*`,
    `${queue}/*`,
    `${data}/*`,
    ...daemonDirectory(main),
    ...SYSTEM_FILES,
  ]);
  const names = Object.values(P).map((p) => p.name);
  for (const name of new Set([...names, ...Object.keys(svc.overrides)])) {
    // Directories are granted as trees above; a mailbox location is exactly what stays out.
    if (MAILBOX_PARAMS.has(name) || name.endsWith("_directory")) continue;
    const value = name in svc.overrides ? main.expandText(svc.overrides[name] as string) : main.expand(name);
    for (const path of pathsIn(value)) read.add(`${path}*`);
  }
  const write = new Set<string>([`${queue}/*`, `${data}/*`]);
  const log = main.get(P.maillog_file);
  if (log.startsWith("/") && !log.startsWith("/dev/")) write.add(log);
  const flags = process.allowedNodeEnvironmentFlags;
  return [
    flags.has("--permission") ? "--permission" : "--experimental-permission",
    ...(flags.has("--disable-warning") ? ["--disable-warning=ExperimentalWarning"] : []),
    // Threads share the process' grants (auth hashes passwords in a worker_threads pool).
    "--allow-worker",
    ...withoutOverlaps(read).map((p) => `--allow-fs-read=${p}`),
    ...withoutOverlaps(write).map((p) => `--allow-fs-write=${p}`),
  ];
}

/** `postern check`'s note for a chroot = y service that cannot work confined. */
export function confinementWarning(
  svc: Pick<MasterService, "name" | "type" | "chroot" | "line" | "command">,
): string | undefined {
  if (!svc.chroot || !NEEDS_WHOLE_SYSTEM.has(svc.command)) return undefined;
  return (
    `master.cf, line ${svc.line}: ${svc.name}/${svc.type}: ${svc.command} must not be chrooted ` +
    "(it reaches mailboxes and users' files outside queue_directory); set its chroot column to n"
  );
}
