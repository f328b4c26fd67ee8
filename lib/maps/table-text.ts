/*
 * table-text — parse lookup-table source text: postmap(1) and postalias(1) input.
 *
 * Postmap format (access(5), transport(5), ...): "key whitespace value". Aliases format
 * (aliases(5)): "name: value, value" where the name may be a "quoted string". Common rules,
 * as Postfix's readlline(): empty and whitespace-only lines are ignored, so are lines whose
 * first non-whitespace character is '#'; a line that starts with whitespace continues the
 * logical line before it. Keys are folded to lower case (Postfix folds for hash/texthash);
 * values are kept as written, with continuation lines joined by one space. The first of
 * duplicate keys wins and the others are reported as warnings, as postmap does.
 * Talks to nothing. Security: input is operator-written configuration; errors quote it.
 */
import { MapError } from "./map-error.js";

export type TableFormat = "postmap" | "aliases";

export interface TableEntry {
  readonly value: string;
  /** 1-based line where the entry's logical line starts. */
  readonly line: number;
}

interface LogicalLine {
  text: string;
  line: number;
}

/** Join physical lines into logical lines with their starting line numbers. */
function logicalLines(text: string, file: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const physical = text.split("\n");
  for (let i = 0; i < physical.length; i++) {
    const raw = (physical[i] ?? "").replace(/\r$/, "");
    const trimmed = raw.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (/^\s/.test(raw)) {
      const current = out[out.length - 1];
      if (current === undefined) {
        throw new MapError("logical line must not start with whitespace", { file, line: i + 1 });
      }
      current.text += ` ${trimmed}`;
      continue;
    }
    out.push({ text: raw.trimEnd(), line: i + 1 });
  }
  return out;
}

function parsePostmapLine(l: LogicalLine, file: string): [string, string] {
  const m = /^(\S+)\s+(\S.*)$/.exec(l.text);
  if (m === null) throw new MapError("expected format: key whitespace value", { file, line: l.line });
  return [m[1] ?? "", (m[2] ?? "").trim()];
}

/** Read a "quoted name" at the start of text; returns the unquoted name and the rest. */
function readQuotedName(text: string, file: string, line: number): [string, string] {
  let name = "";
  for (let i = 1; i < text.length; i++) {
    const ch = text[i] ?? "";
    if (ch === "\\" && i + 1 < text.length) {
      name += text[++i] ?? "";
    } else if (ch === '"') {
      return [name, text.slice(i + 1)];
    } else {
      name += ch;
    }
  }
  throw new MapError("missing closing quote in alias name", { file, line });
}

function parseAliasLine(l: LogicalLine, file: string): [string, string] {
  const where = { file, line: l.line };
  let name: string;
  let rest: string;
  if (l.text.startsWith('"')) {
    [name, rest] = readQuotedName(l.text, file, l.line);
    rest = rest.trimStart();
    if (!rest.startsWith(":")) throw new MapError("need name:value pair", where);
    rest = rest.slice(1);
  } else {
    const colon = l.text.indexOf(":");
    if (colon < 0) throw new MapError("need name:value pair", where);
    name = l.text.slice(0, colon).trim();
    rest = l.text.slice(colon + 1);
    if (/\s/.test(name))
      throw new MapError(`alias name must be quoted when it contains whitespace: "${name}"`, where);
  }
  if (name === "") throw new MapError("empty alias name", where);
  const value = rest.trim();
  if (value === "") throw new MapError(`no value for alias "${name}"`, where);
  return [name, value];
}

/**
 * Parse table source text into key → { value, line }. Throws MapError (naming file and
 * line) on a syntax error; duplicate keys go to onWarning and the first one is kept.
 */
export function parseTableText(
  text: string,
  file: string,
  format: TableFormat,
  onWarning?: (message: string) => void,
): Map<string, TableEntry> {
  const table = new Map<string, TableEntry>();
  for (const l of logicalLines(text, file)) {
    const [rawKey, value] = format === "aliases" ? parseAliasLine(l, file) : parsePostmapLine(l, file);
    const key = rawKey.toLowerCase();
    if (table.has(key)) {
      onWarning?.(`${file}, line ${l.line}: duplicate entry: "${key}"`);
      continue;
    }
    table.set(key, { value, line: l.line });
  }
  return table;
}
