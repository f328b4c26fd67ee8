/*
 * regex — procmail's egrep dialect translated to JavaScript regular expressions.
 *
 * procmail 3.22 (procmailrc(5), procmailsc(5)) matches conditions against the header, the
 * body or both as ONE string: `^` and `$` match at line boundaries, `.` never matches a
 * newline, a negated class `[^x]` does, and `{`/`}` are ordinary characters (no intervals).
 * Its extensions: `^^` anchors at the very start (or, at the end of a pattern, the very end)
 * of the searched text; `\<` and `\>` match a non-word character or the edge of the text
 * (they consume that character, as procmail's do); `\/` splits the pattern and what the
 * right part matches becomes MATCH; the macros ^TO_, ^TO, ^FROM_DAEMON and ^FROM_MAILER
 * expand to the exact texts of procmail 3.22. Matching is case-insensitive unless the D
 * flag is given. procmail searches for the leftmost SHORTEST match (so counting matches for
 * scores counts `a+` once per letter): the tester regex therefore uses lazy quantifiers;
 * for MATCH the left part is shortest and the right part longest, as procmail documents.
 * Strings are matched as latin1 ("binary") text so every byte is one character.
 * Input is untrusted rc text: errors are returned as data, never thrown.
 */

const TO_ADDRESS =
  "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^-a-zA-Z0-9_.])?)";
const TO_WORD = "(^((Original-)?(Resent-)?(To|Cc|Bcc)|(X-Envelope|Apparently(-Resent)?)-To):(.*[^a-zA-Z])?)";
const FROM_DAEMON =
  "(^(Mailing-List:|Precedence:.*(junk|bulk|list)|To: Multiple recipients of |" +
  "(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?" +
  "(Post(ma?(st(e?r)?|n)|office)|(send)?Mail(er)?|daemon|m(mdf|ajordomo)|n?uucp|LIST(SERV|proc)|" +
  "NETSERV|o(wner|ps)|r(e(quest|sponse)|oot)|b(ounce|bs\\.smtp)|echo|mirror|s(erv(ices?|er)|" +
  "mtp(error)?|ystem)|A(dmin(istrator)?|MMGR|utoanswer))(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*" +
  "(\\(.*\\).*)?)?$([^>]|$)))";
const FROM_MAILER =
  "(^(((Resent-)?(From|Sender)|X-Envelope-From):|>?From )([^>]*[^(.%@a-z0-9])?" +
  "(Post(ma(st(er)?|n)|office)|(send)?Mail(er)?|daemon|mmdf|n?uucp|ops|r(esponse|oot)|" +
  "(bbs\\.)?smtp(error)?|s(erv(ices?|er)|ystem)|A(dmin(istrator)?|MMGR))" +
  "(([^).!:a-z0-9][-_a-z0-9]*)?[%@>\t ][^<)]*(\\(.*\\).*)?)?$([^>]|$))";

/** The macros in the order procmail substitutes them (the longer ^TO_ before ^TO). */
const MACROS: ReadonlyArray<readonly [string, string]> = [
  ["^TO_", TO_ADDRESS],
  ["^TO", TO_WORD],
  ["^FROM_DAEMON", FROM_DAEMON],
  ["^FROM_MAILER", FROM_MAILER],
];

/** Replace procmail's macros by their expansions. */
export function expandMacros(pattern: string): string {
  let out = pattern;
  for (const [name, text] of MACROS) out = out.split(name).join(text);
  return out;
}

export interface CompiledCondition {
  /** Leftmost-shortest tester, global: used to test and to count matches. */
  readonly tester: RegExp;
  /** Present when the pattern contains `\/`: group 1 is the MATCH text. */
  readonly extractor?: RegExp;
}

export type CompileResult = { ok: true; value: CompiledCondition } | { ok: false; error: string };

const TEXT_START = "(?<![\\s\\S])";
const TEXT_END = "(?![\\s\\S])";

/** Translate a bracket expression starting at `start` ("["); returns [js, nextIndex]. */
function translateBracket(src: string, start: number): [string, number] {
  let i = start + 1;
  let out = "[";
  if (src[i] === "^") {
    out += "^";
    i++;
  }
  // procmail's negated classes never match a newline (observed against 3.22)
  const close = out === "[^" ? "\\n]" : "]";
  let first = true;
  while (i < src.length) {
    const ch = src[i] ?? "";
    if (ch === "]" && !first) return [`${out}${close}`, i + 1];
    if (ch === "\\" && i + 1 < src.length) {
      out += escapeClassChar(src[i + 1] ?? "");
      i += 2;
    } else {
      out += ch === "-" ? "-" : escapeClassChar(ch);
      i++;
    }
    first = false;
  }
  throw new Error("Missing ]");
}

function escapeClassChar(ch: string): string {
  return /[\]\\^[]/.test(ch) ? `\\${ch}` : ch;
}

function escapeLiteral(ch: string): string {
  return /[\\^$.|?*+()[\]{}/]/.test(ch) ? `\\${ch}` : ch;
}

interface Translation {
  left: string;
  right: string | undefined;
}

/** One pass over the pattern: JS text for the parts before and after `\/`. */
function translate(src: string): Translation {
  const parts: string[] = [""];
  let depth = 0;
  let i = 0;
  const emit = (s: string): void => {
    parts[parts.length - 1] += s;
  };
  while (i < src.length) {
    const ch = src[i] ?? "";
    if (ch === "\\") {
      const next = src[i + 1];
      if (next === undefined) throw new Error("Trailing backslash");
      if (next === "/" && parts.length === 1) parts.push("");
      else if (next === "<") emit(`(?:${TEXT_START}|[^A-Za-z0-9_])`);
      else if (next === ">") emit(`(?:[^A-Za-z0-9_]|${TEXT_END})`);
      else emit(escapeLiteral(next));
      i += 2;
      continue;
    }
    if (ch === "[") {
      const [js, next] = translateBracket(src, i);
      emit(js);
      i = next;
      continue;
    }
    if (ch === "^") {
      if (src[i + 1] === "^") {
        emit(i === 0 || i + 2 < src.length ? TEXT_START : TEXT_END);
        i += 2;
        continue;
      }
      emit("(?:^)");
    } else if (ch === "$") emit("(?:$)");
    else if (ch === ".") emit("[^\\n]");
    else if (ch === "(") {
      depth++;
      emit("(?:");
    } else if (ch === ")") {
      if (depth === 0) throw new Error("Unmatched )");
      depth--;
      emit(")");
    } else if (ch === "*" || ch === "+" || ch === "?") emit(ch);
    else if (ch === "|") emit("|");
    else emit(escapeLiteral(ch));
    i++;
  }
  if (depth !== 0) throw new Error("Missing )");
  return { left: parts[0] ?? "", right: parts[1] };
}

/** Make every quantifier lazy (leftmost shortest). */
function lazy(js: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < js.length; i++) {
    const ch = js[i] ?? "";
    out += ch;
    if (ch === "\\") {
      out += js[i + 1] ?? "";
      i++;
    } else if (ch === "[") inClass = true;
    else if (ch === "]") inClass = false;
    else if (!inClass && (ch === "*" || ch === "+" || (ch === "?" && js[i - 1] !== "("))) {
      if (js[i + 1] !== "?" && js[i + 1] !== ":" && js[i + 1] !== "<" && js[i + 1] !== "!") out += "?";
    }
  }
  return out;
}

/** Compile a procmail regular expression (macros expanded here); errors as data. */
export function compileProcmailRegex(pattern: string, caseSensitive: boolean): CompileResult {
  try {
    const { left, right } = translate(expandMacros(pattern));
    const flags = `gm${caseSensitive ? "" : "i"}`;
    const whole = right === undefined ? left : `${left}${right}`;
    const tester = new RegExp(lazy(whole) || "(?:)", flags);
    if (right === undefined) return { ok: true, value: { tester } };
    const extractor = new RegExp(`(?:${lazy(left)})(${right})`, flags.replace("g", ""));
    return { ok: true, value: { tester, extractor } };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Number of non-overlapping leftmost-shortest matches, stopping at `limit`. */
export function countMatches(re: RegExp, text: string, limit: number): number {
  re.lastIndex = 0;
  let n = 0;
  while (n < limit) {
    const m = re.exec(text);
    if (m === null) break;
    n++;
    if (m[0].length === 0) re.lastIndex = m.index + 1;
    if (re.lastIndex > text.length) break;
  }
  re.lastIndex = 0;
  return n;
}

/** Whether the pattern matches anywhere in `text`. */
export function testMatch(compiled: CompiledCondition, text: string): boolean {
  return countMatches(compiled.tester, text, 1) > 0;
}

/** The MATCH text of a `\/` pattern, or undefined when it does not match. */
export function extractMatch(compiled: CompiledCondition, text: string): string | undefined {
  if (compiled.extractor === undefined) return undefined;
  const m = compiled.extractor.exec(text);
  return m === null ? undefined : (m[1] ?? "");
}

/** Escape a string so that it matches itself literally (procmail's `$\VAR`). */
export function quoteForRegex(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}
