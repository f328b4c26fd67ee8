/*
 * edit — rewrite main.cf in place (`postern conf -e` and `-X`, Postfix postconf -e/-X).
 *
 * editMainCf replaces every existing assignment of a name (with its continuation lines)
 * by `name = value` where it stands, and appends names not yet present at the end, in the
 * order given. removeFromMainCf deletes assignments and their continuation lines. Comments,
 * blank lines and the order of everything else are kept byte for byte (indented comments
 * inside a replaced value are kept too). The new file is written to a temporary name in the
 * same directory, fsynced and renamed over the old one, so a crash leaves either the old or
 * the new main.cf, never half of one; the file mode is kept.
 * Talks to the file system. Security: run by root on a root-owned file; names and values
 * are validated so an edit cannot inject extra lines.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { ConfigError, isErrnoCode, systemReason } from "./errors.js";

/** Set parameters in main.cf (creating the file if needed). */
export function editMainCf(file: string, assignments: Readonly<Record<string, string>>): void {
  const wanted = new Map<string, string>();
  for (const [name, value] of Object.entries(assignments)) {
    checkName(name);
    if (/[\r\n]/.test(value)) throw new ConfigError(`value of ${name} must be one line`);
    wanted.set(name, value.trim());
  }
  const found = new Set<string>();
  const lines = rewrite(readLines(file), (name) => {
    const value = wanted.get(name);
    if (value === undefined) return undefined;
    found.add(name);
    return formatAssignment(name, value);
  });
  for (const [name, value] of wanted) if (!found.has(name)) lines.push(formatAssignment(name, value));
  writeAtomically(file, lines);
}

/** Delete parameters from main.cf; names not present and a missing file are fine. */
export function removeFromMainCf(file: string, names: readonly string[]): void {
  const doomed = new Set(names);
  for (const name of doomed) checkName(name);
  const before = readLines(file);
  const after = rewrite(before, (name) => (doomed.has(name) ? null : undefined));
  if (after.length !== before.length) writeAtomically(file, after);
}

function formatAssignment(name: string, value: string): string {
  return value === "" ? `${name} =` : `${name} = ${value}`;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_.\-/]+$/.test(name)) throw new ConfigError(`bad parameter name: "${name}"`);
}

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (isErrnoCode(err, "ENOENT")) return [];
    throw new ConfigError(`open ${file}: ${systemReason(err)}`);
  }
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/**
 * Walk physical lines; for each assignment ask `replace(name)`: undefined keeps it, null
 * deletes it, a string replaces it. A replaced or deleted assignment loses its continuation
 * lines (indented comments excepted).
 */
function rewrite(lines: readonly string[], replace: (name: string) => string | null | undefined): string[] {
  const out: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      const comment = line.trim().startsWith("#");
      if (!dropping || comment) out.push(line);
      continue;
    }
    dropping = false;
    const name = /^([^\s=#]+)\s*=/.exec(line)?.[1];
    const replacement = name === undefined ? undefined : replace(name);
    if (replacement === undefined) {
      out.push(line);
      continue;
    }
    dropping = true;
    if (replacement !== null) out.push(replacement);
  }
  return out;
}

function writeAtomically(file: string, lines: readonly string[]): void {
  const mode = fileMode(file);
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(temp, "wx", mode);
  try {
    writeSync(fd, lines.length === 0 ? "" : `${lines.join("\n")}\n`);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw new ConfigError(`write ${temp}: ${systemReason(err)}`);
  }
  closeSync(fd);
  renameSync(temp, file);
  syncDirectory(dirname(file));
}

function fileMode(file: string): number {
  try {
    return statSync(file).mode & 0o7777;
  } catch {
    return 0o644;
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
