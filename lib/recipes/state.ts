/*
 * state — the mutable state of one recipe run: variables (procmail's environment), the
 * message, the working directory (MAILDIR), the LOGFILE and the log abstract.
 *
 * Variables start as procmail 3.22 sets them (HOME, LOGNAME, SHELL, PATH, SENDMAIL,
 * SENDMAILFLAGS, MAILDIR, DEFAULT, ORGMAIL, LOCKEXT, SHELLMETAS, ...) on top of the
 * context's environment. Every variable is exported to the programs we run. The abstract
 * is written exactly as procmail writes it:
 *   the From_ line, " Subject: ..." (the header line, at most 78 characters), and
 *   "  Folder: <name, at most 60 characters>" padded with tabs to column 72, then the size
 *   right-aligned in 7 columns.
 * Talks to the file system (LOGFILE appends). Message data is untrusted.
 */
import { appendFileSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { RecipeContext } from "./index.js";

export interface RunLog {
  /** Warnings for the maillog, "file:line: text". */
  readonly warnings: string[];
  /** Dry-run explanation lines. */
  readonly trace: string[];
}

export class RunState {
  vars: Map<string, string>;
  message: Buffer;
  cwd: string;
  score = 0;
  deliveredTo: string[] = [];
  readonly out: RunLog;

  constructor(
    readonly ctx: RecipeContext,
    message: Buffer,
    out: RunLog,
    vars?: Map<string, string>,
  ) {
    this.message = message;
    this.out = out;
    this.vars = vars ?? initialVariables(ctx);
    this.cwd = this.vars.get("MAILDIR") ?? ctx.home;
  }

  clone(): RunState {
    const copy = new RunState(this.ctx, this.message, this.out, new Map(this.vars));
    copy.cwd = this.cwd;
    copy.score = this.score;
    copy.deliveredTo = this.deliveredTo;
    return copy;
  }

  get(name: string): string | undefined {
    return this.vars.get(name);
  }

  set(name: string, value: string | undefined): void {
    if (value === undefined) this.vars.delete(name);
    else this.vars.set(name, value);
  }

  /** A path as procmail resolves it: relative to MAILDIR (procmail's current directory). */
  path(name: string): string {
    return resolve(this.cwd, name);
  }

  env(): Record<string, string> {
    return Object.fromEntries(this.vars);
  }

  /** Append raw text to LOGFILE (if set); errors writing the log are ignored, as procmail does. */
  logRaw(text: string): void {
    const file = this.vars.get("LOGFILE");
    if (file === undefined || file === "" || this.ctx.dryRun === true) return;
    try {
      appendFileSync(this.path(file), Buffer.from(text, "latin1"));
    } catch {
      // procmail carries on without its log
    }
  }

  /** A warning: to the result (maillog) with file and line, and to LOGFILE as procmail would. */
  warn(file: string, line: number, text: string): void {
    this.out.warnings.push(`${file}:${line}: ${text}`);
    this.logRaw(`procmail: ${text}\n`);
  }

  trace(text: string): void {
    if (this.ctx.dryRun === true) this.out.trace.push(text);
  }

  /** Log the abstract of a delivery (procmail's logabstract()). */
  logAbstract(folder: string, size: number): void {
    this.logRaw(formatAbstract(this.message, folder, size));
  }
}

function initialVariables(ctx: RecipeContext): Map<string, string> {
  const vars = new Map<string, string>(Object.entries(ctx.env ?? {}));
  const defaults: Record<string, string> = {
    HOME: ctx.home,
    LOGNAME: ctx.logname,
    USER: ctx.logname,
    SHELL: "/bin/sh",
    PATH: `${ctx.home}/bin:/usr/local/bin:/usr/bin:/bin`,
    SENDMAIL: ctx.sendmail[0] ?? "/usr/sbin/sendmail",
    SENDMAILFLAGS: "-oi",
    MAILDIR: ctx.home,
    ORGMAIL: ctx.defaultMailbox,
    DEFAULT: ctx.defaultMailbox,
    LOCKEXT: ".lock",
    MSGPREFIX: "msg.",
    SHELLMETAS: "&|<>~;?*[",
    HOST: hostname(),
    LOCKSLEEP: "8",
    LOCKTIMEOUT: "1024",
    TIMEOUT: "960",
    LINEBUF: "2048",
    SUSPEND: "16",
    SENDER: ctx.sender,
    RECIPIENT: ctx.recipient,
    EXTENSION: ctx.extension ?? "",
  };
  for (const [k, v] of Object.entries(defaults)) vars.set(k, v);
  return vars;
}

const FOLDER_MAX = 60;
const SUBJECT_MAX = 78;
const SIZE_COLUMN = 72;

/** procmail's three-line abstract. */
export function formatAbstract(message: Buffer, folder: string, size: number): string {
  const text = message.subarray(0, 65536).toString("latin1");
  let out = "";
  if (text.startsWith("From ")) out += `${text.slice(0, text.indexOf("\n") >>> 0)}\n`;
  const headerEnd = text.indexOf("\n\n");
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd + 1);
  const subject = /(?:^|\n)(Subject:[^\n]*)/i.exec(header);
  if (subject !== null) out += ` ${(subject[1] ?? "").slice(0, SUBJECT_MAX)}\n`;
  const name = folder.slice(0, FOLDER_MAX);
  let line = `  Folder: ${name}`;
  let col = line.length;
  while (col < SIZE_COLUMN) {
    line += "\t";
    col = (col + 8) & ~7;
  }
  return `${out}${line}${String(size).padStart(7, " ")}\n`;
}

/** procmail's booleans: on, y, t, e or a non-zero number are true. */
export function isTrue(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  const n = Number.parseInt(value, 10);
  if (!Number.isNaN(n)) return n !== 0;
  return /^(on|[yte])/i.test(value);
}
