/*
 * The text side of SEARCH: folding, the streaming scanner fed in every possible chunking,
 * the header reader fed byte by byte and all at once, address haystacks, Date: days, and
 * the three-valued evaluator.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Candidate,
  compileSearch,
  dayNumber,
  evaluate,
  parseSentDay,
  type TextKnowledge,
} from "../../../lib/imap/commands/search-eval.js";
import {
  foldText,
  type HeaderField,
  HeaderReader,
  headerHaystack,
  MAX_FIELD_CHARS,
  TextScanner,
} from "../../../lib/imap/commands/search-text.js";
import type { SearchKey } from "../../../lib/imap/parser/types.js";
import type { MessageInfo } from "../../../lib/mailbox/folder.js";

function scanChunks(chunks: readonly string[], needles: readonly string[]): number[] {
  const hits = new Set<number>();
  const scanner = new TextScanner(
    needles.map((n, id) => ({ id, folded: foldText(n) })),
    hits,
  );
  for (const c of chunks) scanner.feed(c);
  return [...hits].sort((a, b) => a - b);
}

function chunked(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let from = 0;
  for (const p of points) {
    out.push(text.slice(from, p));
    from = p;
  }
  out.push(text.slice(from));
  return out;
}

describe("TextScanner", () => {
  it("matches case-insensitively across scripts and final sigma", () => {
    assert.deepEqual(scanChunks(["Grüße aus KÖLN"], ["köln", "GRÜSSE", "grüße"]), [0, 2]);
    assert.deepEqual(scanChunks(["ΟΔΥΣΣΕΥΣ"], ["οδυσσευς"]), [0]);
    assert.deepEqual(scanChunks(["ΟΔΥΣΣΕ", "ΥΣ end"], ["οδυσσευσ"]), [0]);
  });

  it("finds a needle split over chunks of every size, one character at a time too", () => {
    const text = "The quick brown fox jumps over the lazy dog";
    const whole = scanChunks([text], ["BROWN FOX", "lazy dog", "cat"]);
    assert.deepEqual(whole, [0, 1]);
    assert.deepEqual(scanChunks([...text], ["BROWN FOX", "lazy dog", "cat"]), whole);
  });

  it("agrees with a whole-string search for any chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("a", "b", "A", "é", "É", " ", "ß", "Σ"), maxLength: 40 }),
        fc.string({ unit: fc.constantFrom("a", "b", "A", "é", " ", "σ"), minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (hay, needle, cuts) => {
          const expected = foldText(hay).includes(foldText(needle)) ? [0] : [];
          assert.deepEqual(scanChunks(chunked(hay, cuts), [needle]), expected);
        },
      ),
      { seed: 7, numRuns: 300 },
    );
  });

  it("forgets the previous part after reset", () => {
    const hits = new Set<number>();
    const s = new TextScanner([{ id: 0, folded: "ab" }], hits);
    s.feed("xa");
    s.reset();
    s.feed("bx");
    assert.equal(hits.size, 0);
    assert.equal(s.pending, true);
  });
});

function readFields(bytes: Buffer, byteByByte: boolean): { fields: HeaderField[]; used: number } {
  const fields: HeaderField[] = [];
  const reader = new HeaderReader((f) => fields.push(f));
  let used = 0;
  if (byteByByte)
    for (let i = 0; i < bytes.length && !reader.done; i++) used += reader.write(bytes.subarray(i, i + 1));
  else used = reader.write(bytes);
  reader.end();
  return { fields, used };
}

describe("HeaderReader", () => {
  const message = Buffer.from(
    "Subject: one\r\n two\r\nX-Empty:\nFrom: a@b\nbroken line\n\tcontinues broken\nTo: c@d\n\nBody: not a header\n",
    "latin1",
  );
  const expected = [
    { name: "Subject", raw: " one\r\n two" },
    { name: "X-Empty", raw: "" },
    { name: "From", raw: " a@b" },
    { name: "To", raw: " c@d" },
  ];

  it("splits fields the same fed all at once and byte by byte, and stops at the empty line", () => {
    for (const byteByByte of [false, true]) {
      const { fields, used } = readFields(message, byteByByte);
      assert.deepEqual(fields, expected);
      assert.equal(used, message.indexOf("Body:"));
    }
  });

  it("caps an endless field", () => {
    const huge = Buffer.from(`Subject: ${"x".repeat(3 * MAX_FIELD_CHARS)}\n\n`, "latin1");
    const { fields } = readFields(huge, false);
    assert.equal(fields.length, 1);
    assert.ok((fields[0]?.raw.length ?? 0) <= MAX_FIELD_CHARS);
  });

  it("gives the same fields for any chunking (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 10 }), (cuts) => {
        const fields: HeaderField[] = [];
        const reader = new HeaderReader((f) => fields.push(f));
        const text = message.toString("latin1");
        for (const c of chunked(text, cuts)) reader.write(Buffer.from(c, "latin1"));
        reader.end();
        assert.deepEqual(fields, expected);
      }),
      { seed: 3, numRuns: 100 },
    );
  });
});

describe("header haystacks", () => {
  it("decode encoded words and list addresses with their decoded names", () => {
    const hay = headerHaystack("From", " =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>, x@y (Ex Why)");
    assert.match(hay, /^Jürgen <j@example.org>, x@y \(Ex Why\)\n/);
    assert.match(hay, /Jürgen <j@example\.org>, Ex Why <x@y>$/);
  });

  it("leave other fields as decoded text", () => {
    assert.equal(headerHaystack("Subject", " =?ISO-8859-1?Q?Caf=E9?= ok"), "Café ok");
  });
});

describe("parseSentDay", () => {
  const table: [string, number | null][] = [
    ["Mon, 3 Jul 2023 23:30:00 -0700", dayNumber(2023, 7, 3)],
    [" 15 Aug 2023 08:00:00 +0000", dayNumber(2023, 8, 15)],
    ["Tue, 1 Aug 23 10:00 GMT", dayNumber(2023, 8, 1)],
    ["1 Jan 99 00:00 EST", dayNumber(1999, 1, 1)],
    ["Thu, 29 Feb 2024 12:00:00 (comment) +0100", dayNumber(2024, 2, 29)],
    ["31 Feb 2023 12:00:00 +0000", null],
    ["not a date at all", null],
    ["", null],
  ];
  for (const [raw, day] of table)
    it(`reads ${JSON.stringify(raw)} as ${day ?? "no date"}`, () => assert.equal(parseSentDay(raw), day));
});

function candidate(over: Partial<MessageInfo> & { seq?: number; recent?: boolean } = {}): Candidate {
  const info: MessageInfo = {
    uid: over.uid ?? 10,
    base: "b",
    file: "b",
    flags: over.flags ?? [],
    modseq: over.modseq ?? 5,
    size: 100,
    crlfSize: over.crlfSize ?? 100,
    internalDate: over.internalDate ?? new Date(2024, 0, 2, 12),
  };
  return { info, seq: over.seq ?? 3, recent: over.recent ?? false, ghost: false };
}

const knowledge = (): TextKnowledge => ({
  sentDay: undefined,
  hits: new Set(),
  headerDone: false,
  bodyDone: false,
});
const plan = (keys: SearchKey[], saved: number[] = []) =>
  compileSearch(keys, { messageCount: 5, lastUid: 12, saved, nowSeconds: 2_000_000_000 });

describe("evaluate", () => {
  const body: SearchKey = { key: "BODY", value: "x" };
  const seen: SearchKey = { key: "SEEN" };
  const table: [string, SearchKey[], boolean | undefined][] = [
    ["a false cheap key settles AND", [{ key: "SEEN" }, body], false],
    ["an open text key leaves AND open", [{ key: "UNSEEN" }, body], undefined],
    ["a true cheap key settles OR", [{ key: "OR", left: body, right: { key: "UNSEEN" } }], true],
    ["NOT of an open key is open", [{ key: "NOT", operand: body }], undefined],
    [
      "NOT of a settled AND is settled",
      [{ key: "NOT", operand: { key: "AND", operands: [seen, body] } }],
      true,
    ],
    ["'*' of a sequence set is the message count", [{ key: "SEQUENCE", set: [{ from: "*", to: 3 }] }], true],
    [
      "a UID range past the last UID covers only the last UID",
      [{ key: "UID", set: [{ from: 20, to: "*" }] }],
      false,
    ],
    ["'$' is the saved UIDs", [{ key: "UID", set: "$" }], false],
    [
      "SENT* waits for the Date: header",
      [{ key: "SENTON", date: { year: 2024, month: 1, day: 2 } }],
      undefined,
    ],
    ["ON takes the local calendar day", [{ key: "ON", date: { year: 2024, month: 1, day: 2 } }], true],
    ["MODSEQ is at least", [{ key: "MODSEQ", modseq: 5n, entry: null }], true],
    ["an empty BODY matches without reading", [{ key: "BODY", value: "" }], true],
  ];
  for (const [name, keys, expected] of table)
    it(name, () => assert.equal(evaluate(plan(keys), candidate(), knowledge()), expected));

  it("settles text keys once their scope has been read", () => {
    const p = plan([{ key: "OR", left: { key: "SUBJECT", value: "a" }, right: body }]);
    const k = knowledge();
    k.headerDone = true;
    assert.equal(evaluate(p, candidate(), k), undefined);
    k.bodyDone = true;
    assert.equal(evaluate(p, candidate(), k), false);
    k.hits.add(1);
    assert.equal(evaluate(p, candidate(), k), true);
  });

  it("shares one test between equal text keys", () => {
    const p = plan([body, { key: "NOT", operand: { key: "BODY", value: "X" } }]);
    assert.equal(p.tests.length, 1);
  });
});
