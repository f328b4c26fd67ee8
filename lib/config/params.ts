/*
 * params — the one table of main.cf parameters.
 *
 * Every parameter postern understands is declared here once: name, kind, default,
 * bounds and a one-line doc. main.cf parsing, `postern conf -d`, `postern check` and the
 * postern.conf(5) man page all read this table; a test fails on an undocumented entry.
 * Defaults follow Postfix (and Dovecot for the mail-access side) wherever they have the
 * parameter. A default may reference other parameters with $name, expanded lazily.
 */
import type { ParamDef } from "./param-def.js";
import { ACCESS_PARAMS } from "./params/access.js";
import { DELIVERY_PARAMS } from "./params/delivery.js";
import { IMAP_PARAMS } from "./params/imap.js";
import { OUTBOUND_PARAMS } from "./params/outbound.js";
import { SMTPD_PARAMS } from "./params/smtpd.js";
import { SYSTEM_PARAMS } from "./params/system.js";

export type { ParamDef, ParamKind, ParamValue } from "./param-def.js";

/** Keyed by a handle so code says P.message_size_limit, never a bare string. */
export const P = {
  ...SYSTEM_PARAMS,
  ...SMTPD_PARAMS,
  ...DELIVERY_PARAMS,
  ...OUTBOUND_PARAMS,
  ...ACCESS_PARAMS,
  ...IMAP_PARAMS,
} as const;

export type ParamName = (typeof P)[keyof typeof P]["name"];

/** All parameters, sorted by name, for conf -d and the man page. */
export const ALL_PARAMS: readonly ParamDef[] = Object.values(P)
  .map((d) => d as ParamDef)
  .sort((a, b) => a.name.localeCompare(b.name));

const byName = new Map<string, ParamDef>(ALL_PARAMS.map((d) => [d.name, d]));

export function paramByName(name: string): ParamDef | undefined {
  return byName.get(name);
}
