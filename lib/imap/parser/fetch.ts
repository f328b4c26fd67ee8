/*
 * fetch — the FETCH argument grammar: macros, fetch attributes, section specs, partials
 * and fetch modifiers.
 *
 * Talks to: nothing. RFCs: 3501 6.4.5 and 9 (fetch-att, section, section-spec), 3516
 * (BINARY, BINARY.PEEK, BINARY.SIZE), 7162 3.1.4 (MODSEQ item, CHANGEDSINCE modifier).
 * Security: section part numbers are bounded in count (a deeper MIME path is refused, not
 * followed) and range-checked; header-field lists are bounded by the line length.
 */
import type { Reader } from "./reader.js";
import type { FetchAttribute, Partial, Section, SectionText, SimpleFetchName } from "./types.js";

const MAX_PART_DEPTH = 32;
const SIMPLE = new Set<string>([
  "ENVELOPE",
  "FLAGS",
  "INTERNALDATE",
  "RFC822",
  "RFC822.HEADER",
  "RFC822.SIZE",
  "RFC822.TEXT",
  "BODY",
  "BODYSTRUCTURE",
  "UID",
  "MODSEQ",
]);
const simple = (name: SimpleFetchName): FetchAttribute => ({ kind: "simple", name });
const MACROS = new Map<string, readonly FetchAttribute[]>([
  ["FAST", [simple("FLAGS"), simple("INTERNALDATE"), simple("RFC822.SIZE")]],
  ["ALL", [simple("FLAGS"), simple("INTERNALDATE"), simple("RFC822.SIZE"), simple("ENVELOPE")]],
  [
    "FULL",
    [simple("FLAGS"), simple("INTERNALDATE"), simple("RFC822.SIZE"), simple("ENVELOPE"), simple("BODY")],
  ],
]);

const isNameChar = (b: number): boolean =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e;

/** The FETCH items: a macro, one attribute, or a parenthesized list of attributes. */
export function fetchAttributes(r: Reader): FetchAttribute[] {
  if (r.peek() === 0x28) return r.list(() => fetchAttribute(r), false);
  const save = r.pos;
  const macro = MACROS.get(r.run(isNameChar).toUpperCase());
  if (macro !== undefined && r.peek() !== 0x5b) return [...macro];
  r.pos = save;
  return [fetchAttribute(r)];
}

export function fetchAttribute(r: Reader): FetchAttribute {
  const name = r.run(isNameChar).toUpperCase();
  if (name === "") r.fail("Expected a fetch attribute");
  if (r.peek() === 0x5b) return bracketed(r, name);
  if (SIMPLE.has(name)) return simple(name as SimpleFetchName);
  return r.fail(`Unknown fetch attribute ${name}`);
}

function bracketed(r: Reader, name: string): FetchAttribute {
  switch (name) {
    case "BODY":
    case "BODY.PEEK":
      return { kind: "body", peek: name === "BODY.PEEK", section: section(r), partial: partial(r) };
    case "BINARY":
    case "BINARY.PEEK":
      return { kind: "binary", peek: name === "BINARY.PEEK", part: binarySection(r), partial: partial(r) };
    case "BINARY.SIZE":
      return { kind: "binary-size", part: binarySection(r) };
    default:
      return r.fail(`Unknown fetch attribute ${name}[`);
  }
}

/** section = "[" [section-spec] "]". */
export function section(r: Reader): Section {
  r.expect(0x5b, "'['");
  if (r.accept(0x5d)) return { part: [], text: null };
  const part = sectionPart(r);
  let text: SectionText | null = null;
  if (part.length === 0 || r.accept(0x2e)) text = sectionText(r, part.length > 0);
  r.expect(0x5d, "']' closing the section");
  return { part, text };
}

/** section-part = nz-number *("." nz-number); stops before a "." not followed by a digit. */
function sectionPart(r: Reader): number[] {
  const part: number[] = [];
  while (isDigit(r.peek())) {
    part.push(r.nzNumber("a section part number"));
    if (part.length > MAX_PART_DEPTH) r.fail("Section part nested too deep");
    if (r.peek() !== 0x2e || !isDigit(r.line[r.pos + 1])) break;
    r.pos++;
  }
  return part;
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

function sectionText(r: Reader, afterPart: boolean): SectionText {
  const word = r.run(isNameChar).toUpperCase();
  switch (word) {
    case "HEADER":
    case "TEXT":
      return { kind: word };
    case "MIME":
      if (!afterPart) r.fail("MIME needs a section part");
      return { kind: word };
    case "HEADER.FIELDS":
    case "HEADER.FIELDS.NOT":
      r.space();
      return { kind: word, fields: r.list(() => r.astring("a header field name"), false) };
    default:
      return r.fail("Invalid section specification");
  }
}

/** section-binary = "[" [section-part] "]". */
function binarySection(r: Reader): number[] {
  r.expect(0x5b, "'['");
  const part = sectionPart(r);
  r.expect(0x5d, "']' closing the section");
  return part;
}

/** "<" number "." nz-number ">", or nothing. */
function partial(r: Reader): Partial | null {
  if (!r.accept(0x3c)) return null;
  const offset = r.number("a partial offset");
  r.expect(0x2e, "'.' in the partial range");
  const length = r.nzNumber("a partial length");
  r.expect(0x3e, "'>' closing the partial range");
  return { offset, length };
}

/** fetch-modifiers: "(" CHANGEDSINCE mod-sequence ")"; returns the CHANGEDSINCE value. */
export function fetchModifiers(r: Reader): bigint | null {
  let changedSince: bigint | null = null;
  r.list(() => {
    if (r.keyword("a fetch modifier") !== "CHANGEDSINCE") r.fail("Unknown fetch modifier");
    r.space();
    changedSince = r.modSeq(false);
  }, false);
  return changedSince;
}
