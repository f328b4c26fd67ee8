/*
 * conditions — evaluate a recipe's `*` lines (procmailrc(5), procmailsc(5)).
 *
 * Regular expressions search the header (default, or H), the body (B) or both (HB);
 * `VAR ?? regex` searches a variable (H, B, HB and BH name the message parts); `?` runs
 * a program with the searched part on stdin and is true on exit 0; `<`/`>` compare the
 * message length. `!` negates, `$` expands the rest first. Weighted conditions `w^x` add
 * to the score as procmailsc(5) defines it; without weights every condition must hold,
 * with weights the recipe matches when the score is positive. The score is stored in `$=`
 * after the conditions, as procmail does, whatever the outcome. MATCH is set by `\/`.
 * A bad regular expression is a warning naming the file and line, and the condition fails.
 * Talks to programs through programs.ts. Message data is untrusted.
 */
import { type ExpandScope, expandString } from "./expand.js";
import { type Condition, type ConditionTest, type Flags, parseTest } from "./parser.js";
import { compileProcmailRegex, countMatches, extractMatch } from "./regex.js";
import type { RunState } from "./state.js";

const SCORE_MAX = 2147483647;

/** The header (through the newline ending its last line) and the body (after the empty line). */
export function splitMessage(message: Buffer): { header: Buffer; body: Buffer } {
  const idx = message.indexOf("\n\n");
  if (idx < 0) return { header: message, body: Buffer.alloc(0) };
  return { header: message.subarray(0, idx + 1), body: message.subarray(idx + 2) };
}

/** The text a regex condition searches, by flags. */
export function searchArea(message: Buffer, flags: Flags): string {
  const h = flags.has("H");
  const b = flags.has("B");
  if (h && b) return message.toString("latin1");
  const parts = splitMessage(message);
  return (b ? parts.body : parts.header).toString("latin1");
}

export interface ConditionHooks {
  readonly scope: ExpandScope;
  readonly file: string;
  /** Run a `?` program with `input`; resolves to its exit code (-1: not run). */
  runCondition(command: string, input: Buffer): Promise<number>;
}

interface Outcome {
  matched: boolean;
  /** Number of matches (regex), the exit code (program). */
  n: number;
}

function variableArea(state: RunState, name: string): string {
  const parts = splitMessage(state.message);
  if (name === "H") return parts.header.toString("latin1");
  if (name === "B") return parts.body.toString("latin1");
  if (name === "HB" || name === "BH") return state.message.toString("latin1");
  return state.get(name) ?? "";
}

async function evaluateTest(
  state: RunState,
  test: ConditionTest,
  ctx: { flags: Flags; cond: Condition; hooks: ConditionHooks; counting: boolean },
): Promise<Outcome> {
  if (test.kind === "size") {
    const len = state.message.length;
    return { matched: test.op === "<" ? len < test.bytes : len > test.bytes, n: 0 };
  }
  if (test.kind === "program") {
    const input = Buffer.from(searchArea(state.message, ctx.flags), "latin1");
    const code = await ctx.hooks.runCondition(test.command, input);
    return { matched: code === 0, n: code };
  }
  const text =
    test.kind === "variable" ? variableArea(state, test.name) : searchArea(state.message, ctx.flags);
  const compiled = compileProcmailRegex(test.pattern, ctx.flags.has("D"));
  if (!compiled.ok) {
    state.warn(ctx.hooks.file, ctx.cond.line, `invalid regexp "${test.pattern}": ${compiled.error}`);
    return { matched: false, n: 0 };
  }
  const n = countMatches(compiled.value.tester, text, ctx.counting ? 1_000_000 : 1);
  if (n > 0 && !ctx.cond.negate) {
    const match = extractMatch(compiled.value, text);
    if (match !== undefined) state.set("MATCH", match);
  }
  return { matched: n > 0, n };
}

function regexScore(w: number, x: number, n: number): number {
  if (n === 0) return 0;
  if (x === 1) return w * n;
  if (x === 0) return w;
  return (w * (x ** n - 1)) / (x - 1);
}

function weightedScore(state: RunState, cond: Condition, test: ConditionTest, o: Outcome): number {
  const { w, x } = cond.weight ?? { w: 0, x: 0 };
  if (test.kind === "program") {
    if (cond.negate) return regexScore(w, x, o.n);
    return o.n === 0 ? w : x;
  }
  if (test.kind === "size") {
    const m = state.message.length;
    const ratio = test.op === ">" ? m / Math.max(test.bytes, 1) : test.bytes / Math.max(m, 1);
    return w * ratio ** x;
  }
  if (cond.negate) return o.n === 0 ? w : 0;
  return regexScore(w, x, o.n);
}

/** Evaluate all conditions; returns whether the recipe matches. */
export async function evaluateConditions(
  state: RunState,
  conditions: readonly Condition[],
  flags: Flags,
  hooks: ConditionHooks,
): Promise<boolean> {
  let score = 0;
  let weighted = false;
  let result: boolean | undefined;
  for (const cond of conditions) {
    const test = cond.expand
      ? parseTest(await expandString(cond.text, hooks.scope, { dquoted: true }))
      : cond.test;
    const counting = cond.weight !== undefined && cond.weight.x !== 0;
    const o = await evaluateTest(state, test, { flags, cond, hooks, counting });
    const holds = cond.negate ? !o.matched : o.matched;
    state.trace(`  line ${cond.line}: condition "${cond.text}" ${holds ? "matched" : "did not match"}`);
    if (cond.weight === undefined) {
      if (!holds) {
        result = false;
        break;
      }
      continue;
    }
    weighted = true;
    score += weightedScore(state, cond, test, o);
    if (score >= SCORE_MAX) {
      result = true;
      break;
    }
    if (score <= -SCORE_MAX) {
      result = false;
      break;
    }
  }
  state.score = score;
  state.set("$=", String(Math.trunc(Math.max(-SCORE_MAX, Math.min(SCORE_MAX, score)))));
  if (result !== undefined) return result;
  return weighted ? score > 0 : true;
}
