/*
 * uidl — pop3_uidl_format expansion, Dovecot's syntax: "%08Xu%08Xv" (its default) is the
 * UID and UIDVALIDITY in upper-case hex, zero-padded to 8 digits, so UIDLs stay stable
 * across sessions and agree with the IMAP UIDs of the same store.
 * Variables: %u UID, %v UIDVALIDITY, %f the Maildir base name, %% a percent sign; a
 * variable may be preceded by a width (leading 0: zero padding) and X or x (hex).
 * RFC 1939 allows 1-70 characters 0x21-0x7E in a UIDL; anything else is replaced by "?"
 * and the result is cut at 70.
 */

export const DEFAULT_UIDL_FORMAT = "%08Xu%08Xv";

export interface UidlFields {
  readonly uid: number;
  readonly uidValidity: number;
  readonly base: string;
}

function pad(text: string, width: string): string {
  if (width === "") return text;
  return text.padStart(Number(width), width.startsWith("0") ? "0" : " ");
}

function number(n: number, hex: string): string {
  if (hex === "X") return n.toString(16).toUpperCase();
  if (hex === "x") return n.toString(16);
  return String(n);
}

export function formatUidl(format: string, m: UidlFields): string {
  const out = format.replace(/%(\d*)([Xx]?)([uvf%])/g, (_whole, width: string, hex: string, v: string) => {
    if (v === "%") return "%";
    if (v === "f") return pad(m.base, width);
    return pad(number(v === "u" ? m.uid : m.uidValidity, hex), width);
  });
  const clean = out.replace(/[^\x21-\x7e]/g, "?").slice(0, 70);
  return clean === "" ? String(m.uid) : clean;
}
