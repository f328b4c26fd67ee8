/*
 * master-cf — the master.cf service table (Postfix master(5)).
 *
 * Each logical line (continuations and comments as in main.cf) has eight columns:
 *   service type private unpriv chroot wakeup maxproc command [args...]
 * type is inet, unix, fifo or pass (unix-dgram is recognised and refused). "-" means the
 * default: private y, unpriv y, chroot n (postern never chroots by default), wakeup 0
 * (none), maxproc default_process_limit. wakeup may end in "?" (wake only when used);
 * maxproc 0 means unlimited. Arguments `-o name=value`, `-oname=value` and
 * `-o { name = value with spaces }` become per-service parameter overrides; any other
 * argument is kept in order (`{ text }` loses its braces, as Postfix 3 does).
 * Every error reads "/etc/postern/master.cf, line 7: ...". A service name+type given twice
 * is an error. Each entry also gets a normalized `text` so reload can tell what changed.
 * Talks to the file system (reads master.cf). Security: master.cf is trusted (root-owned).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, systemReason } from "./errors.js";
import type { MainCf } from "./index.js";
import { type LogicalLine, readLogicalLines } from "./main-cf.js";
import { P } from "./params.js";

export { type InetEndpoint, inetEndpoints } from "./inet-endpoints.js";

export type ServiceType = "inet" | "unix" | "fifo" | "pass";

export interface MasterService {
  readonly name: string;
  readonly type: ServiceType;
  /** `${name}/${type}` */
  readonly key: string;
  readonly private: boolean;
  readonly unpriv: boolean;
  readonly chroot: boolean;
  /** Seconds between wakeup triggers; 0 = none. */
  readonly wakeup: number;
  /** wakeup ended in "?": trigger only after the service has been used. */
  readonly wakeupConditional: boolean;
  /** Process limit; 0 = unlimited. */
  readonly maxproc: number;
  /** The program, e.g. "smtpd". */
  readonly command: string;
  /** Arguments other than -o, in order. */
  readonly args: readonly string[];
  /** Parameter overrides from -o, in order given (a later -o of the same name wins). */
  readonly overrides: Readonly<Record<string, string>>;
  readonly line: number;
  /** The entry with defaults filled in, one space between fields: equal text = same service. */
  readonly text: string;
}

const TYPES: ReadonlySet<string> = new Set(["inet", "unix", "fifo", "pass"]);
const UNSUPPORTED_TYPES: ReadonlySet<string> = new Set(["unix-dgram"]);

/** A token of the argument part: plain text, or the inside of a { ... } group. */
interface Token {
  readonly text: string;
  readonly braced: boolean;
}

export function parseMasterCfText(text: string, file: string, defaultProcessLimit: number): MasterService[] {
  const services: MasterService[] = [];
  const seen = new Map<string, number>();
  for (const logical of readLogicalLines(text, file)) {
    const service = parseEntry(logical, file, defaultProcessLimit);
    const first = seen.get(service.key);
    if (first !== undefined) {
      throw new ConfigError(
        `duplicate service name and type: ${service.key} (first defined at line ${first})`,
        {
          file,
          line: logical.line,
        },
      );
    }
    seen.set(service.key, logical.line);
    services.push(service);
  }
  return services;
}

/** Read main.configDir/master.cf; maxproc "-" takes main's default_process_limit. */
export function loadMasterCf(main: MainCf): MasterService[] {
  const file = join(main.configDir, "master.cf");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`open ${file}: ${systemReason(err)}`);
  }
  return parseMasterCfText(text, file, main.get(P.default_process_limit));
}

function parseEntry(logical: LogicalLine, file: string, defaultProcessLimit: number): MasterService {
  const fail = (detail: string): ConfigError => new ConfigError(detail, { file, line: logical.line });
  const tokens = tokenize(logical.text, fail);
  const column = (index: number, label: string): string => {
    const t = tokens[index];
    if (t === undefined) throw fail(`missing "${label}" field`);
    if (t.braced && index < 7) throw fail(`field "${label}": bad value: "{${t.text}}"`);
    return t.text;
  };
  const name = column(0, "service");
  const type = parseType(column(1, "type"), fail);
  const wakeup = parseWakeup(column(5, "wakeup"), fail);
  const maxprocText = column(6, "maxproc");
  const maxproc = maxprocText === "-" ? defaultProcessLimit : parseCount(maxprocText, "maxproc", fail);
  const command = column(7, "command");
  const { args, overrides } = parseArgs(tokens.slice(8), fail);
  const base = {
    name,
    type,
    key: `${name}/${type}`,
    private: parseFlag(column(2, "private"), "private", true, fail),
    unpriv: parseFlag(column(3, "unpriv"), "unpriv", true, fail),
    chroot: parseFlag(column(4, "chroot"), "chroot", false, fail),
    ...wakeup,
    maxproc,
    command,
    args,
    overrides,
    line: logical.line,
  };
  return Object.freeze({ ...base, text: normalizedText(base) });
}

function parseType(text: string, fail: (d: string) => ConfigError): ServiceType {
  if (TYPES.has(text)) return text as ServiceType;
  if (UNSUPPORTED_TYPES.has(text)) throw fail(`unsupported service type: ${text}`);
  throw fail(`field "type": bad value: "${text}"`);
}

function parseFlag(text: string, label: string, dflt: boolean, fail: (d: string) => ConfigError): boolean {
  if (text === "-") return dflt;
  if (text === "y") return true;
  if (text === "n") return false;
  throw fail(`field "${label}": bad value: "${text}"`);
}

function parseCount(text: string, label: string, fail: (d: string) => ConfigError): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw fail(`field "${label}": bad value: "${text}"`);
  return n;
}

function parseWakeup(
  text: string,
  fail: (d: string) => ConfigError,
): { wakeup: number; wakeupConditional: boolean } {
  if (text === "-") return { wakeup: 0, wakeupConditional: false };
  const conditional = text.endsWith("?");
  const wakeup = parseCount(conditional ? text.slice(0, -1) : text, "wakeup", fail);
  return { wakeup, wakeupConditional: conditional && wakeup > 0 };
}

/** Split on blanks; a token starting with "{" runs to its matching "}" (nesting allowed). */
function tokenize(text: string, fail: (d: string) => ConfigError): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i] ?? "")) {
      i++;
      continue;
    }
    if (text[i] === "{") {
      const close = closingBrace(text, i);
      if (close < 0) throw fail(`missing '}' in "${text.slice(i)}"`);
      tokens.push({ text: text.slice(i + 1, close).trim(), braced: true });
      i = close + 1;
      continue;
    }
    let end = i;
    while (end < text.length && !/\s/.test(text[end] ?? "")) end++;
    tokens.push({ text: text.slice(i, end), braced: false });
    i = end;
  }
  return tokens;
}

function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

function parseArgs(
  tokens: readonly Token[],
  fail: (d: string) => ConfigError,
): { args: readonly string[]; overrides: Readonly<Record<string, string>> } {
  const args: string[] = [];
  const overrides = new Map<string, string>();
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    let assignment: string | undefined;
    if (!t.braced && t.text === "-o") {
      const next = tokens[++i];
      if (next === undefined) throw fail(`option -o requires a name=value argument`);
      assignment = next.text;
    } else if (!t.braced && t.text.startsWith("-o")) {
      assignment = t.text.slice(2);
    }
    if (assignment === undefined) {
      args.push(t.text);
      continue;
    }
    const eq = assignment.indexOf("=");
    const name = eq < 0 ? "" : assignment.slice(0, eq).trim();
    if (eq < 0 || name === "" || /\s/.test(name))
      throw fail(`bad -o argument: "${assignment}": expected name=value`);
    overrides.delete(name);
    overrides.set(name, assignment.slice(eq + 1).trim());
  }
  return { args: Object.freeze(args), overrides: Object.freeze(Object.fromEntries(overrides)) };
}

function quoteArg(arg: string): string {
  return arg === "" || /[\s{}]/.test(arg) ? `{ ${arg} }` : arg;
}

function normalizedText(s: Omit<MasterService, "text">): string {
  const yn = (b: boolean): string => (b ? "y" : "n");
  const wakeup = s.wakeup === 0 ? "0" : `${s.wakeup}${s.wakeupConditional ? "?" : ""}`;
  const fields = [
    s.name,
    s.type,
    yn(s.private),
    yn(s.unpriv),
    yn(s.chroot),
    wakeup,
    String(s.maxproc),
    s.command,
  ];
  const opts = Object.entries(s.overrides).map(([k, v]) => `-o ${quoteArg(`${k}=${v}`)}`);
  return [...fields, ...s.args.map(quoteArg), ...opts].join(" ");
}
