/*
 * maps — Postfix-style lookup tables named "type:name": openMap() for lookups (what
 * `postmap -q KEY type:name` does is openMap(spec).lookup(KEY)) and compileMap() for
 * `postern map` / `postern aliases` (postmap(1) / postalias(1)).
 *
 * Types: hash:/path (compiled /path.db, falling back to the text), texthash:/path,
 * unix:passwd.byname, passwd-file:/path (Dovecot), static:value, inline:{ k=v, ... } and
 * fail:name. Relative paths resolve against opts.configDir. The source format of file tables
 * is "postmap" unless opts.format says otherwise, or the file is named "aliases" (so
 * hash:/etc/aliases in local_recipient_maps parses as aliases(5) without help).
 * Talks to the file system through tables.ts. Security: opening a table reads nothing;
 * errors are MapError and never include values from the table.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, isAbsolute, resolve } from "node:path";
import { encodeTable, writeFileAtomic } from "./db-file.js";
import { errorText, MapError } from "./map-error.js";
import { parseTableText, type TableFormat } from "./table-text.js";
import {
  FailTable,
  HashTable,
  type LookupTable,
  MemoryTable,
  PasswdFileTable,
  StaticTable,
  TextHashTable,
  UnixPasswdTable,
} from "./tables.js";

export { CompiledTable, encodeTable } from "./db-file.js";
export { MapError } from "./map-error.js";
export { parseTableText, type TableEntry, type TableFormat } from "./table-text.js";
export type { LookupTable } from "./tables.js";

export interface MapOptions {
  /** Source syntax of hash:/texthash: files (default: postmap, or aliases for a file named "aliases"). */
  format?: TableFormat;
  /** Directory that relative file names are resolved against. */
  configDir?: string;
  /** The system passwd file behind unix:passwd.byname (default /etc/passwd). */
  passwdFile?: string;
  /** Receives warnings: stale or missing .db files, duplicate keys, bad passwd-file lines. */
  onWarning?: (message: string) => void;
  /**
   * What auth:userdb asks: the auth service's userdb (smtpd passes its auth client), so a
   * process that must not read password data can still tell users from strangers.
   */
  authUserdb?: (users: readonly string[]) => Promise<string | undefined>;
}

export const SUPPORTED_MAP_TYPES = [
  "hash",
  "texthash",
  "unix",
  "passwd-file",
  "static",
  "inline",
  "fail",
  "auth",
] as const;

/** Split "type:name"; throws MapError when there is no type. */
export function splitMapSpec(spec: string): { type: string; name: string } {
  const colon = spec.indexOf(":");
  if (colon <= 0) throw new MapError(`need dictionary_type:dictionary_name format instead of "${spec}"`);
  return { type: spec.slice(0, colon).toLowerCase(), name: spec.slice(colon + 1) };
}

function stripBraces(text: string, spec: string): string {
  const t = text.trim();
  if (!t.startsWith("{")) return t;
  if (!t.endsWith("}")) throw new MapError(`${spec}: missing '}'`);
  return t.slice(1, -1).trim();
}

/** Split "{ a=b, { c = d e }, f=g }" contents into elements, honouring nested braces. */
function inlineElements(body: string, spec: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    const ch = body[i] ?? "";
    if (/[\s,]/.test(ch)) {
      i++;
    } else if (ch === "{") {
      const close = body.indexOf("}", i);
      if (close < 0) throw new MapError(`${spec}: missing '}'`);
      out.push(body.slice(i + 1, close).trim());
      i = close + 1;
    } else {
      const m = /^[^\s,{}]+/.exec(body.slice(i));
      const token = m?.[0] ?? ch;
      out.push(token);
      i += token.length;
    }
  }
  return out;
}

/** Parse the name part of inline:{ key1=value1, { key2 = value with spaces } }. */
export function parseInline(name: string, spec: string): Map<string, string> {
  const t = name.trim();
  if (!t.startsWith("{") || !t.endsWith("}")) throw new MapError(`${spec}: need "inline:{ key=value, ... }"`);
  const entries = new Map<string, string>();
  for (const element of inlineElements(t.slice(1, -1), spec)) {
    const eq = element.indexOf("=");
    const key = eq < 0 ? "" : element.slice(0, eq).trim().toLowerCase();
    if (key === "") throw new MapError(`${spec}: expected "key=value" instead of "${element}"`);
    if (!entries.has(key)) entries.set(key, element.slice(eq + 1).trim());
  }
  return entries;
}

function filePath(name: string, spec: string, opts: MapOptions): string {
  if (name === "") throw new MapError(`${spec}: missing file name`);
  return isAbsolute(name) || opts.configDir === undefined ? name : resolve(opts.configDir, name);
}

function formatFor(path: string, opts: MapOptions): TableFormat {
  return opts.format ?? (basename(path) === "aliases" ? "aliases" : "postmap");
}

/** Open a lookup table. Nothing is read until the first lookup. Throws MapError for a bad spec. */
export function openMap(spec: string, opts: MapOptions = {}): LookupTable {
  const { type, name } = splitMapSpec(spec);
  const warn = opts.onWarning;
  switch (type) {
    case "hash": {
      const path = filePath(name, spec, opts);
      return new HashTable(spec, path, formatFor(path, opts), warn);
    }
    case "texthash": {
      const path = filePath(name, spec, opts);
      return new TextHashTable(spec, path, formatFor(path, opts), warn);
    }
    case "unix":
      if (name !== "passwd.byname") throw new MapError(`unknown table: ${spec}`);
      return new UnixPasswdTable(spec, opts.passwdFile ?? "/etc/passwd");
    case "passwd-file":
      return new PasswdFileTable(spec, filePath(name, spec, opts), warn);
    case "static":
      return new StaticTable(spec, stripBraces(name, spec));
    case "inline":
      return new MemoryTable(spec, parseInline(name, spec));
    case "fail":
      return new FailTable(spec);
    case "auth": {
      if (name !== "userdb") throw new MapError(`unknown table: ${spec}`);
      const lookupFirst = (keys: readonly string[]) => {
        if (opts.authUserdb === undefined) throw new MapError(`${spec}: only smtpd can ask the auth service`);
        return opts.authUserdb(keys);
      };
      return {
        spec,
        lookup: (key) => lookupFirst([key]),
        lookupFirst,
      };
    }
    default:
      throw new MapError(`unsupported dictionary type: ${type}`);
  }
}

/**
 * Compile a table source into its indexed form, as postmap(1) / postalias(1) do:
 * hash:/path (or a bare /path) reads /path and atomically writes /path.db.
 */
export async function compileMap(
  spec: string,
  opts: Omit<MapOptions, "passwdFile"> = {},
): Promise<{ entries: number; output: string }> {
  const { type, name } = spec.includes(":") ? splitMapSpec(spec) : { type: "hash", name: spec };
  if (type !== "hash") throw new MapError(`unsupported map type for this operation: ${type}`);
  const path = filePath(name, spec, opts);
  let text: string;
  let mode: number;
  try {
    text = await readFile(path, "utf8");
    mode = (await stat(path)).mode & 0o666;
  } catch (err) {
    throw new MapError(`open source file: ${errorText(err)}`, { file: path });
  }
  const table = parseTableText(text, path, formatFor(path, opts), opts.onWarning);
  const output = `${path}.db`;
  try {
    writeFileAtomic(output, encodeTable([...table].map(([k, e]) => [k, e.value] as const)), mode);
  } catch (err) {
    throw new MapError(`write: ${errorText(err)}`, { file: output });
  }
  return { entries: table.size, output };
}
