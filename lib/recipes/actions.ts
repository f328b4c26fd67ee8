/*
 * actions — carry out a recipe's action line: a folder (mbox, Maildir, MH, directory),
 * `| program` (delivering, or with `f` a filter that replaces the message, its header (h)
 * or its body (b)), and `! addresses` (forwarded through SENDMAIL SENDMAILFLAGS).
 *
 * What is written follows procmail 3.22: h/b select the parts, a message not ending in an
 * empty line gets a newline unless `r`, mbox bodies get ">From " quoting, Maildirs get the
 * message without its From_ line. A `:` lockfile (implicit: the folder + LOCKEXT) is a
 * dotlock (lib/delivery/dotlock.ts) held around the write. `w`/`W` make a program's exit
 * status count; `i` ignores a program that did not read all of its input.
 * In a dry run nothing is written and no program runs: the trace says what would happen.
 * Talks to the file system, lib/delivery and programs.ts. Runs as the rc file's user.
 */
import { constants } from "node:fs";
import { open, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { acquireDotlock } from "../delivery/dotlock.js";
import { splitMessage } from "./conditions.js";
import { type ExpandScope, expandWords } from "./expand.js";
import {
  classifyFolder,
  quoteFromLines,
  withoutFromLine,
  withTrailingEmptyLine,
  writeFolder,
} from "./folders.js";
import type { Flags } from "./parser.js";
import type { ProgramResult } from "./programs.js";
import type { RunState } from "./state.js";

export interface ActionHooks {
  readonly scope: ExpandScope;
  readonly file: string;
  readonly line: number;
  runProgram(argvOrCommand: string | string[], input: Buffer, capture: boolean): Promise<ProgramResult>;
}

export interface ActionResult {
  readonly ok: boolean;
  /** procmail's folder text for LASTFOLDER and the abstract. */
  readonly folder: string;
  readonly size: number;
}

const FAILED: ActionResult = { ok: false, folder: "", size: 0 };

/** The parts of the message the h/b flags select (both when neither is given). */
function selectedParts(message: Buffer, flags: Flags): { data: Buffer; bodyStart: number } {
  const h = flags.has("h");
  const b = flags.has("b");
  if (h === b) return { data: message, bodyStart: splitMessage(message).header.length + 1 };
  const { header, body } = splitMessage(message);
  if (h)
    return {
      data: header.length < message.length ? message.subarray(0, header.length + 1) : header,
      bodyStart: -1,
    };
  return { data: body, bodyStart: 0 };
}

/** Take the recipe's lockfile; resolves to a release function. */
async function takeLock(state: RunState, lockPath: string): Promise<() => Promise<void>> {
  const timeoutMs = Math.max(1, Number(state.get("LOCKTIMEOUT") ?? "1024")) * 1000;
  if (lockPath.endsWith(".lock")) {
    const held = await acquireDotlock(lockPath.slice(0, -5), { timeoutMs: Math.min(timeoutMs, 60_000) });
    return async () => await held.release();
  }
  const deadline = Date.now() + Math.min(timeoutMs, 60_000);
  for (;;) {
    try {
      const fh = await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o444);
      await fh.close();
      return async () => await unlink(lockPath).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

/** Run `work` holding the lock named by the recipe (`lock` "" = implicit from `implicitFrom`). */
export async function withRecipeLock<T>(
  state: RunState,
  lock: string | undefined,
  implicitFrom: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (lock === undefined || state.ctx.dryRun === true) return await work();
  let name = lock;
  if (name === "") {
    if (implicitFrom === undefined) return await work();
    name = `${implicitFrom}${state.get("LOCKEXT") ?? ".lock"}`;
  } else {
    name = (await expandWords(lock, scopeOf(state), { split: false }))[0] ?? lock;
  }
  const release = await takeLock(state, state.path(name));
  try {
    return await work();
  } finally {
    await release();
  }
}

function scopeOf(state: RunState): ExpandScope {
  return { get: (n) => state.get(n), backquote: async () => "" };
}

/** Deliver to the folder(s) named by `text`. */
export async function deliverFolder(
  state: RunState,
  text: string,
  flags: Flags,
  hooks: ActionHooks & { lock: string | undefined },
): Promise<ActionResult> {
  const names = await expandWords(text, hooks.scope, { split: true });
  const name = names[0] ?? "";
  const target = await classifyFolder(name, state.path(name));
  const parts = selectedParts(state.message, flags);
  let data = parts.data;
  if (target.kind === "maildir") data = withoutFromLine(data);
  else if (target.kind === "null") data = parts.data;
  else {
    if (!flags.has("r")) data = withTrailingEmptyLine(data);
    if (target.kind === "mbox" && parts.bodyStart >= 0) data = quoteFromLines(data, parts.bodyStart);
  }
  if (state.ctx.dryRun === true) {
    state.trace(`  would deliver to ${target.kind} ${target.path}`);
    return { ok: true, folder: name, size: data.length };
  }
  const implicit = target.kind === "mbox" ? name : undefined;
  try {
    const ids = {
      ...(state.ctx.uid !== undefined ? { uid: state.ctx.uid } : {}),
      ...(state.ctx.gid !== undefined ? { gid: state.ctx.gid } : {}),
    };
    const written = await withRecipeLock(state, hooks.lock, implicit, () => writeFolder(target, data, ids));
    const shown = written.file === "" ? name : `${name.replace(/\/\.?$/, "")}/${written.file}`;
    state.deliveredTo.push(
      target.kind === "mbox" || target.kind === "null" ? target.path : `${target.path}/${written.file}`,
    );
    return { ok: true, folder: shown, size: written.size };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    state.warn(hooks.file, hooks.line, `Error while writing to "${name}": ${why}`);
    return FAILED;
  }
}

/** `| command`, delivering or (with f) filtering. */
export async function runPipe(
  state: RunState,
  command: string,
  flags: Flags,
  hooks: ActionHooks & { lock: string | undefined },
): Promise<ActionResult> {
  const parts = selectedParts(state.message, flags);
  const input = flags.has("r") ? parts.data : withTrailingEmptyLine(parts.data);
  const filter = flags.has("f");
  if (state.ctx.dryRun === true) {
    state.trace(`  would ${filter ? "filter through" : "pipe to"} program "${command.trim()}"`);
    return { ok: true, folder: command, size: input.length };
  }
  const run = await withRecipeLock(state, hooks.lock, undefined, () =>
    hooks.runProgram(command, input, filter),
  );
  if (run.stderr !== "") state.logRaw(run.stderr);
  const waited = flags.has("w") || flags.has("W");
  const failed = run.exitCode !== 0 || (run.inputTruncated && !flags.has("i"));
  if (run.spawnError !== undefined || run.timedOut || (waited && failed)) {
    if (!flags.has("W")) {
      const why = run.timedOut ? "Timeout, terminating" : `Program failure (${run.exitCode})`;
      state.warn(hooks.file, hooks.line, `${why} of "${command.trim()}"`);
    }
    return FAILED;
  }
  if (filter) {
    replaceParts(state, flags, run.stdout);
    return { ok: true, folder: command, size: input.length };
  }
  return { ok: true, folder: command, size: input.length };
}

function replaceParts(state: RunState, flags: Flags, output: Buffer): void {
  const h = flags.has("h");
  const b = flags.has("b");
  if (h === b) {
    state.message = output;
    return;
  }
  const { header, body } = splitMessage(state.message);
  state.message = h
    ? Buffer.concat([output, body.length > 0 || state.message.includes("\n\n") ? body : Buffer.alloc(0)])
    : Buffer.concat([header, Buffer.from("\n"), output]);
}

/** `! addresses`: the message to $SENDMAIL $SENDMAILFLAGS addresses. */
export async function forward(
  state: RunState,
  text: string,
  flags: Flags,
  hooks: ActionHooks,
): Promise<ActionResult> {
  const addresses = await expandWords(text, hooks.scope, { split: true });
  const sendmailVar = state.get("SENDMAIL") ?? "";
  const base =
    sendmailVar === state.ctx.sendmail[0]
      ? [...state.ctx.sendmail]
      : sendmailVar.split(/\s+/).filter((s) => s !== "");
  const argv = [
    ...base,
    ...(state.get("SENDMAILFLAGS") ?? "").split(/\s+/).filter((s) => s !== ""),
    ...addresses,
  ];
  const parts = selectedParts(withoutFromLine(state.message), flags);
  const input = flags.has("r") ? parts.data : withTrailingEmptyLine(parts.data);
  if (state.ctx.dryRun === true) {
    state.trace(`  would forward to ${addresses.join(" ")} with ${argv.join(" ")}`);
    return { ok: true, folder: `! ${addresses.join(" ")}`, size: input.length };
  }
  const run = await hooks.runProgram(argv, input, false);
  if (run.stderr !== "") state.logRaw(run.stderr);
  if (run.exitCode !== 0) {
    if (!flags.has("W"))
      state.warn(hooks.file, hooks.line, `Program failure (${run.exitCode}) of "${argv[0] ?? ""}"`);
    return FAILED;
  }
  return { ok: true, folder: `${argv.join(" ")}`, size: input.length };
}
