/*
 * alias-files — reading ~/.forward and :include: files, and expanding forward_path.
 *
 * local runs as root, so it cannot rely on the kernel to stop a user from pointing ~/.forward
 * or an :include: at a file they may not read: files are opened with O_NOFOLLOW (no
 * symlinks), must be regular files with one link, at most 1 MB, and their owner and mode are
 * returned so the caller can apply Postfix's ownership rules. forward_path templates follow
 * Postfix: $home $user $shell $recipient $extension $domain $local $recipient_delimiter, and
 * ${name?value} / ${name:value} for defined / undefined names; characters outside
 * forward_expansion_filter's default set become "_" ("/" too, so an extension cannot climb
 * directories). Talks to the file system (read only).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { errnoOf } from "./status.js";

export interface OwnedText {
  readonly text: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
}

/** Reads a .forward or :include: file; undefined when it does not exist. Injectable for tests. */
export type OwnedTextReader = (path: string) => Promise<OwnedText | undefined>;

const MAX_FILE_BYTES = 1024 * 1024;

/** The default OwnedTextReader: safe open, fstat checks, bounded read. */
export async function readOwnedText(path: string): Promise<OwnedText | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") return undefined;
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw Object.assign(new Error(`${path}: not a regular file`), { code: "EFTYPE" });
    if (st.nlink !== 1) throw Object.assign(new Error(`${path}: has more than one link`), { code: "EMLINK" });
    if (st.size > MAX_FILE_BYTES)
      throw Object.assign(new Error(`${path}: file too large`), { code: "EFBIG" });
    const text = (await fh.readFile()).toString("utf8");
    return { text, uid: st.uid, gid: st.gid, mode: st.mode };
  } finally {
    await fh.close();
  }
}

/** Logical lines of a .forward or :include: file: comments and blank lines dropped. */
export function contentLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.replace(/\r$/, "").trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

const FILTER = /[^0-9A-Za-z!@%\-_=+:,.]/g;

/** Replace characters with special meaning to shells or file systems by "_". */
export function filterExpansion(value: string): string {
  return value.replace(FILTER, "_");
}

export type ExpansionVars = Readonly<Record<string, string | undefined>>;

/** Find the index of the "}" closing the "${" that starts at `open`. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

/** Postfix-style $name / ${name} / ${name?value} / ${name:value} expansion. */
export function expandTemplate(template: string, vars: ExpansionVars): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    if (template[i + 1] === "{") {
      const end = closingBrace(template, i + 1);
      if (end < 0) return out + template.slice(i);
      out += expandBraced(template.slice(i + 2, end), vars);
      i = end + 1;
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(template.slice(i + 1));
    if (m === null) {
      out += c;
      i++;
      continue;
    }
    out += vars[m[0]] ?? "";
    i += 1 + m[0].length;
  }
  return out;
}

function expandBraced(inner: string, vars: ExpansionVars): string {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)([?:])?([\s\S]*)$/.exec(inner);
  if (m === null) return "";
  const value = vars[m[1] ?? ""];
  const defined = value !== undefined && value !== "";
  if (m[2] === "?") return defined ? expandTemplate(m[3] ?? "", vars) : "";
  if (m[2] === ":") return defined ? "" : expandTemplate(m[3] ?? "", vars);
  return value ?? "";
}
