/*
 * harness — the differential test bench: run one case (rc file + message) through
 * postern's runRecipes() and through the real /usr/bin/procmail, each in its own temp
 * directory, and reduce both outcomes to comparable snapshots: every file under mail/
 * (Maildir unique names, msg.XXXX names and From_ dates normalized, the temp path
 * replaced by @DIR@), the LOGFILE (same normalization) and the exit code.
 * procmail runs in its normal delivery mode: `procmail -f SENDER /abs/rc < message`.
 */
import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runRecipes } from "../../lib/recipes/index.js";

export interface DiffCase {
  name: string;
  rc: string;
  message: string;
  sender?: string;
  /** Compare LOGFILE contents too. */
  log?: boolean;
  /** Extra files to create before the run, relative to the case directory. */
  files?: Record<string, string>;
  /** Directories to create under mail/. */
  dirs?: string[];
  /** procmail's clones (`c` blocks) outlive their parent: wait this long before looking. */
  settleMs?: number;
  /** A documented divergence: procmail is not compared, our snapshot must equal `expect`. */
  divergence?: string;
  expect?: { exitCode?: number; files?: Record<string, string> };
}

export interface Snapshot {
  exitCode: number;
  files: Record<string, string>;
  log: string;
}

export const PROCMAIL = "/usr/bin/procmail";
const SENDMAIL_SCRIPT = '#!/bin/sh\n{ echo "ARGS: $*"; cat; } >> "$(dirname "$0")/mail/forwarded"\n';

function preamble(dir: string): string {
  return `SHELL=/bin/sh\nLOCKSLEEP=1\nMAILDIR=${dir}/mail\nDEFAULT=${dir}/mail/default\nLOGFILE=${dir}/log\nSENDMAIL=${dir}/sendmail\n`;
}

function prepare(c: DiffCase, dir: string): void {
  mkdirSync(join(dir, "mail"), { recursive: true });
  for (const d of c.dirs ?? []) mkdirSync(join(dir, "mail", d), { recursive: true });
  for (const [name, text] of Object.entries(c.files ?? {}))
    writeFileSync(join(dir, name), text.replaceAll("@DIR@", dir));
  writeFileSync(join(dir, "sendmail"), SENDMAIL_SCRIPT);
  chmodSync(join(dir, "sendmail"), 0o755);
  writeFileSync(join(dir, "rc"), preamble(dir) + c.rc.replaceAll("@DIR@", dir), { mode: 0o644 });
}

const DATE =
  /\b(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \d{4}/g;

/** Unique names differ in length, so the abstract's tab padding after them is not compared. */
function normalize(text: string, dir: string): string {
  return normalizeNames(text, dir).replace(/^( {2}Folder: \S*(?:UNIQUE|XXXX))\t+ */gm, "$1 ");
}

function normalizeNames(text: string, dir: string): string {
  return text
    .replaceAll(dir, "@DIR@")
    .replace(DATE, "DATE")
    .replace(/new\/[^\s/]+/g, "new/UNIQUE")
    .replace(/msg\.[A-Za-z0-9_-]{4}/g, "msg.XXXX");
}

function walk(root: string, at: string, out: string[]): void {
  for (const name of readdirSync(at)) {
    const p = join(at, name);
    if (statSync(p).isDirectory()) {
      out.push(`${relative(root, p)}/`);
      walk(root, p, out);
    } else out.push(relative(root, p));
  }
}

function snapshot(dir: string, exitCode: number): Snapshot {
  const entries: string[] = [];
  walk(join(dir, "mail"), join(dir, "mail"), entries);
  const grouped = new Map<string, string[]>();
  for (const e of entries) {
    const key = normalize(e, dir);
    const content = e.endsWith("/") ? "<dir>" : normalize(readFileSync(join(dir, "mail", e), "latin1"), dir);
    grouped.set(key, [...(grouped.get(key) ?? []), content]);
  }
  const files: Record<string, string> = {};
  for (const key of [...grouped.keys()].sort()) {
    const contents = (grouped.get(key) ?? []).sort();
    files[key] = contents.length === 1 ? (contents[0] ?? "") : contents.join("\n<next file>\n");
  }
  const logPath = join(dir, "log");
  const log = existsSync(logPath) ? normalize(readFileSync(logPath, "latin1"), dir) : "";
  return { exitCode, files, log };
}

/** Remove a case directory; a straggling procmail clone may still be writing into it. */
async function removeLater(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch {
      await sleep(250);
    }
  }
}

export async function runPostern(c: DiffCase): Promise<Snapshot> {
  const dir = mkdtempSync(join(tmpdir(), "postern-rc-a-"));
  try {
    prepare(c, dir);
    const me = userInfo();
    const result = await runRecipes(Buffer.from(c.message, "latin1"), {
      home: me.homedir,
      logname: me.username,
      sender: c.sender ?? "sender@example.com",
      recipient: `${me.username}@example.org`,
      defaultMailbox: `/var/mail/${me.username}`,
      sendmail: ["/usr/sbin/sendmail"],
      userRc: join(dir, "rc"),
      timeoutMs: 10_000,
    });
    return snapshot(dir, result.exitCode);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runProcmail(c: DiffCase): Promise<Snapshot> {
  const dir = mkdtempSync(join(tmpdir(), "postern-rc-b-"));
  try {
    prepare(c, dir);
    const exitCode = await new Promise<number>((resolve) => {
      const child = execFile(
        PROCMAIL,
        ["-f", c.sender ?? "sender@example.com", join(dir, "rc")],
        { cwd: dir, timeout: 20_000 },
        (err) => {
          resolve(err === null ? 0 : typeof err.code === "number" ? err.code : -1);
        },
      );
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(Buffer.from(c.message, "latin1"));
    });
    if (c.settleMs !== undefined) await sleep(c.settleMs);
    return snapshot(dir, exitCode);
  } finally {
    await removeLater(dir);
  }
}
