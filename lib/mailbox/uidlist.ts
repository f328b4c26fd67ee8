/*
 * uidlist — the UID index of one Maildir folder, in the spirit of Dovecot's dovecot-uidlist
 * (version 3 syntax), shared by POP3 and IMAP so both see the same UIDs:
 *
 *   header  "3 V<uidvalidity> N<next uid>[ M<highest modseq>][ R<first recent uid>]
 *            [ C<cur/ mtime ns>][ E<new/ mtime ns>][ A<scan start, unix ms>]"
 *   record  "<uid>[ W<crlf size>][ S<file size>][ T<internal date, unix secs>][ M<modseq>]
 *            :<base name>[:<info>]"   in ascending UID order.
 *
 * The base name is the Maildir file name without its ":2,<flags>" info part, so a message
 * keeps its UID when its flags change; the info is the last one seen, which is what lets
 * SELECT and FETCH FLAGS answer without listing cur/. C and E are the directory mtimes at
 * the last full scan (0: do not trust, rescan), or after renames a postern process made in cur/
 * itself; A is when that scan began (dir-stamps.ts decides when they can be trusted). The file is named postern-uidlist so that a
 * Dovecot pointed at the same Maildir keeps its own index.
 * Talks to: nothing (pure text ↔ data). Input is our own file, but may be damaged: a bad
 * header yields undefined (the caller starts over with a new UIDVALIDITY, as Dovecot does),
 * bad record lines are skipped.
 */

export const UIDLIST_NAME = "postern-uidlist";

export interface UidRecord {
  readonly uid: number;
  /** Maildir base name (no ":2," info). */
  readonly base: string;
  /** Octets of the message in CRLF form, when known. */
  readonly crlfSize?: number;
  /** The info part of the file name when last seen ("2,FS"), if known. */
  readonly info?: string;
  /** File size in octets (LF form as stored). */
  readonly size?: number;
  /** INTERNALDATE, seconds since the epoch. */
  readonly internalDate?: number;
  /** CONDSTORE modification sequence of the last change to this message. */
  readonly modseq?: number;
}

export interface Uidlist {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly records: readonly UidRecord[];
  readonly highestModseq?: number;
  /** Messages with this UID or above have not been seen by any session yet (\Recent). */
  readonly firstRecentUid?: number;
  readonly curMtime?: string;
  readonly newMtime?: string;
  /** Wall-clock ms when the last full scan began. */
  readonly scanAt?: number;
  /** Which change log (uidlist-log.ts) belongs to this base file. */
  readonly generation?: number;
}

const HEADER = /^3 V(\d{1,10}) N(\d{1,10})((?: [A-Z]\S*)*)(?: .*)?$/;
const RECORD = /^(\d{1,10})((?: [A-Z][^ ]*)*) :(.+)$/;
const NUMERIC: Readonly<Record<string, "crlfSize" | "size" | "internalDate" | "modseq">> = {
  W: "crlfSize",
  S: "size",
  T: "internalDate",
  M: "modseq",
};

function extensions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const token of text.split(" ")) if (token !== "") out.set(token.slice(0, 1), token.slice(1));
  return out;
}

/**
 * The one copy of an info part ("2,", "2,S", ...): a folder's 100,000 records have a handful
 * of distinct ones, and each record holding its own copy costs a string apiece.
 */
const infos = new Map<string, string>();

export function internInfo(info: string): string {
  const known = infos.get(info);
  if (known !== undefined) return known;
  if (infos.size >= 4096) infos.clear();
  infos.set(info, info);
  return info;
}

/**
 * A string of its own for a base name cut from a longer one (a line of the index file, a
 * directory entry): V8 would keep a cut as a view of the whole, so 100,000 records would
 * hold the index text or every listed name. Latin-1 only (every name, in practice); other
 * names stay as they are.
 */
export function ownString(s: string): string {
  return s.length < 13 || NOT_LATIN1.test(s) ? s : Buffer.from(s, "latin1").toString("latin1");
}

const NOT_LATIN1 = /[^\u0000-\u00ff]/;

export function parseRecordLine(line: string): UidRecord | undefined {
  const m = RECORD.exec(line);
  if (m === null) return undefined;
  const uid = Number(m[1]);
  const name = m[3] ?? "";
  const colon = name.indexOf(":");
  const base = ownString(colon < 0 ? name : name.slice(0, colon));
  if (uid < 1 || base === "" || base.includes("/")) return undefined;
  const values: { -readonly [K in (typeof NUMERIC)[string]]?: number } = {};
  for (const token of (m[2] ?? "").split(" ")) {
    const key = NUMERIC[token.slice(0, 1)];
    const value = token.slice(1);
    if (key === undefined) continue;
    // the last token of a letter counts, as the whole line's last word
    if (/^\d{1,15}$/.test(value)) values[key] = Number(value);
    else delete values[key];
  }
  const info = colon >= 0 ? internInfo(name.slice(colon + 1)) : undefined;
  const { crlfSize, size, internalDate, modseq } = values;
  // the usual record, made whole at once: one object with its fields in place (the shape
  // sync.ts gives new records), not one grown field by field into out-of-object storage
  if (
    info !== undefined &&
    crlfSize !== undefined &&
    size !== undefined &&
    internalDate !== undefined &&
    modseq !== undefined
  )
    return { uid, base, crlfSize, size, internalDate, modseq, info };
  const rec: { -readonly [K in keyof UidRecord]: UidRecord[K] } = { uid, base };
  if (info !== undefined) rec.info = info;
  if (crlfSize !== undefined) rec.crlfSize = crlfSize;
  if (size !== undefined) rec.size = size;
  if (internalDate !== undefined) rec.internalDate = internalDate;
  if (modseq !== undefined) rec.modseq = modseq;
  return rec;
}

/** The fields of a header line ("3 V... N... ..."); undefined when it is unusable. */
export function parseHeaderLine(line: string): Omit<Uidlist, "records"> | undefined {
  const m = HEADER.exec(line);
  if (m === null) return undefined;
  const head: { -readonly [K in keyof Uidlist]?: Uidlist[K] } = {};
  const ext = extensions(m[3] ?? "");
  const num = (k: string) => (/^\d{1,15}$/.test(ext.get(k) ?? "") ? Number(ext.get(k)) : undefined);
  const highest = num("M");
  const generation = num("G");
  if (generation !== undefined) head.generation = generation;
  const recent = num("R");
  const scanAt = num("A");
  if (scanAt !== undefined) head.scanAt = scanAt;
  if (highest !== undefined) head.highestModseq = highest;
  if (recent !== undefined) head.firstRecentUid = recent;
  if (/^\d{1,25}$/.test(ext.get("C") ?? "")) head.curMtime = ext.get("C") ?? "0";
  if (/^\d{1,25}$/.test(ext.get("E") ?? "")) head.newMtime = ext.get("E") ?? "0";
  return { ...head, uidValidity: Number(m[1]), nextUid: Number(m[2]) };
}

/** Parse the file's text; undefined when the header is unusable. */
export function parseUidlist(text: string): Uidlist | undefined {
  const lines = text.split("\n");
  const header = parseHeaderLine(lines[0] ?? "");
  if (header === undefined || header.uidValidity < 1 || header.nextUid < 1) return undefined;
  const records: UidRecord[] = [];
  let last = 0;
  for (const line of lines.slice(1)) {
    const r = line === "" ? undefined : parseRecordLine(line);
    if (r === undefined || r.uid <= last) continue;
    records.push(r);
    last = r.uid;
  }
  const nextUid = header.nextUid <= last ? last + 1 : header.nextUid;
  return { ...header, nextUid, records };
}

export function formatRecord(r: UidRecord): string {
  let line = String(r.uid);
  if (r.crlfSize !== undefined) line += ` W${r.crlfSize}`;
  if (r.size !== undefined) line += ` S${r.size}`;
  if (r.internalDate !== undefined) line += ` T${r.internalDate}`;
  if (r.modseq !== undefined) line += ` M${r.modseq}`;
  return r.info !== undefined ? `${line} :${r.base}:${r.info}` : `${line} :${r.base}`;
}

export function formatHeader(list: Omit<Uidlist, "records">): string {
  let header = `3 V${list.uidValidity} N${list.nextUid}`;
  if (list.highestModseq !== undefined) header += ` M${list.highestModseq}`;
  if (list.firstRecentUid !== undefined) header += ` R${list.firstRecentUid}`;
  if (list.curMtime !== undefined) header += ` C${list.curMtime}`;
  if (list.newMtime !== undefined) header += ` E${list.newMtime}`;
  if (list.scanAt !== undefined) header += ` A${list.scanAt}`;
  if (list.generation !== undefined) header += ` G${list.generation}`;
  return header;
}

export function formatUidlist(list: Uidlist): string {
  return [...formatUidlistChunks(list)].join("");
}

/**
 * formatUidlist's text in pieces of some 256 KiB, for writing a 100,000-message index
 * without holding it whole (a string, its bytes, and a string per line).
 */
export function* formatUidlistChunks(list: Uidlist): Generator<string> {
  let text = `${formatHeader(list)}\n`;
  for (const r of list.records) {
    text += `${formatRecord(r)}\n`;
    if (text.length >= 256 * 1024) {
      yield text;
      text = "";
    }
  }
  yield text;
}

/** A fresh UIDVALIDITY: the current time in seconds, as Dovecot chooses it. */
export function newUidValidity(nowMs = Date.now()): number {
  return Math.max(1, Math.floor(nowMs / 1000));
}
