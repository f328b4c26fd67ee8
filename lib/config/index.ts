/*
 * config — the configuration API every postern process uses (Postfix mail_conf).
 *
 * loadMainCf(dir) reads dir/main.cf (a missing file means "all defaults"; a missing
 * directory is an error) and returns a frozen MainCf: raw text, lazily expanded text and
 * typed, cached values of every parameter. Precedence: overrides (master.cf -o, command
 * line) > main.cf > the default in params.ts; config_directory is always the directory
 * given. Nothing is watched: a process reads its configuration once (reload = restart).
 * It also re-exports the master.cf, edit and describe APIs so callers import one module.
 * Talks to the file system (read only). Security: main.cf is trusted input owned by root;
 * errors are ConfigErrors carrying file and line, never stack traces.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, isErrnoCode, type Origin, systemReason } from "./errors.js";
import { type ExpandSource, expandParam, expandText } from "./expand.js";
import { type Assignment, parseMainCfText } from "./main-cf.js";
import { type ParamDef, type ParamKind, type ParamValue, paramByName } from "./params.js";
import { convertValue } from "./values.js";

export { ConfigError, type Origin } from "./errors.js";
export { parseMainCfText } from "./main-cf.js";
export type { ParamDef, ParamKind, ParamValue } from "./params.js";

export interface MainCf {
  /** The directory given (also the value of config_directory). */
  readonly configDir: string;
  /** configDir/main.cf */
  readonly file: string;
  /** main.cf assignments (after `overrides`): name → raw text and line (0 for overrides). */
  readonly explicit: ReadonlyMap<string, { value: string; line: number }>;
  /** Unexpanded text: explicit, else the default, else undefined. */
  raw(name: string): string | undefined;
  /** Expanded text ("" for an unknown name); parameters of kind raw are not expanded. */
  expand(name: string): string;
  /** The typed value of a parameter, converted and bounds-checked once, then cached. */
  get<K extends ParamKind>(p: ParamDef<K>): ParamValue<K>;
  /** Expand any $-text against this configuration. */
  expandText(text: string): string;
  /** Explicit names that are not in the parameter table (for `postern check`). */
  unknownNames(): string[];
  /** $names referenced by explicit values that have no value at all (for `postern check`). */
  unknownReferences(): string[];
}

export interface MainCfOptions {
  /** Assignments that win over main.cf: master.cf -o, or -o on the command line. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** Read configDir/main.cf. Throws ConfigError if configDir is not a directory or main.cf is bad. */
export function loadMainCf(configDir: string, opts?: MainCfOptions): MainCf {
  checkDirectory(configDir);
  const file = join(configDir, "main.cf");
  return mainCfFromText(readMainCf(file), { configDir, ...opts });
}

/** Build a MainCf from main.cf text without touching the file system (tests, `postern check`). */
export function mainCfFromText(text: string, opts: MainCfOptions & { readonly configDir: string }): MainCf {
  const file = join(opts.configDir, "main.cf");
  const explicit = parseMainCfText(text, file);
  for (const [name, value] of Object.entries(opts.overrides ?? {})) {
    explicit.delete(name);
    explicit.set(name, { value: value.trim(), line: 0 });
  }
  const dirEntry = explicit.get("config_directory");
  if (dirEntry !== undefined)
    explicit.set("config_directory", { value: opts.configDir, line: dirEntry.line });
  return new LoadedMainCf(opts.configDir, file, explicit);
}

function checkDirectory(configDir: string): void {
  try {
    if (!statSync(configDir).isDirectory()) throw new ConfigError(`${configDir}: not a directory`);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`configuration directory ${configDir}: ${systemReason(err)}`);
  }
}

function readMainCf(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if (isErrnoCode(err, "ENOENT")) return "";
    throw new ConfigError(`open ${file}: ${systemReason(err)}`);
  }
}

/** "mx.example.org" → "example.org"; a name with one label → "localdomain" (as params.ts). */
function domainOf(host: string): string {
  const dot = host.indexOf(".");
  return dot > 0 && dot < host.length - 1 ? host.slice(dot + 1) : "localdomain";
}

class LoadedMainCf implements MainCf {
  private readonly typed = new Map<ParamDef, unknown>();
  private readonly expanded = new Map<string, string>();
  private readonly defaults = new Map<string, string>();
  private readonly unknownRefs = new Set<string>();
  private readonly source: ExpandSource;

  constructor(
    readonly configDir: string,
    readonly file: string,
    readonly explicit: ReadonlyMap<string, Assignment>,
  ) {
    this.source = { raw: (name) => this.raw(name), origin: (name) => this.origin(name) };
  }

  raw(name: string): string | undefined {
    if (name === "config_directory") return this.configDir;
    const set = this.explicit.get(name);
    if (set !== undefined) return set.value;
    const def = paramByName(name);
    return def === undefined ? undefined : this.defaultText(def);
  }

  expand(name: string): string {
    const cached = this.expanded.get(name);
    if (cached !== undefined) return cached;
    const value = this.expandRaw(name, paramByName(name));
    this.expanded.set(name, value);
    return value;
  }

  get<K extends ParamKind>(p: ParamDef<K>): ParamValue<K> {
    if (this.typed.has(p)) return this.typed.get(p) as ParamValue<K>;
    const text = this.expandRaw(p.name, p);
    const value = convertValue(p, text, this.origin(p.name));
    this.typed.set(p, value);
    return value;
  }

  expandText(text: string): string {
    const result = expandText(text, this.source);
    for (const name of result.unknown) this.unknownRefs.add(name);
    return result.text;
  }

  unknownNames(): string[] {
    return [...this.explicit.keys()].filter((name) => paramByName(name) === undefined);
  }

  unknownReferences(): string[] {
    for (const name of this.explicit.keys()) this.expand(name);
    return [...this.unknownRefs].sort();
  }

  /** Expand a parameter whose definition may not be in the table (a daemon's private ParamDef). */
  private expandRaw(name: string, def: ParamDef | undefined): string {
    const explicit = name === "config_directory" ? this.configDir : this.explicit.get(name)?.value;
    const raw = explicit ?? (def === undefined ? undefined : this.defaultText(def));
    if (raw === undefined) return "";
    if (def?.kind === "raw") return raw;
    const source: ExpandSource = { ...this.source, raw: (n) => (n === name ? raw : this.raw(n)) };
    const result = expandParam(name, source);
    for (const unknown of result.unknown) this.unknownRefs.add(unknown);
    return result.text;
  }

  private defaultText(def: ParamDef): string {
    if (typeof def.default === "string") return def.default;
    // Postfix derives mydomain from the configured myhostname, not the host's name.
    if (def.name === "mydomain" && this.explicit.has("myhostname"))
      return domainOf(this.expand("myhostname"));
    let value = this.defaults.get(def.name);
    if (value === undefined) {
      value = def.default();
      this.defaults.set(def.name, value);
    }
    return value;
  }

  private origin(name: string): Origin | undefined {
    const line = this.explicit.get(name)?.line;
    return line === undefined || line === 0 ? undefined : { file: this.file, line };
  }
}

export { formatParam, renderConfManPage } from "./describe.js";
export { editMainCf, removeFromMainCf } from "./edit.js";
export {
  type InetEndpoint,
  inetEndpoints,
  loadMasterCf,
  type MasterService,
  parseMasterCfText,
  type ServiceType,
} from "./master-cf.js";
