/*
 * flags — message flags as Maildir stores them in the file name's info part
 * ("<base>:2,<letters>", cr.yp.to/proto/maildir.html) and Dovecot extends it: upper-case
 * letters are the system flags (D \Draft, F \Flagged, P $Forwarded ("passed"), R \Answered,
 * S \Seen, T \Deleted), lower-case a–z are keywords numbered by the folder's
 * `dovecot-keywords` file ("<n> <name>" per line, 0 = a). The file is shared with Dovecot
 * and any other program on the same Maildir, because the letters in file names mean
 * nothing without it; new keywords are only ever appended, so letters never change meaning.
 * \Recent is not a stored flag (it is per session, see folder.ts).
 * Talks to: the keywords file (written temp + rename, under the caller's folder lock).
 * Security: keyword names are IMAP atoms; anything else is refused by the caller.
 */
import { statSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "./errors.js";

export const KEYWORDS_FILE = "dovecot-keywords";
export const MAX_LETTER_KEYWORDS = 26;

const SYSTEM: ReadonlyArray<readonly [string, string]> = [
  ["D", "\\Draft"],
  ["F", "\\Flagged"],
  ["P", "$Forwarded"],
  ["R", "\\Answered"],
  ["S", "\\Seen"],
  ["T", "\\Deleted"],
];
const BY_LETTER = new Map(SYSTEM);
const BY_FLAG = new Map(SYSTEM.map(([l, f]) => [f.toLowerCase(), l]));

/** The flags IMAP clients may set (RFC 3501 PERMANENTFLAGS without \*). */
export const SYSTEM_FLAGS: readonly string[] = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/** A flag name in its canonical spelling (system flags are case-insensitive). */
export function canonicalFlag(flag: string, keywords: readonly string[] = []): string {
  const lower = flag.toLowerCase();
  const sys = SYSTEM.find(([, f]) => f.toLowerCase() === lower);
  if (sys !== undefined) return sys[1];
  const known = keywords.find((k) => k.toLowerCase() === lower);
  return known ?? flag;
}

/** An IMAP flag keyword: an atom without "\" (RFC 3501 flag-keyword), at most 128 chars. */
export function validKeyword(name: string): boolean {
  return /^[!#$&'+,\-.0-9:;<=>?@A-Z^_`a-z|}~]{1,128}$/.test(name) || name === "$Forwarded";
}

export interface ParsedInfo {
  readonly flags: readonly string[];
  /** Letters we do not understand (other programs' flags), kept when renaming. */
  readonly foreign: string;
}

/** The flags of a file name's info ("2,FRS"); names without ":2," have none. */
export function parseInfo(info: string, keywords: readonly string[]): ParsedInfo {
  if (!info.startsWith("2,")) return { flags: [], foreign: "" };
  const flags: string[] = [];
  let foreign = "";
  for (const letter of info.slice(2)) {
    const sys = BY_LETTER.get(letter);
    const kw = letter >= "a" && letter <= "z" ? keywords[letter.charCodeAt(0) - 97] : undefined;
    if (sys !== undefined) flags.push(sys);
    else if (kw !== undefined) flags.push(kw);
    else foreign += letter;
  }
  return { flags: sortFlags(flags), foreign };
}

/** The info part for these flags; keywords missing from `keywords` must be added first. */
export function formatInfo(flags: readonly string[], keywords: readonly string[], foreign = ""): string {
  const letters = new Set<string>(foreign);
  for (const flag of flags) {
    const sys = BY_FLAG.get(flag.toLowerCase());
    if (sys !== undefined) {
      letters.add(sys);
      continue;
    }
    const i = keywords.findIndex((k) => k.toLowerCase() === flag.toLowerCase());
    if (i >= 0 && i < MAX_LETTER_KEYWORDS) letters.add(String.fromCharCode(97 + i));
  }
  return `2,${[...letters].sort().join("")}`;
}

/** Flags sorted and without duplicates: the one form compared and stored. */
export function sortFlags(flags: readonly string[]): string[] {
  return [...new Set(flags)].sort();
}

export function parseKeywords(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d{1,2}) (\S+)$/.exec(line);
    if (m === null) continue;
    const i = Number(m[1]);
    if (i < MAX_LETTER_KEYWORDS && out[i] === undefined) out[i] = m[2] ?? "";
  }
  // A hole (damaged file) must not shift later letters: keep a placeholder no client can set.
  return Array.from(out, (k, i) => k ?? `\\unused${i}`);
}

/** The keywords file as last read by this process, by folder, with the file's identity then. */
const keywordsRead = new Map<string, { readonly key: string; readonly list: readonly string[] }>();

/** The identity of the keywords file ("" when it cannot be examined: read it). */
function keywordsFileKey(path: string): string {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st === undefined ? "none" : `${st.ino}:${st.size}:${st.mtimeNs}`;
  } catch {
    return "";
  }
}

/** The keywords file's path by folder (joined once, not per command). */
const keywordsPaths = new Map<string, string>();

function keywordsPath(dir: string): string {
  let path = keywordsPaths.get(dir);
  if (path === undefined) {
    path = join(dir, KEYWORDS_FILE);
    if (keywordsPaths.size >= 1024) keywordsPaths.clear();
    keywordsPaths.set(dir, path);
  }
  return path;
}

/**
 * The folder's keywords as this process last read them, when a blocking stat proves the
 * file unchanged since (the usual SELECT): shared, not to be changed. undefined: read them.
 */
export function knownKeywords(dir: string): readonly string[] | undefined {
  const known = keywordsRead.get(dir);
  if (known === undefined) return undefined;
  const key = keywordsFileKey(keywordsPath(dir));
  return key !== "" && known.key === key ? known.list : undefined;
}

/** The folder's keywords; a blocking stat proves most calls need not read the file again. */
export async function readKeywords(dir: string): Promise<string[]> {
  const path = keywordsPath(dir);
  const key = keywordsFileKey(path);
  const known = keywordsRead.get(dir);
  if (key !== "" && known?.key === key) return [...known.list];
  const text = await readFile(path, "utf8").catch((e: unknown) => {
    if (errnoCode(e) === "ENOENT") return "";
    throw e;
  });
  const list = parseKeywords(text);
  if (key !== "") keywordsRead.set(dir, { key, list });
  return [...list];
}

/**
 * Append the keywords of `flags` that the file does not know yet (caller holds the folder
 * lock); returns the full list. Keywords beyond 26 get no letter and are not stored.
 */
export async function addKeywords(dir: string, flags: readonly string[]): Promise<string[]> {
  const list = await readKeywords(dir);
  const lower = new Set(list.map((k) => k.toLowerCase()));
  let changed = false;
  for (const flag of flags) {
    if (flag.startsWith("\\") || BY_FLAG.has(flag.toLowerCase()) || lower.has(flag.toLowerCase())) continue;
    if (list.length >= MAX_LETTER_KEYWORDS) break;
    list.push(flag);
    lower.add(flag.toLowerCase());
    changed = true;
  }
  if (changed) {
    const tmp = join(dir, `${KEYWORDS_FILE}.tmp`);
    await writeFile(tmp, list.map((k, i) => `${i} ${k}\n`).join(""), { mode: 0o600 });
    await rename(tmp, join(dir, KEYWORDS_FILE));
  }
  return list;
}
