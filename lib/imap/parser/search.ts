/*
 * search — the SEARCH argument grammar: RETURN options, CHARSET and every search key,
 * read from a table of key → argument grammar.
 *
 * Talks to: nothing. RFCs: 3501 6.4.4 and 9 (search-key), 4731 (ESEARCH RETURN options),
 * 5182 (SAVE and `$`), 7162 3.1.5 (MODSEQ key), 5032 (OLDER/YOUNGER).
 * Security: OR, NOT and parentheses nest; depth is capped at MAX_SEARCH_DEPTH so a hostile
 * "NOT NOT NOT ..." cannot exhaust the stack.
 */
import type { Reader } from "./reader.js";
import type { DateSearchKey, FlagSearchKey, SearchKey, SearchReturnOption, TextSearchKey } from "./types.js";
import { date, sequenceSet } from "./values.js";

export const MAX_SEARCH_DEPTH = 32;

type KeyGrammar = (r: Reader, depth: number) => SearchKey;

const FLAG_KEYS: readonly FlagSearchKey[] = [
  "ALL",
  "ANSWERED",
  "DELETED",
  "DRAFT",
  "FLAGGED",
  "NEW",
  "OLD",
  "RECENT",
  "SEEN",
  "UNANSWERED",
  "UNDELETED",
  "UNDRAFT",
  "UNFLAGGED",
  "UNSEEN",
];
const TEXT_KEYS: readonly TextSearchKey[] = ["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"];
const DATE_KEYS: readonly DateSearchKey[] = ["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"];
const ENTRY_TYPES = new Set(["priv", "shared", "all"]);

function withArg<T>(r: Reader, read: () => T): T {
  r.space();
  return read();
}

const KEYS = new Map<string, KeyGrammar>([
  ...FLAG_KEYS.map((key): [string, KeyGrammar] => [key, () => ({ key })]),
  ...TEXT_KEYS.map((key): [string, KeyGrammar] => [
    key,
    (r) => ({ key, value: withArg(r, () => r.astring()) }),
  ]),
  ...DATE_KEYS.map((key): [string, KeyGrammar] => [key, (r) => ({ key, date: withArg(r, () => date(r)) })]),
  ["KEYWORD", (r) => ({ key: "KEYWORD", flag: withArg(r, () => r.atom("a keyword")) })],
  ["UNKEYWORD", (r) => ({ key: "UNKEYWORD", flag: withArg(r, () => r.atom("a keyword")) })],
  ["LARGER", (r) => ({ key: "LARGER", size: withArg(r, () => r.number("a size")) })],
  ["SMALLER", (r) => ({ key: "SMALLER", size: withArg(r, () => r.number("a size")) })],
  ["OLDER", (r) => ({ key: "OLDER", seconds: withArg(r, () => r.nzNumber("an interval")) })],
  ["YOUNGER", (r) => ({ key: "YOUNGER", seconds: withArg(r, () => r.nzNumber("an interval")) })],
  ["UID", (r) => ({ key: "UID", set: withArg(r, () => sequenceSet(r)) })],
  ["HEADER", headerKey],
  ["NOT", (r, depth) => ({ key: "NOT", operand: withArg(r, () => searchKey(r, depth + 1)) })],
  ["OR", orKey],
  ["MODSEQ", modSeqKey],
]);

function headerKey(r: Reader): SearchKey {
  const field = withArg(r, () => r.astring("a header field name"));
  return { key: "HEADER", field, value: withArg(r, () => r.astring()) };
}

function orKey(r: Reader, depth: number): SearchKey {
  const left = withArg(r, () => searchKey(r, depth + 1));
  return { key: "OR", left, right: withArg(r, () => searchKey(r, depth + 1)) };
}

/** MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 3.1.5). */
function modSeqKey(r: Reader): SearchKey {
  r.space();
  if (r.peek() !== 0x22) return { key: "MODSEQ", modseq: r.modSeq(false), entry: null };
  const name = r.quoted();
  if (!name.toLowerCase().startsWith("/flags/") || name.length <= 7) r.fail("Invalid MODSEQ entry name");
  const type = withArg(r, () => r.atom("an entry type")).toLowerCase();
  if (!ENTRY_TYPES.has(type)) r.fail("Invalid MODSEQ entry type");
  const modseq = withArg(r, () => r.modSeq(false));
  return { key: "MODSEQ", modseq, entry: { flag: name.slice(7), type: type as "priv" | "shared" | "all" } };
}

export function searchKey(r: Reader, depth: number): SearchKey {
  if (depth > MAX_SEARCH_DEPTH) r.fail("Search keys nested too deep");
  const first = r.peek();
  if (first === 0x28) return { key: "AND", operands: r.list(() => searchKey(r, depth + 1), false) };
  if (first === 0x2a || first === 0x24 || (first !== undefined && first >= 0x30 && first <= 0x39)) {
    return { key: "SEQUENCE", set: sequenceSet(r) };
  }
  const word = r.keyword("a search key");
  const grammar = KEYS.get(word);
  if (grammar === undefined) return r.fail(`Unknown search key ${word}`);
  return grammar(r, depth);
}

/** 1*(SP search-key) after the command's options, to the end of the line. */
export function searchCriteria(r: Reader): SearchKey[] {
  const keys: SearchKey[] = [];
  do {
    r.space();
    keys.push(searchKey(r, 0));
  } while (!r.atEnd());
  return keys;
}

const RETURN_OPTIONS = new Set<string>(["MIN", "MAX", "ALL", "COUNT", "SAVE"]);

/** "RETURN" SP "(" [option *(SP option)] ")" — the caller has read RETURN. */
export function searchReturn(r: Reader): SearchReturnOption[] {
  r.space();
  const options = r.list(() => r.keyword("a return option"), true);
  for (const option of options)
    if (!RETURN_OPTIONS.has(option)) r.fail(`Unknown search return option ${option}`);
  return [...new Set(options)] as SearchReturnOption[];
}
