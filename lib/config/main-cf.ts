/*
 * main-cf — the main.cf parser (Postfix postconf(5) "syntax").
 *
 * A logical line is `name = value`; whitespace around `=` is optional and trailing
 * whitespace is dropped. A line whose first non-blank character is `#` is a comment (there
 * are no trailing comments: a `#` inside a value is part of the value). A line that starts
 * with whitespace continues the previous logical line, joined with one space; blank lines
 * and comments end nothing when indented, but an unindented comment or empty line does end
 * the logical line, as in Postfix's readllines(). The last assignment of a name wins.
 * Values are not expanded here ($name is expand.ts's job).
 * Talks to nothing (pure text in, map out). Security: main.cf is trusted (root-owned), but
 * the parser never throws anything but ConfigError, whatever the text.
 */
import { ConfigError } from "./errors.js";

/** One logical line: its text (continuations joined by one space) and its first line number. */
export interface LogicalLine {
  readonly text: string;
  readonly line: number;
}

export interface Assignment {
  readonly value: string;
  readonly line: number;
}

function isBlankOrComment(trimmed: string): boolean {
  return trimmed === "" || trimmed.startsWith("#");
}

/**
 * Split configuration text into logical lines (main.cf and master.cf share this syntax).
 * A continuation line with nothing to continue is a ConfigError.
 */
export function readLogicalLines(text: string, file: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  let current: { parts: string[]; line: number } | undefined;
  const finish = (): void => {
    if (current !== undefined) out.push({ text: current.parts.join(" "), line: current.line });
    current = undefined;
  };
  const physical = text.split("\n");
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i] ?? "";
    const trimmed = raw.trim();
    const indented = raw.startsWith(" ") || raw.startsWith("\t");
    if (indented && isBlankOrComment(trimmed)) continue;
    if (indented) {
      if (current === undefined) {
        throw new ConfigError(`logical line must not start with whitespace: "${trimmed}"`, {
          file,
          line: i + 1,
        });
      }
      current.parts.push(trimmed);
      continue;
    }
    finish();
    if (!isBlankOrComment(trimmed)) current = { parts: [trimmed], line: i + 1 };
  }
  finish();
  return out;
}

/** Split one logical line into name and value, or throw Postfix's complaint. */
export function splitNameValue(logical: LogicalLine, file: string): { name: string; value: string } {
  const m = /^([^\s=]*)\s*(=?)\s*([\s\S]*)$/.exec(logical.text);
  const name = m?.[1] ?? "";
  if (m === null || m[2] !== "=") {
    throw new ConfigError(`missing '=' after attribute name: "${logical.text}"`, {
      file,
      line: logical.line,
    });
  }
  if (name === "") {
    throw new ConfigError(`missing attribute name: "${logical.text}"`, { file, line: logical.line });
  }
  return { name, value: (m[3] ?? "").trim() };
}

/** Parse main.cf text into name → { value, line }; later assignments replace earlier ones. */
export function parseMainCfText(text: string, file: string): Map<string, Assignment> {
  const result = new Map<string, Assignment>();
  for (const logical of readLogicalLines(text, file)) {
    const { name, value } = splitNameValue(logical, file);
    // Delete first so iteration order follows the winning (last) assignment, as postconf -n shows.
    result.delete(name);
    result.set(name, { value, line: logical.line });
  }
  return result;
}
