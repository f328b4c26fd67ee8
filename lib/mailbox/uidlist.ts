/*
 * uidlist — the UID index of one Maildir, in the spirit of Dovecot's dovecot-uidlist
 * (version 3 syntax): a header "3 V<uidvalidity> N<next uid>" and one line per message,
 * "<uid> W<crlf size> :<base name>", in ascending UID order. The base name is the Maildir
 * file name without its ":2,<flags>" info part, so a message keeps its UID when IMAP
 * renames it to change flags. W caches the size of the message in CRLF form (what POP3
 * LIST reports), computed once. The file is named postern-uidlist so that a Dovecot
 * pointed at the same Maildir keeps its own index.
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
}

export interface Uidlist {
  readonly uidValidity: number;
  readonly nextUid: number;
  readonly records: readonly UidRecord[];
}

const HEADER = /^3 V(\d{1,10}) N(\d{1,10})(?: .*)?$/;
const RECORD = /^(\d{1,10})((?: [A-Z][^ ]*)*) :(.+)$/;

function parseRecord(line: string): UidRecord | undefined {
  const m = RECORD.exec(line);
  if (m === null) return undefined;
  const uid = Number(m[1]);
  const base = m[3] ?? "";
  if (uid < 1 || base.includes("/")) return undefined;
  const w = /(?:^| )W(\d{1,15})(?= |$)/.exec(m[2] ?? "");
  return w?.[1] !== undefined ? { uid, base, crlfSize: Number(w[1]) } : { uid, base };
}

/** Parse the file's text; undefined when the header is unusable. */
export function parseUidlist(text: string): Uidlist | undefined {
  const lines = text.split("\n");
  const header = HEADER.exec(lines[0] ?? "");
  if (header === null) return undefined;
  const uidValidity = Number(header[1]);
  let nextUid = Number(header[2]);
  if (uidValidity < 1 || nextUid < 1) return undefined;
  const records: UidRecord[] = [];
  let last = 0;
  for (const line of lines.slice(1)) {
    const r = line === "" ? undefined : parseRecord(line);
    if (r === undefined || r.uid <= last) continue;
    records.push(r);
    last = r.uid;
  }
  if (nextUid <= last) nextUid = last + 1;
  return { uidValidity, nextUid, records };
}

export function formatUidlist(list: Uidlist): string {
  const lines = [`3 V${list.uidValidity} N${list.nextUid}`];
  for (const r of list.records)
    lines.push(r.crlfSize !== undefined ? `${r.uid} W${r.crlfSize} :${r.base}` : `${r.uid} :${r.base}`);
  return `${lines.join("\n")}\n`;
}

/** A fresh UIDVALIDITY: the current time in seconds, as Dovecot chooses it. */
export function newUidValidity(nowMs = Date.now()): number {
  return Math.max(1, Math.floor(nowMs / 1000));
}
