/*
 * param-def — the shape of a main.cf parameter declaration (name, kind, default, bounds,
 * doc) and the helpers the parameter tables in lib/config/params/ are written with.
 */

export type ParamKind = "str" | "raw" | "int" | "size" | "bool" | "time" | "list";

export interface ParamDef<K extends ParamKind = ParamKind> {
  readonly name: string;
  readonly kind: K;
  /** Default as main.cf text; a function for defaults computed from the host. */
  readonly default: string | (() => string);
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  /** For kind "time": the unit of a bare number (Postfix's per-parameter default unit). */
  readonly unit?: "s" | "m" | "h" | "d" | "w";
}

/** The JavaScript value a parameter of kind K converts to (time in seconds, size in bytes). */
export type ParamValue<K extends ParamKind> = K extends "int" | "size" | "time"
  ? number
  : K extends "bool"
    ? boolean
    : K extends "list"
      ? string[]
      : string;

/** Identity function that keeps K: lets a table entry be typed by its kind. */
export function def<K extends ParamKind>(d: ParamDef<K>): ParamDef<K> {
  return d;
}

export function timeout(name: string, seconds: number, doc: string): ParamDef<"time"> {
  return def({ name, kind: "time", default: `${seconds}s`, unit: "s", min: 1, doc });
}
