/*
 * interpreter — run parsed rc files against one message, as procmail 3.22 does.
 *
 * Statements run in order on a stack of frames (one per rc file and nested block).
 * Assignments expand their value and act on the special variables (MAILDIR changes the
 * directory folders are relative to, LOGFILE/LOG write the log, INCLUDERC pushes a file,
 * SWITCHRC replaces the current one; DELIVERED=yes skips DEFAULT at the end). A recipe runs
 * when its A/a/E/e conditions on the previous recipes of its level allow it and its own
 * conditions match; a delivering action that succeeds ends the run unless the recipe has
 * `c`; a `c` block runs in a clone of the run (its own variables and message) which goes
 * on to the end of the rc file like procmail's forked copy, while the original skips the
 * block. Falling off the end delivers to DEFAULT (procmail 3.22 was observed not to fall back
 * to ORGMAIL when DEFAULT is set and fails); if that fails the
 * result is EX_TEMPFAIL (75). At the end TRAP runs and EXITCODE decides the exit status.
 * A bad recipe is a warning (file and line) and is skipped: mail is never lost.
 * Talks to the file system (rc files, folders), programs and sendmail through actions.ts.
 */
import { readFile, stat } from "node:fs/promises";
import { type ActionResult, deliverFolder, forward, runPipe } from "./actions.js";
import { evaluateConditions } from "./conditions.js";
import { type ExpandScope, expandString } from "./expand.js";
import { type Assignment, makeFlags, parseRc, type Recipe, type Statement } from "./parser.js";
import { type ProgramResult, runArgv, runShell } from "./programs.js";
import { isTrue, type RunState } from "./state.js";

export const EX_TEMPFAIL = 75;

interface Frame {
  readonly statements: readonly Statement[];
  index: number;
  readonly file: string;
  /** Frames of the same rc file share a file depth (SWITCHRC replaces them). */
  readonly fileDepth: number;
  lastMatched: boolean;
  lastFailed: boolean;
}

export class Interpreter {
  private frames: Frame[] = [];
  private done = false;
  /** Folder of the final (ending) delivery, for the abstract. */
  private finalDelivery: ActionResult | undefined;
  readonly clones: Interpreter[] = [];

  constructor(readonly state: RunState) {}

  /** Parse and queue an rc file's statements at the bottom-most level. */
  async loadFile(path: string, optional: boolean): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(path, "latin1");
    } catch {
      if (!optional) this.state.warn(path, 0, `Couldn't read "${path}"`);
      return false;
    }
    this.pushText(text, path, this.currentFileDepth() + 1);
    return true;
  }

  pushText(text: string, file: string, fileDepth: number): void {
    const parsed = parseRc(text, file);
    for (const w of parsed.warnings) this.state.warn(w.file, w.line, w.message);
    this.state.set("_", file);
    this.frames.push({
      statements: parsed.statements,
      index: 0,
      file,
      fileDepth,
      lastMatched: false,
      lastFailed: false,
    });
  }

  private currentFileDepth(): number {
    return this.frames[this.frames.length - 1]?.fileDepth ?? 0;
  }

  get finished(): boolean {
    return this.done;
  }

  /** Run until the frames are exhausted or a delivery ends the run. */
  async run(): Promise<void> {
    while (!this.done) {
      const frame = this.frames[this.frames.length - 1];
      if (frame === undefined) return;
      const st = frame.statements[frame.index++];
      if (st === undefined) {
        this.frames.pop();
        const below = this.frames[this.frames.length - 1];
        if (below !== undefined) this.state.set("_", below.file);
        continue;
      }
      if (st.kind === "assign") await this.assign(st, frame);
      else await this.recipe(st, frame);
    }
  }

  scope(frame: { file: string }): ExpandScope {
    return {
      get: (name) =>
        name === "$$" ? String(process.pid) : name === "$_" ? frame.file : this.state.get(name),
      backquote: async (command) => await this.backquote(command),
    };
  }

  private async backquote(command: string): Promise<string> {
    if (this.state.ctx.dryRun === true && this.state.ctx.dryRunPrograms !== true) {
      this.state.trace(`  backquote \`${command}\` not run in a dry run (empty)`);
      return "";
    }
    const run = await this.program(command, this.state.message, true);
    if (run.stderr !== "") this.state.logRaw(run.stderr);
    return run.stdout.toString("latin1");
  }

  async program(command: string | string[], input: Buffer, capture: boolean): Promise<ProgramResult> {
    const s = this.state;
    const timeoutSeconds = Number(s.get("TIMEOUT") ?? "960");
    const timeoutMs = Math.min(s.ctx.timeoutMs, timeoutSeconds > 0 ? timeoutSeconds * 1000 : s.ctx.timeoutMs);
    const opts = {
      env: s.env(),
      cwd: (await stat(s.cwd).catch(() => undefined))?.isDirectory() === true ? s.cwd : "/",
      input,
      timeoutMs,
      captureStdout: capture,
      ...(s.ctx.uid !== undefined ? { uid: s.ctx.uid } : {}),
      ...(s.ctx.gid !== undefined ? { gid: s.ctx.gid } : {}),
    };
    if (Array.isArray(command)) return await runArgv(command, opts);
    return await runShell(s.get("SHELL") ?? "/bin/sh", command, opts);
  }

  private async assign(st: Assignment, frame: Frame): Promise<void> {
    const value = st.value === undefined ? undefined : await expandString(st.value, this.scope(frame));
    this.state.set(st.name, value);
    await this.special(st, value, frame);
  }

  private async special(st: Assignment, value: string | undefined, frame: Frame): Promise<void> {
    const s = this.state;
    switch (st.name) {
      case "MAILDIR": {
        const dir = s.path(value ?? s.ctx.home);
        if ((await stat(dir).catch(() => undefined))?.isDirectory() === true) s.cwd = dir;
        else s.warn(frame.file, st.line, `Couldn't chdir to "${value ?? ""}"`);
        return;
      }
      case "LOG":
        s.logRaw(value ?? "");
        return;
      case "INCLUDERC":
        if (value !== undefined && value !== "") await this.loadFile(s.path(value), false);
        return;
      case "SWITCHRC":
        return await this.switchRc(value, frame);
      default:
        return;
    }
  }

  private async switchRc(value: string | undefined, frame: Frame): Promise<void> {
    const depth = frame.fileDepth;
    while ((this.frames[this.frames.length - 1]?.fileDepth ?? 0) >= depth && this.frames.length > 0)
      this.frames.pop();
    if (value === undefined || value === "") return;
    let text: string;
    try {
      text = await readFile(this.state.path(value), "latin1");
    } catch {
      this.state.warn(frame.file, 0, `Couldn't read "${value}"`);
      return;
    }
    this.pushText(text, this.state.path(value), depth);
  }

  /** Whether A/a/E/e allow this recipe to be considered. */
  private gate(r: Recipe, frame: Frame): boolean {
    const f = r.flags;
    if ((f.has("A") || f.has("a")) && !frame.lastMatched) return false;
    if (f.has("a") && frame.lastFailed) return false;
    if (f.has("E") && frame.lastMatched) return false;
    if (f.has("e") && !frame.lastFailed) return false;
    return true;
  }

  private async recipe(r: Recipe, frame: Frame): Promise<void> {
    const s = this.state;
    const allowed = this.gate(r, frame);
    const hooks = {
      scope: this.scope(frame),
      file: frame.file,
      runCondition: async (command: string, input: Buffer) => await this.conditionProgram(command, input),
    };
    const matched = allowed && (await evaluateConditions(s, r.conditions, r.flags, hooks));
    s.trace(
      `${frame.file}:${r.line}: recipe :0${r.flags.letters} ${matched ? "matched" : allowed ? "did not match" : "skipped (A/a/E/e)"}`,
    );
    const chained = r.flags.has("A") || r.flags.has("a");
    if (!chained) frame.lastMatched = r.flags.has("E") ? frame.lastMatched || matched : matched;
    if (!matched) {
      if (!r.flags.has("e")) frame.lastFailed = false;
      return;
    }
    const result = await this.act(r, frame);
    frame.lastFailed = !result.ok;
  }

  private async conditionProgram(command: string, input: Buffer): Promise<number> {
    if (this.state.ctx.dryRun === true && this.state.ctx.dryRunPrograms !== true) {
      this.state.trace(`  program condition "${command}" not run in a dry run (false)`);
      return -1;
    }
    const run = await this.program(command, input, false);
    if (run.stderr !== "") this.state.logRaw(run.stderr);
    return run.exitCode;
  }

  private async act(r: Recipe, frame: Frame): Promise<ActionResult> {
    const a = r.action;
    if (a.kind === "block") {
      if (r.flags.has("c")) await this.cloneInto(a.body, frame);
      else
        this.frames.push({
          statements: a.body,
          index: 0,
          file: frame.file,
          fileDepth: frame.fileDepth,
          lastMatched: false,
          lastFailed: false,
        });
      return { ok: true, folder: "", size: 0 };
    }
    const hooks = {
      scope: this.scope(frame),
      file: frame.file,
      line: r.line,
      lock: r.lock,
      runProgram: (cmd: string | string[], input: Buffer, capture: boolean) =>
        this.program(cmd, input, capture),
    };
    const result =
      a.kind === "folder"
        ? await deliverFolder(this.state, a.text, r.flags, hooks)
        : a.kind === "pipe"
          ? await runPipe(this.state, a.command, r.flags, hooks)
          : await forward(this.state, a.text, r.flags, hooks);
    const delivering = !(a.kind === "pipe" && r.flags.has("f"));
    if (result.ok && delivering) this.delivered(result, !r.flags.has("c"));
    return result;
  }

  /** Record a successful delivery; `final` ends the run. */
  delivered(result: ActionResult, final: boolean): void {
    this.state.set("LASTFOLDER", result.folder);
    if (final) {
      this.done = true;
      this.finalDelivery = result;
    } else if ((this.state.get("LOGABSTRACT") ?? "").toLowerCase() === "all") {
      this.state.logAbstract(result.folder, result.size);
    }
  }

  /** procmail forks for a `c` block: the clone runs the block and the rest of the file. */
  private async cloneInto(body: readonly Statement[], frame: Frame): Promise<void> {
    const clone = new Interpreter(this.state.clone());
    clone.frames = this.frames.map((f) => ({ ...f }));
    clone.frames.push({
      statements: body,
      index: 0,
      file: frame.file,
      fileDepth: frame.fileDepth,
      lastMatched: false,
      lastFailed: false,
    });
    this.clones.push(clone);
    await clone.run();
    await clone.finish();
  }

  /** Deliver to DEFAULT if nothing ended the run, log the abstract, run TRAP; the exit code. */
  async finish(): Promise<number> {
    const s = this.state;
    let code = 0;
    if (!this.done && !isTrue(s.get("DELIVERED"))) code = await this.deliverDefault();
    const logAbstract = s.get("LOGABSTRACT");
    if (
      this.finalDelivery !== undefined &&
      (logAbstract === undefined || isTrue(logAbstract) || logAbstract.toLowerCase() === "all")
    ) {
      s.logAbstract(this.finalDelivery.folder, this.finalDelivery.size);
    }
    return await this.trapAndExit(code);
  }

  private async deliverDefault(): Promise<number> {
    const s = this.state;
    for (const name of ["DEFAULT"]) {
      const target = s.get(name) ?? "";
      if (target === "") continue;
      s.trace(`falling off the end: ${name} ${target}`);
      const hooks = {
        scope: { get: (n: string) => s.get(n), backquote: async () => "" },
        file: s.get("_") ?? "",
        line: 0,
        lock: "",
        runProgram: (cmd: string | string[], input: Buffer, capture: boolean) =>
          this.program(cmd, input, capture),
      };
      const quoted = `'${target.replace(/'/g, "'\\''")}'`;
      const result = await deliverFolder(s, quoted, makeFlags(""), hooks);
      if (result.ok) {
        this.delivered(result, true);
        return 0;
      }
    }
    s.out.warnings.push("recipes: could not deliver to DEFAULT or ORGMAIL (deferred)");
    return EX_TEMPFAIL;
  }

  private async trapAndExit(code: number): Promise<number> {
    const s = this.state;
    const trap = s.get("TRAP");
    const exitcode = s.get("EXITCODE");
    let trapCode: number | undefined;
    if (trap !== undefined && trap !== "" && s.ctx.dryRun !== true) {
      s.set("EXITCODE", exitcode === undefined || exitcode === "" ? String(code) : exitcode);
      const run = await this.program(trap, s.message, true);
      s.logRaw(run.stdout.toString("latin1") + run.stderr);
      trapCode = run.exitCode;
    }
    if (exitcode === undefined) return code;
    if (exitcode === "") return trapCode ?? code;
    const n = Number.parseInt(exitcode, 10);
    return Number.isNaN(n) ? code : n;
  }
}
