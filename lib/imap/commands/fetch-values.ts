/*
 * fetch-values — the values FETCH answers with that do not come from the index: ENVELOPE,
 * BODY and BODYSTRUCTURE as lib/mime builds them, their cache form, the date and flag
 * formats, and the NIL replies sent when a message's file is gone.
 *
 * Cache form: JSON of the lib/mime ImapValue in which a literal is {"l": base64} and a joined
 * run {"j": [...]}; decoding checks every node, so a damaged or foreign entry is a cache miss
 * (a re-parse), never a wrong answer.
 * Wire form: lib/mime's values go to the serializer with one change — a string holding '"' or
 * '\' becomes a literal, as Dovecot (and renderImapValue) writes it, so our ENVELOPE and
 * BODYSTRUCTURE bytes are Dovecot's.
 * Talks to: lib/mime (value model), lib/imap/serializer (value model).
 * RFCs: 3501 §7.4.2 (ENVELOPE, BODY, BODYSTRUCTURE, INTERNALDATE, FLAGS), §9 (date-time).
 * Security: cache entries are our own files' bytes but are parsed defensively (depth-bounded).
 */
import type { ImapValue as MimeValue } from "../../mime/imap-value.js";
import type { ImapValue } from "../serializer/values.js";

/** Deeper than any BODYSTRUCTURE lib/mime can build (its MAX_DEPTH is 100, ~3 levels each). */
export const MAX_CACHE_DEPTH = 400;

const isList = (value: MimeValue): value is readonly MimeValue[] => Array.isArray(value);

type Json = null | number | string | Json[] | { l: string } | { j: Json[] };

function toJson(value: MimeValue): Json {
  if (value === null || typeof value === "number" || typeof value === "string") return value;
  if (isList(value)) return value.map(toJson);
  if ("literal" in value) return { l: value.literal.toString("base64") };
  return { j: value.joined.map(toJson) };
}

/** The cache string of a lib/mime value. */
export function encodeCached(value: MimeValue): string {
  return JSON.stringify(toJson(value));
}

/**
 * The wire value of a cache string (toWire of the lib/mime value it encodes) in one pass
 * over the parsed JSON, checking every node; undefined when it is not one of ours.
 */
export function cachedWire(text: string): ImapValue | undefined {
  try {
    return wireFromJson(JSON.parse(text), 0);
  } catch {
    return undefined;
  }
}

function wireFromJson(json: unknown, depth: number): ImapValue | undefined {
  if (depth > MAX_CACHE_DEPTH) return undefined;
  if (json === null) return null;
  if (typeof json === "string") return /["\\]/.test(json) ? { literal: Buffer.from(json, "utf8") } : json;
  if (typeof json === "number") return Number.isSafeInteger(json) && json >= 0 ? json : undefined;
  if (Array.isArray(json)) return wireListFromJson(json, depth);
  if (typeof json !== "object") return undefined;
  if ("l" in json && typeof json.l === "string" && Object.keys(json).length === 1)
    return { literal: Buffer.from(json.l, "base64") };
  if ("j" in json && Array.isArray(json.j) && Object.keys(json).length === 1) {
    const joined = wireListFromJson(json.j, depth);
    return joined === undefined ? undefined : { joined };
  }
  return undefined;
}

function wireListFromJson(items: unknown[], depth: number): ImapValue[] | undefined {
  // the parsed array is ours: its items are replaced in place
  const out = items as ImapValue[];
  for (let i = 0; i < items.length; i++) {
    const value = wireFromJson(items[i], depth + 1);
    if (value === undefined) return undefined;
    out[i] = value;
  }
  return out;
}

/** A lib/mime value for the serializer, quoted exactly as Dovecot quotes it. */
export function toWire(value: MimeValue): ImapValue {
  if (value === null || typeof value === "number") return value;
  if (typeof value === "string") return /["\\]/.test(value) ? { literal: Buffer.from(value, "utf8") } : value;
  if (isList(value)) return value.map(toWire);
  if ("literal" in value) return { literal: value.literal };
  return { joined: value.joined.map(toWire) };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number, width = 2): string => String(n).padStart(width, "0");

/**
 * INTERNALDATE as RFC 3501 date-time ("02-Mar-2025 10:15:00 +0100") in the server's local
 * zone, as Dovecot writes the file's mtime.
 */
export function formatInternalDate(date: Date): string {
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  const day = `${pad(date.getDate())}-${MONTHS[date.getMonth()]}-${pad(date.getFullYear(), 4)}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return `${day} ${time} ${zone}`;
}

/** FLAGS: the stored flags with \Recent after the system flags (Dovecot's order). */
export function flagsValue(flags: readonly string[], recent: boolean): ImapValue {
  // flags and keywords were validated as atoms when they were stored
  return flagAtoms(flags, recent).map((atom) => ({ atom }));
}

/** The FLAGS atoms in Dovecot's order (\Recent after the system flags). */
export function flagAtoms(flags: readonly string[], recent: boolean): readonly string[] {
  if (!recent) return flags;
  const out = [...flags];
  if (recent) {
    const lastSystem = out.reduce((at, flag, i) => (flag.startsWith("\\") ? i + 1 : at), 0);
    out.splice(lastSystem, 0, "\\Recent");
  }
  return out;
}

const NIL_BODY: ImapValue[] = ["text", "plain", null, null, null, "7bit", 0, 0];

/** What Dovecot answers for an item whose message file is gone (RFC 2180 §4.1.3). */
export const NIL_REPLIES = {
  ENVELOPE: [null, null, null, null, null, null, null, null, null, null] as ImapValue,
  BODY: NIL_BODY as ImapValue,
  BODYSTRUCTURE: [...NIL_BODY, null, null, null, null] as ImapValue,
} as const;
