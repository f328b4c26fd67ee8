/*
 * expand — $name expansion of main.cf values (Postfix postconf(5), mac_expand).
 *
 * Forms: $name, ${name}, $(name); ${name?text} gives text when name's value is non-empty,
 * ${name:text} when it is empty (text may be written {text}, and ${name?{a}:{b}} picks one
 * of two); $$ is a literal $. Expansion is lazy (done when a value is used) and recursive:
 * the value of a referenced parameter is expanded in turn, and only the chosen branch of a
 * conditional is. A reference loop (a = $b, b = $a) is a ConfigError naming the chain. An
 * unknown name expands to nothing and is reported in `unknown` so `postern check` can warn,
 * as Postfix does. A `$` not followed by a name, `$`, `{` or `(` is kept literally.
 * Talks to nothing: parameter text comes from an ExpandSource. Security: the text is trusted
 * configuration; the work is bounded (each parameter is expanded once per call).
 */
import { ConfigError, type Origin } from "./errors.js";

export interface ExpandSource {
  /** The unexpanded text of a parameter, or undefined when it is neither set nor known. */
  raw(name: string): string | undefined;
  /** Where a parameter's text came from, for error messages (undefined: a default). */
  origin?(name: string): Origin | undefined;
}

export interface Expansion {
  readonly text: string;
  /** Names referenced (directly or through other parameters) that have no value at all. */
  readonly unknown: readonly string[];
}

interface State {
  readonly source: ExpandSource;
  readonly chain: string[];
  readonly done: Map<string, string>;
  readonly unknown: Set<string>;
}

const NAME_CHAR = /[A-Za-z0-9_]/;

/** Expand a parameter's value. */
export function expandParam(name: string, source: ExpandSource): Expansion {
  const state: State = { source, chain: [], done: new Map(), unknown: new Set() };
  const text = paramValue(name, state);
  return { text, unknown: [...state.unknown] };
}

/** Expand arbitrary $-text (not itself a parameter) against a source. */
export function expandText(text: string, source: ExpandSource): Expansion {
  const state: State = { source, chain: [], done: new Map(), unknown: new Set() };
  const out = expandInner(text, state);
  return { text: out, unknown: [...state.unknown] };
}

function paramValue(name: string, state: State): string {
  const cached = state.done.get(name);
  if (cached !== undefined) return cached;
  if (state.chain.includes(name)) throw loopError(name, state);
  const raw = state.source.raw(name);
  if (raw === undefined) {
    state.unknown.add(name);
    return "";
  }
  state.chain.push(name);
  const value = expandInner(raw, state);
  state.chain.pop();
  state.done.set(name, value);
  return value;
}

function loopError(name: string, state: State): ConfigError {
  const start = state.chain.indexOf(name);
  const loop = [...state.chain.slice(start), name];
  const first = state.chain[0] ?? name;
  const where =
    state.source.origin?.(first) ?? loop.map((n) => state.source.origin?.(n)).find((o) => o !== undefined);
  const shown = start === 0 ? loop : [...state.chain.slice(0, start), ...loop];
  return new ConfigError(`parameter ${first}: recursion loop: ${shown.join(" -> ")}`, where);
}

function expandInner(text: string, state: State): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) return out + text.slice(i);
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
    } else if (next === "{" || next === "(") {
      const close = matchingClose(text, dollar + 1, state);
      out += expandBracketed(text.slice(dollar + 2, close), state);
      i = close + 1;
    } else if (next !== undefined && NAME_CHAR.test(next)) {
      let end = dollar + 1;
      while (end < text.length && NAME_CHAR.test(text[end] ?? "")) end++;
      out += paramValue(text.slice(dollar + 1, end), state);
      i = end;
    } else {
      out += "$";
      i = dollar + 1;
    }
  }
  return out;
}

/** Index of the bracket closing the one at `open`, counting nested pairs of the same kind. */
function matchingClose(text: string, open: number, state: State): number {
  const opener = text[open];
  const closer = opener === "{" ? "}" : ")";
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === opener) depth++;
    else if (text[i] === closer && --depth === 0) return i;
  }
  throw syntaxError(`missing '${closer}' in "${text}"`, state);
}

function syntaxError(detail: string, state: State): ConfigError {
  const owner = state.chain[state.chain.length - 1];
  if (owner === undefined) return new ConfigError(detail);
  return new ConfigError(`parameter ${owner}: ${detail}`, state.source.origin?.(owner));
}

/** The inside of ${...}: a name, optionally followed by ?text or :text. */
function expandBracketed(inner: string, state: State): string {
  const m = /^([A-Za-z0-9_]+)([?:][\s\S]*)?$/.exec(inner);
  if (m === null) throw syntaxError(`bad macro name syntax: "\${${inner}}"`, state);
  const name = m[1] ?? "";
  const rest = m[2];
  if (rest === undefined) return paramValue(name, state);
  const nonEmpty = paramValue(name, state) !== "";
  const branches = splitBranches(rest.slice(1));
  if (rest.startsWith("?")) {
    return nonEmpty ? expandInner(branches.first, state) : expandInner(branches.second ?? "", state);
  }
  return nonEmpty ? "" : expandInner(branches.first, state);
}

/** "{a}:{b}" → a and b; "{a}" → a; plain text stays as it is (Postfix 3 syntax). */
function splitBranches(text: string): { first: string; second?: string } {
  const t = text.trim();
  const pair = /^\{([\s\S]*)\}\s*:\s*\{([\s\S]*)\}$/.exec(t);
  if (pair !== null && balanced(pair[1] ?? "")) return { first: pair[1] ?? "", second: pair[2] ?? "" };
  const single = /^\{([\s\S]*)\}$/.exec(t);
  if (single !== null && balanced(single[1] ?? "")) return { first: single[1] ?? "" };
  return { first: text };
}

function balanced(text: string): boolean {
  let depth = 0;
  for (const c of text) {
    if (c === "{") depth++;
    else if (c === "}" && --depth < 0) return false;
  }
  return depth === 0;
}
