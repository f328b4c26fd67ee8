/*
 * expand — procmail's sh-like evaluation of assignment values, folder names, addresses
 * and `$` conditions: single quotes are literal, double quotes allow `$` and backquotes,
 * `\x` escapes, `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
 * `${VAR+word}`, the specials `$$` (pid), `$=` (last score), `$_` (current rc file),
 * `$-` (LASTFOLDER), `$#` (0), `$1`..`$9` (empty), and procmail 3.22's `$\VAR` (the value
 * quoted for use in a regular expression). Backquoted commands are run by the caller's
 * hook (as the user, message on stdin); ALL trailing newlines of their output are removed,
 * which is what procmail 3.22 was observed to do.
 * Talks to nothing itself. Input is untrusted rc text.
 */
import { quoteForRegex } from "./regex.js";

export interface ExpandScope {
  get(name: string): string | undefined;
  /** Run a backquoted command; resolves to its standard output. */
  backquote(command: string): Promise<string>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Expand one `$...` reference at `i` (pointing at "$"); returns [text, next index]. */
function expandDollar(src: string, i: number, scope: ExpandScope): [string, number] {
  const rest = src.slice(i + 1);
  const special = rest[0] ?? "";
  if (special === "\\") {
    const name = NAME.exec(rest.slice(1));
    if (name !== null) return [quoteForRegex(scope.get(name[0]) ?? ""), i + 2 + name[0].length];
  }
  if ("$=_-#".includes(special) && special !== "") {
    const names: Record<string, string> = { $: "$$", "=": "$=", _: "$_", "-": "LASTFOLDER", "#": "$#" };
    const key = names[special] ?? "";
    if (special === "_" && NAME.test(rest)) {
      const name = NAME.exec(rest)?.[0] ?? "";
      return [scope.get(name) ?? "", i + 1 + name.length];
    }
    return [scope.get(key) ?? (special === "#" ? "0" : ""), i + 2];
  }
  if (/[1-9]/.test(special)) return ["", i + 2];
  if (special === "{") return expandBraced(src, i, scope);
  const name = NAME.exec(rest);
  if (name === null) return ["$", i + 1];
  return [scope.get(name[0]) ?? "", i + 1 + name[0].length];
}

function expandBraced(src: string, i: number, scope: ExpandScope): [string, number] {
  const close = src.indexOf("}", i + 2);
  if (close < 0) return ["${", i + 2];
  const inner = src.slice(i + 2, close);
  const m = /^([A-Za-z_][A-Za-z0-9_]*|[$=_#-])(:?[-+=])?([\s\S]*)$/.exec(inner);
  if (m === null) return ["", close + 1];
  const name = m[1] ?? "";
  const key = name === "-" ? "LASTFOLDER" : name.length === 1 && !/[A-Za-z]/.test(name) ? `$${name}` : name;
  const value = scope.get(key);
  const op = m[2];
  const word = m[3] ?? "";
  if (op === undefined) return [value ?? "", close + 1];
  const unsetOrEmpty = op.startsWith(":") ? value === undefined || value === "" : value === undefined;
  if (op.endsWith("-")) return [unsetOrEmpty ? word : (value ?? ""), close + 1];
  if (op.endsWith("+")) return [unsetOrEmpty ? "" : word, close + 1];
  return [unsetOrEmpty ? word : (value ?? ""), close + 1];
}

/** Find the closing backquote; returns its index or -1. */
function closingBackquote(src: string, from: number): number {
  for (let j = from; j < src.length; j++) {
    if (src[j] === "\\") j++;
    else if (src[j] === "`") return j;
  }
  return -1;
}

async function runBackquote(src: string, i: number, scope: ExpandScope): Promise<[string, number]> {
  const close = closingBackquote(src, i + 1);
  const end = close < 0 ? src.length : close;
  const command = src.slice(i + 1, end).replace(/\\`/g, "`");
  const output = await scope.backquote(command);
  return [output.replace(/\n+$/, ""), close < 0 ? src.length : close + 1];
}

/**
 * Expand `src` into words: unquoted blanks separate words (only when `split`), quotes are
 * removed. With `dquoted`, the whole text is treated as if inside double quotes (how
 * procmail expands `$` conditions): quotes stay literal characters.
 */
export async function expandWords(
  src: string,
  scope: ExpandScope,
  opts: { split: boolean; dquoted?: boolean },
): Promise<string[]> {
  const words: string[] = [];
  let cur = "";
  let started = false;
  let quote: "" | '"' | "'" = opts.dquoted === true ? '"' : "";
  let i = 0;
  while (i < src.length) {
    const ch = src[i] ?? "";
    if (quote === "'") {
      if (ch === "'") quote = "";
      else cur += ch;
      i++;
      continue;
    }
    if (ch === "\\") {
      const next = src[i + 1] ?? "";
      const escapable = quote === "" || '$`"\\\n'.includes(next);
      if (next === "\n") i += 2;
      else if (escapable && opts.dquoted !== true) {
        cur += next;
        i += 2;
      } else {
        cur += opts.dquoted === true && '$`"'.includes(next) && next !== "" ? next : `\\${next}`;
        i += next === "" ? 1 : 2;
      }
      started = true;
      continue;
    }
    if (ch === "$") {
      const [text, next] = expandDollar(src, i, scope);
      cur += text;
      i = next;
      started = true;
      continue;
    }
    if (ch === "`") {
      const [text, next] = await runBackquote(src, i, scope);
      cur += text;
      i = next;
      started = true;
      continue;
    }
    if (opts.dquoted !== true && (ch === '"' || ch === "'") && (quote === "" || ch === quote)) {
      quote = quote === "" ? ch : "";
      started = true;
      i++;
      continue;
    }
    if (quote === "" && opts.split && (ch === " " || ch === "\t" || ch === "\n")) {
      if (started) words.push(cur);
      cur = "";
      started = false;
      i++;
      continue;
    }
    cur += ch;
    started = true;
    i++;
  }
  if (started || (!opts.split && words.length === 0)) words.push(cur);
  return words;
}

/** Expand to one string (assignment values, `$` conditions). */
export async function expandString(
  src: string,
  scope: ExpandScope,
  opts: { dquoted?: boolean } = {},
): Promise<string> {
  const words = await expandWords(src, scope, { split: false, ...opts });
  return words.join(" ");
}
