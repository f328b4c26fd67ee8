/*
 * parser — procmail rc text (procmailrc(5), procmail 3.22) → an AST with line numbers.
 *
 * Statements are assignments (`VAR=value`, `VAR` alone unsets) and recipes
 * (`:0 flags : lockfile`, `* condition` lines, one action: a folder, `| program`,
 * `! addresses` or a `{ ... }` block of statements). Values keep their raw text: quoting,
 * `$VAR` and backquotes are evaluated when the statement runs (expand.ts), as procmail does.
 * Like procmail the parser never gives up: a line it cannot read, a recipe without an
 * action, a stray `}` or a block left open each produce a warning (file and line) and the
 * rest of the file is still parsed. The parser never throws.
 * Input is untrusted user text; nothing here touches the system.
 */

export const FLAG_LETTERS = "HBDAaEehbfcwWir";

export interface Flags {
  /** Every flag letter given, e.g. "Bfw". */
  readonly letters: string;
  has(letter: string): boolean;
}

export type ConditionTest =
  | { kind: "regex"; pattern: string }
  | { kind: "program"; command: string }
  | { kind: "size"; op: "<" | ">"; bytes: number }
  | { kind: "variable"; name: string; pattern: string };

export interface Condition {
  readonly line: number;
  /** The raw text after `*` (and after the score), re-parsed after `$` expansion. */
  readonly text: string;
  readonly weight?: { w: number; x: number };
  readonly negate: boolean;
  /** `$`: the rest is expanded sh-style before it is interpreted. */
  readonly expand: boolean;
  /** The test as written (for `$` conditions: as parsed before expansion). */
  readonly test: ConditionTest;
}

export type Action =
  | { kind: "folder"; text: string }
  | { kind: "pipe"; command: string }
  | { kind: "forward"; text: string }
  | { kind: "block"; body: Statement[] };

export interface Assignment {
  readonly kind: "assign";
  readonly line: number;
  readonly name: string;
  /** Raw right-hand side, or undefined for `VAR` alone (unset). */
  readonly value: string | undefined;
}

export interface Recipe {
  readonly kind: "recipe";
  readonly line: number;
  readonly flags: Flags;
  /** undefined: no lock; "": implicit lockfile (folder + LOCKEXT); otherwise the name. */
  readonly lock: string | undefined;
  readonly conditions: Condition[];
  readonly action: Action;
}

export type Statement = Assignment | Recipe;

export interface ParseWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface ParsedRc {
  readonly file: string;
  readonly statements: Statement[];
  readonly warnings: ParseWarning[];
}

export function makeFlags(letters: string): Flags {
  return { letters, has: (l) => letters.includes(l) };
}

/** A cursor over the rc text that knows its line number. */
class Cursor {
  pos = 0;
  line = 1;
  constructor(readonly text: string) {}
  peek(offset = 0): string {
    return this.text[this.pos + offset] ?? "";
  }
  eof(): boolean {
    return this.pos >= this.text.length;
  }
  next(): string {
    const ch = this.text[this.pos++] ?? "";
    if (ch === "\n") this.line++;
    return ch;
  }
  skipBlank(): void {
    while (this.peek() === " " || this.peek() === "\t") this.next();
  }
  /** Skip whitespace, newlines and # comments. */
  skipSpaceAndComments(): void {
    for (;;) {
      const ch = this.peek();
      if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r") this.next();
      else if (ch === "#") this.restOfLine();
      else return;
    }
  }
  /** Text up to the newline (consumed), joining backslash-newline continuations. */
  restOfLine(): string {
    let out = "";
    while (!this.eof()) {
      const ch = this.next();
      if (ch === "\n") break;
      if (ch === "\\" && this.peek() === "\n") {
        this.next();
        this.skipBlank();
        continue;
      }
      out += ch;
    }
    return out.replace(/\r$/, "");
  }
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Parse rc text. `file` is only used in warnings. */
export function parseRc(text: string, file: string): ParsedRc {
  const cur = new Cursor(text);
  const warnings: ParseWarning[] = [];
  const warn = (line: number, message: string): void => {
    warnings.push({ file, line, message });
  };
  const statements = parseStatements(cur, 0, warn);
  return { file, statements, warnings };
}

type Warn = (line: number, message: string) => void;

function parseStatements(cur: Cursor, depth: number, warn: Warn): Statement[] {
  const out: Statement[] = [];
  const openLine = cur.line;
  for (;;) {
    cur.skipSpaceAndComments();
    if (cur.eof()) {
      if (depth > 0) warn(openLine, "missing closing brace for the block opened here");
      return out;
    }
    const ch = cur.peek();
    if (ch === "}") {
      if (depth > 0) {
        cur.next();
        return out;
      }
      warn(cur.line, "unexpected closing brace skipped");
      cur.restOfLine();
      continue;
    }
    const line = cur.line;
    if (ch === ":") {
      const recipe = parseRecipe(cur, depth, warn);
      if (recipe !== undefined) out.push(recipe);
    } else if (NAME_START.test(ch)) {
      const assignment = parseAssignment(cur, warn);
      if (assignment !== undefined) out.push(assignment);
    } else {
      warn(line, `skipped: "${cur.restOfLine().trim()}"`);
    }
  }
}

function parseAssignment(cur: Cursor, warn: Warn): Assignment | undefined {
  const line = cur.line;
  let name = "";
  while (NAME_CHAR.test(cur.peek())) name += cur.next();
  cur.skipBlank();
  if (cur.peek() !== "=") {
    const rest = cur.restOfLine().trim();
    if (rest !== "" && !rest.startsWith("#")) {
      warn(line, `skipped: "${name} ${rest}"`);
      return undefined;
    }
    return { kind: "assign", line, name, value: undefined };
  }
  cur.next();
  cur.skipBlank();
  return { kind: "assign", line, name, value: readValue(cur) };
}

/** The raw value of an assignment: up to unquoted whitespace; quotes may span lines. */
function readValue(cur: Cursor): string {
  let out = "";
  while (!cur.eof()) {
    const ch = cur.peek();
    if (ch === "\n" || ch === " " || ch === "\t" || ch === "\r") break;
    if (ch === "\\") {
      cur.next();
      if (cur.peek() === "\n") {
        cur.next();
        out += '""'; // ends a $NAME before the continuation, as procmail expands first
        continue;
      }
      out += `\\${cur.next()}`;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === "`") {
      out += readQuoted(cur, ch);
      continue;
    }
    out += cur.next();
  }
  cur.restOfLine();
  return out;
}

function readQuoted(cur: Cursor, quote: string): string {
  let out = cur.next();
  while (!cur.eof()) {
    const ch = cur.next();
    out += ch;
    if (ch === "\\" && quote !== "'" && !cur.eof()) out += cur.next();
    else if (ch === quote) break;
  }
  return out;
}

function parseRecipe(cur: Cursor, depth: number, warn: Warn): Recipe | undefined {
  const line = cur.line;
  const header = cur.restOfLine();
  const parsed = parseRecipeHeader(header);
  for (const bad of parsed.unknown) warn(line, `unknown flag "${bad}" ignored`);
  const conditions: Condition[] = [];
  for (;;) {
    cur.skipSpaceAndComments();
    if (cur.peek() !== "*") break;
    const condLine = cur.line;
    cur.next();
    conditions.push(parseCondition(cur.restOfLine(), condLine));
  }
  const action = parseAction(cur, depth, warn);
  if (action === undefined) {
    warn(line, "missing action, recipe skipped");
    return undefined;
  }
  return { kind: "recipe", line, flags: makeFlags(parsed.flags), lock: parsed.lock, conditions, action };
}

/** `:0 flags : lock` (the leading ":" included in `header`). */
export function parseRecipeHeader(header: string): {
  flags: string;
  lock: string | undefined;
  unknown: string[];
} {
  let i = 1;
  while (/[0-9]/.test(header[i] ?? "")) i++;
  let flags = "";
  const unknown: string[] = [];
  for (; i < header.length; i++) {
    const ch = header[i] ?? "";
    if (ch === ":") break;
    if (ch === " " || ch === "\t") continue;
    if (FLAG_LETTERS.includes(ch)) flags += ch;
    else unknown.push(ch);
  }
  if (i >= header.length) return { flags, lock: undefined, unknown };
  const rest = header.slice(i + 1).trim();
  return { flags, lock: rest.startsWith("#") ? "" : rest.replace(/\s+#.*$/, ""), unknown };
}

function parseNumber(text: string): number | undefined {
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : undefined;
}

/** Parse the text of a condition (after `*`). Used again at run time after `$` expansion. */
export function parseCondition(raw: string, line: number): Condition {
  let text = raw.replace(/^[ \t]+/, "");
  let weight: { w: number; x: number } | undefined;
  const score = /^([+-]?[\d.]+)\^([+-]?[\d.]+)[ \t]*/.exec(text);
  if (score !== null) {
    const w = parseNumber(score[1] ?? "");
    const x = parseNumber(score[2] ?? "");
    if (w !== undefined && x !== undefined) {
      weight = { w, x };
      text = text.slice(score[0].length);
    }
  }
  const weightPart = weight !== undefined ? { weight } : {};
  let negate = false;
  for (;;) {
    if (text.startsWith("!")) {
      negate = !negate;
      text = text.slice(1).replace(/^[ \t]+/, "");
    } else if (text.startsWith("$")) {
      const rest = text.slice(1).replace(/^[ \t]+/, "");
      return { line, text: rest, ...weightPart, negate, expand: true, test: parseTest(rest) };
    } else break;
  }
  return { line, text, ...weightPart, negate, expand: false, test: parseTest(text) };
}

/** The test itself: `? program`, `< n`, `> n`, `VAR ?? regex` or a regex. */
export function parseTest(text: string): ConditionTest {
  const t = text.replace(/^[ \t]+/, "");
  if (t.startsWith("?")) return { kind: "program", command: t.slice(1).trim() };
  const size = /^([<>])[ \t]*(\d+)[ \t]*$/.exec(t);
  if (size !== null) return { kind: "size", op: size[1] === "<" ? "<" : ">", bytes: Number(size[2]) };
  const variable = /^([A-Za-z_][A-Za-z0-9_]*)[ \t]*\?\?[ \t]*(.*)$/s.exec(t);
  if (variable !== null) return { kind: "variable", name: variable[1] ?? "", pattern: variable[2] ?? "" };
  const pattern = t.startsWith("\\") && /^\\[!$?<>\\]/.test(t) ? t.slice(1) : t;
  return { kind: "regex", pattern: pattern.replace(/[ \t]+$/, "") };
}

function parseAction(cur: Cursor, depth: number, warn: Warn): Action | undefined {
  const ch = cur.peek();
  if (cur.eof() || ch === ":" || ch === "}") return undefined;
  if (ch === "{") {
    cur.next();
    return { kind: "block", body: parseStatements(cur, depth + 1, warn) };
  }
  if (ch === "|") {
    cur.next();
    return { kind: "pipe", command: cur.restOfLine() };
  }
  if (ch === "!") {
    cur.next();
    return { kind: "forward", text: cur.restOfLine().trim() };
  }
  return { kind: "folder", text: cur.restOfLine().replace(/[ \t]+$/, "") };
}
