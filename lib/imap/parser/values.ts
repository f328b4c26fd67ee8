/*
 * values — IMAP argument grammar shared by several commands: sequence sets, dates,
 * date-times, flags and flag lists, mailbox names.
 *
 * Talks to: nothing. RFCs: 3501 9 (sequence-set, date, date-time, flag, mailbox),
 * 5182 (`$` saved search result).
 * Security: numbers are range-checked (1..2^32-1), date fields validated as a real
 * calendar date, no regular expression runs on client data of unbounded length.
 */
import { isAtomChar, type Reader } from "./reader.js";
import type { ImapDate, ImapDateTime, SeqNumber, SeqRange, SequenceSet } from "./types.js";

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const SYSTEM_FLAGS = new Map(
  ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent"].map((f) => [f.toUpperCase(), f]),
);

function seqNumber(r: Reader): SeqNumber {
  if (r.accept(0x2a)) return "*";
  return r.nzNumber("a sequence number");
}

/** sequence-set: ranges separated by ",", or "$" (SEARCHRES). */
export function sequenceSet(r: Reader): SequenceSet {
  if (r.accept(0x24)) return "$";
  const ranges: SeqRange[] = [];
  do {
    const from = seqNumber(r);
    const to = r.accept(0x3a) ? seqNumber(r) : from;
    ranges.push({ from, to });
  } while (r.accept(0x2c));
  return ranges;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function dateText(r: Reader, fixedDay: boolean): ImapDate {
  const day = fixedDay && r.accept(0x20) ? digits(r, 1) : digitsBetween(r, 1, 2);
  r.expect(0x2d, "'-' in a date");
  const month = MONTHS.indexOf(r.line.toString("latin1", r.pos, r.pos + 3).toUpperCase()) + 1;
  if (month === 0) r.fail("Invalid month in date");
  r.pos += 3;
  r.expect(0x2d, "'-' in a date");
  const year = digits(r, 4);
  if (day < 1 || day > daysInMonth(year, month)) r.fail("Invalid day in date");
  return { year, month, day };
}

function digitsBetween(r: Reader, min: number, max: number): number {
  let text = "";
  while (text.length < max && (r.peek() ?? 0) >= 0x30 && (r.peek() ?? 0) <= 0x39) {
    text += String.fromCharCode(r.line[r.pos++]!);
  }
  if (text.length < min) r.fail("Expected digits");
  return Number(text);
}

function digits(r: Reader, count: number): number {
  return digitsBetween(r, count, count);
}

/** date = date-text / DQUOTE date-text DQUOTE (SEARCH). */
export function date(r: Reader): ImapDate {
  const quoted = r.accept(0x22);
  const value = dateText(r, false);
  if (quoted) r.expect(0x22, "closing '\"' of the date");
  return value;
}

/** date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
export function dateTime(r: Reader): ImapDateTime {
  r.expect(0x22, "a quoted date-time");
  const day = dateText(r, true);
  r.space();
  const hour = digits(r, 2);
  r.expect(0x3a, "':' in time");
  const minute = digits(r, 2);
  r.expect(0x3a, "':' in time");
  const seconds = digits(r, 2);
  if (hour > 23 || minute > 59 || seconds > 60) r.fail("Invalid time");
  r.space();
  const sign = r.accept(0x2b) ? 1 : r.accept(0x2d) ? -1 : r.fail("Expected a time zone");
  const zone = digits(r, 4);
  const zoneMinutes = sign * (Math.floor(zone / 100) * 60 + (zone % 100));
  if (zone % 100 > 59) r.fail("Invalid time zone");
  r.expect(0x22, "closing '\"' of the date-time");
  const utc = Date.UTC(day.year, day.month - 1, day.day, hour, minute, seconds) - zoneMinutes * 60_000;
  return { date: new Date(utc), zoneMinutes };
}

/** flag: a system flag (canonical case), "\" atom (flag-extension) or a keyword atom. */
export function flag(r: Reader, allowWildcard = false): string {
  if (r.accept(0x5c)) {
    if (r.accept(0x2a)) {
      if (!allowWildcard) r.fail("\\* is not a flag here");
      return "\\*";
    }
    const name = `\\${r.atom("a flag name")}`;
    return SYSTEM_FLAGS.get(name.toUpperCase()) ?? name;
  }
  return r.atom("a flag");
}

/** flag-list = "(" [flag *(SP flag)] ")". \Recent cannot be set by a client. */
export function flagList(r: Reader): string[] {
  const flags = r.list(() => flag(r), true);
  if (flags.includes("\\Recent")) r.fail("\\Recent flag may not be set");
  return flags;
}

/** mailbox = "INBOX" / astring; INBOX in any case is INBOX (RFC 3501 5.1). */
export function mailbox(r: Reader): string {
  const name = r.astring("a mailbox name");
  return name.toUpperCase() === "INBOX" ? "INBOX" : name;
}

/** list-mailbox = 1*list-char / string. */
export function listMailbox(r: Reader): string {
  const byte = r.peek();
  if (byte === 0x22 || r.isLiteralNext()) return r.string();
  const start = r.pos;
  while (!r.atEnd() && isListCharAt(r)) r.pos++;
  if (r.pos === start) r.fail("Expected a mailbox pattern");
  return r.line.toString("latin1", start, r.pos);
}

function isListCharAt(r: Reader): boolean {
  const byte = r.peek()!;
  return byte === 0x25 || byte === 0x2a || byte === 0x5d || isAtomChar(byte);
}
