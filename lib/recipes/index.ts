/*
 * recipes — procmail-compatible filtering for local delivery (procmailrc(5), procmail 3.22).
 *
 * runRecipes() is what the local delivery agent calls for a recipient whose recipes are
 * enabled: it runs the site-wide rc file and then the user's (~/.procmailrc) against the
 * message, held in memory as procmail holds it, and delivers as they say (folders,
 * programs, forwarding), falling back to DEFAULT. It never throws for anything an rc file
 * does: errors become warnings naming the file and line, the mail still reaches DEFAULT,
 * and only a failure to deliver anywhere gives EX_TEMPFAIL (75) so the queue defers.
 * explainRecipes() is the same run with dryRun set (`postern recipe test`): nothing is
 * written, no program runs (unless dryRunPrograms allows `?` conditions and backquotes),
 * and the trace tells which recipe matched, why, and where the message would go.
 * Security: when uid/gid are given, every program runs as that user and created files
 * are given to it; the caller runs the user's rc only with the user's identity.
 */
import { asctime } from "../delivery/content.js";
import { Interpreter } from "./interpreter.js";
import { type RunLog, RunState } from "./state.js";

export interface RecipeContext {
  home: string;
  logname: string;
  /** Run programs as this user (when we are root) and give created files to it. */
  uid?: number;
  gid?: number;
  sender: string;
  recipient: string;
  extension?: string;
  /** DEFAULT and ORGMAIL: a Maildir path ending in "/" or an mbox path. */
  defaultMailbox: string;
  /** argv prefix used for `!` forwarding while SENDMAIL keeps its default. */
  sendmail: string[];
  /** rc files to run: the site-wide one first, then the user's. */
  siteRc?: string;
  userRc?: string;
  /** Extra environment variables, visible to the rc files and programs. */
  env?: Record<string, string>;
  /** Time limit per program, in milliseconds. */
  timeoutMs: number;
  /** Decide everything, deliver nothing, run no programs. */
  dryRun?: boolean;
  /** In a dry run, still run `?` condition programs and backquotes (they may have side effects). */
  dryRunPrograms?: boolean;
  /** rc text used instead of reading userRc (the `-f` of `postern recipe test`). */
  rcText?: { file: string; text: string };
}

export interface RecipeResult {
  /** 0 delivered, 75 EX_TEMPFAIL, or what EXITCODE/TRAP set. */
  exitCode: number;
  /** Files and programs the message went to. */
  deliveredTo: string[];
  /** Warnings for the maillog, naming file and line. */
  log: string[];
  /** The dry-run explanation. */
  trace?: string[];
}

/** Prepend the From_ line procmail would generate when the message has none. */
export function withFromLine(message: Buffer, sender: string, now: Date = new Date()): Buffer {
  if (message.subarray(0, 5).toString("latin1") === "From ") return message;
  const who = sender === "" ? "MAILER-DAEMON" : sender.replace(/[\s]/g, "_");
  return Buffer.concat([Buffer.from(`From ${who}  ${asctime(now)}\n`, "latin1"), message]);
}

/** Run the recipes against `message` and deliver it. */
export async function runRecipes(message: Buffer, ctx: RecipeContext): Promise<RecipeResult> {
  const out: RunLog = { warnings: [], trace: [] };
  const state = new RunState(ctx, withFromLine(message, ctx.sender), out);
  const interp = new Interpreter(state);
  try {
    if (ctx.siteRc !== undefined) {
      await interp.loadFile(ctx.siteRc, true);
      await interp.run();
    }
    if (!interp.finished) {
      if (ctx.rcText !== undefined) interp.pushText(ctx.rcText.text, ctx.rcText.file, 1);
      else if (ctx.userRc !== undefined) await interp.loadFile(ctx.userRc, true);
      await interp.run();
    }
    const exitCode = await interp.finish();
    const result: RecipeResult = { exitCode, deliveredTo: state.deliveredTo, log: out.warnings };
    return ctx.dryRun === true ? { ...result, trace: out.trace } : result;
  } catch (err) {
    out.warnings.push(`recipes: internal error: ${err instanceof Error ? err.message : String(err)}`);
    return {
      exitCode: 75,
      deliveredTo: state.deliveredTo,
      log: out.warnings,
      ...(ctx.dryRun === true ? { trace: out.trace } : {}),
    };
  }
}

/** The dry-run trace as text: which recipes matched, why, and where the message would go. */
export async function explainRecipes(message: Buffer, ctx: RecipeContext): Promise<string> {
  const result = await runRecipes(message, { ...ctx, dryRun: true });
  const lines = [...(result.trace ?? [])];
  for (const w of result.log) lines.push(`warning: ${w}`);
  lines.push(`exit status: ${result.exitCode}`);
  return `${lines.join("\n")}\n`;
}
