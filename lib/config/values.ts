/*
 * values — typed conversion of expanded main.cf text (Postfix mail_conf_{int,bool,time}).
 *
 * bool: yes/no (also true/false), any case. int: a decimal integer. size: a non-negative
 * decimal byte count, no suffixes (as Postfix). time: a number with an optional unit
 * s/m/h/d/w; a bare number takes the parameter's `unit` (default s); the result is seconds.
 * list: items separated by commas and/or whitespace, empty items dropped; a `{ ... }` group
 * stays one item (braces kept, so `check_policy_service { inet:host:port, timeout=10s }`
 * survives; unbrace() strips them). str and raw are returned as they are.
 * Bounds (`min`/`max` of the ParamDef) are checked after conversion, in the value's unit
 * (seconds for time). Errors are ConfigErrors with Postfix's wording, prefixed with the
 * file and line when the text came from main.cf.
 * Talks to nothing. Security: pure functions on trusted text.
 */
import { ConfigError, type Origin } from "./errors.js";
import type { ParamDef, ParamKind, ParamValue } from "./params.js";

const TIME_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Convert the expanded text of parameter `def` to its JavaScript value. */
export function convertValue<K extends ParamKind>(
  def: ParamDef<K>,
  text: string,
  origin?: Origin,
): ParamValue<K> {
  const value = convertKind(def, text, origin);
  if (typeof value === "number") checkBounds(def, value, origin);
  return value as ParamValue<K>;
}

function convertKind(def: ParamDef, text: string, origin: Origin | undefined): ParamValue<ParamKind> {
  switch (def.kind) {
    case "bool":
      return parseBool(def.name, text, origin);
    case "int":
      return parseInteger(def.name, text, { origin, allowSign: true });
    case "size":
      return parseInteger(def.name, text, { origin, allowSign: false });
    case "time":
      return parseTime(def.name, text, { origin, unit: def.unit ?? "s" });
    case "list":
      return splitList(text, { name: def.name, origin });
    case "str":
    case "raw":
      return text;
  }
}

export function parseBool(name: string, text: string, origin?: Origin): boolean {
  const t = text.trim().toLowerCase();
  if (t === "yes" || t === "true") return true;
  if (t === "no" || t === "false") return false;
  throw new ConfigError(`bad boolean configuration: ${name} = ${text}`, origin);
}

export function parseInteger(
  name: string,
  text: string,
  opts: { origin?: Origin | undefined; allowSign: boolean },
): number {
  const t = text.trim();
  const pattern = opts.allowSign ? /^[-+]?\d+$/ : /^\d+$/;
  const n = pattern.test(t) ? Number(t) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new ConfigError(`bad numerical configuration: ${name} = ${text}`, opts.origin);
  }
  return n;
}

export function parseTime(
  name: string,
  text: string,
  opts: { origin?: Origin | undefined; unit: "s" | "m" | "h" | "d" | "w" },
): number {
  const m = /^(\d+)([smhdw]?)$/.exec(text.trim());
  const factor = TIME_UNITS[m?.[2] || opts.unit];
  const seconds = m === null || factor === undefined ? Number.NaN : Number(m[1]) * factor;
  if (!Number.isSafeInteger(seconds)) {
    throw new ConfigError(`parameter ${name}: bad time value or unit: ${text}`, opts.origin);
  }
  return seconds;
}

function checkBounds(def: ParamDef, value: number, origin: Origin | undefined): void {
  if (def.min !== undefined && value < def.min) {
    throw new ConfigError(`invalid ${def.name} parameter value ${value} < ${def.min}`, origin);
  }
  if (def.max !== undefined && value > def.max) {
    throw new ConfigError(`invalid ${def.name} parameter value ${value} > ${def.max}`, origin);
  }
}

/**
 * Split a list on commas and whitespace, keeping `{ ... }` groups (nested too) whole.
 * Unbalanced braces are a ConfigError naming the parameter.
 */
export function splitList(text: string, ctx?: { name?: string; origin?: Origin | undefined }): string[] {
  const items: string[] = [];
  let item = "";
  let depth = 0;
  const fail = (what: string): ConfigError =>
    new ConfigError(
      `${ctx?.name === undefined ? "" : `parameter ${ctx.name}: `}${what}: ${text}`,
      ctx?.origin,
    );
  for (const c of text) {
    if (c === "{") depth++;
    else if (c === "}" && --depth < 0) throw fail("unexpected '}'");
    if (depth === 0 && (c === "," || /\s/.test(c))) {
      if (item !== "") items.push(item);
      item = "";
    } else {
      item += c;
    }
  }
  if (depth > 0) throw fail("missing '}'");
  if (item !== "") items.push(item);
  return items;
}

/** "{ name = value }" → "name = value"; text without surrounding braces is returned trimmed. */
export function unbrace(text: string): string {
  const t = text.trim();
  return t.startsWith("{") && t.endsWith("}") ? t.slice(1, -1).trim() : t;
}
