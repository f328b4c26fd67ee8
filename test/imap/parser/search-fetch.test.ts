import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { SearchKey } from "../../../lib/imap/parser/index.js";
import { fetchItemName } from "../../../lib/imap/serializer/responses.js";
import { parse, parsedBody } from "../frame-helper.js";

function criteria(line: string): unknown {
  const body = parsedBody(`a SEARCH ${line}`) as { criteria?: unknown; bad?: string };
  return body.criteria ?? body;
}

const d = (year: number, month: number, day: number) => ({ year, month, day });
const searchCases: [string, unknown][] = [
  ...["ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN"].map(
    (key): [string, unknown] => [key.toLowerCase(), [{ key }]],
  ),
  ...["UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN"].map((key): [string, unknown] => [
    key,
    [{ key }],
  ]),
  ...["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"].map((key): [string, unknown] => [
    `${key} "a b"`,
    [{ key, value: "a b" }],
  ]),
  ...["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"].map((key): [string, unknown] => [
    `${key} 1-Feb-1994`,
    [{ key, date: d(1994, 2, 1) }],
  ]),
  ['SINCE "15-dec-2023"', [{ key: "SINCE", date: d(2023, 12, 15) }]],
  ["KEYWORD $Junk", [{ key: "KEYWORD", flag: "$Junk" }]],
  ["UNKEYWORD foo", [{ key: "UNKEYWORD", flag: "foo" }]],
  ["HEADER Message-ID <x@y>", [{ key: "HEADER", field: "Message-ID", value: "<x@y>" }]],
  [
    "LARGER 1000 SMALLER 5",
    [
      { key: "LARGER", size: 1000 },
      { key: "SMALLER", size: 5 },
    ],
  ],
  [
    "OLDER 60 YOUNGER 5",
    [
      { key: "OLDER", seconds: 60 },
      { key: "YOUNGER", seconds: 5 },
    ],
  ],
  ["UID 1:*", [{ key: "UID", set: [{ from: 1, to: "*" }] }]],
  [
    "*:4,7",
    [
      {
        key: "SEQUENCE",
        set: [
          { from: "*", to: 4 },
          { from: 7, to: 7 },
        ],
      },
    ],
  ],
  ["$", [{ key: "SEQUENCE", set: "$" }]],
  ["NOT SEEN", [{ key: "NOT", operand: { key: "SEEN" } }]],
  [
    "OR SEEN (FLAGGED DRAFT)",
    [
      {
        key: "OR",
        left: { key: "SEEN" },
        right: { key: "AND", operands: [{ key: "FLAGGED" }, { key: "DRAFT" }] },
      },
    ],
  ],
  ["MODSEQ 0", [{ key: "MODSEQ", modseq: 0n, entry: null }]],
  [
    'MODSEQ "/flags/\\\\Seen" priv 9',
    [{ key: "MODSEQ", modseq: 9n, entry: { flag: "\\Seen", type: "priv" } }],
  ],
  ["SUBJECT {3+}\r\nxyz UNSEEN", [{ key: "SUBJECT", value: "xyz" }, { key: "UNSEEN" }]],
  ["FROB", { bad: "Error in IMAP command SEARCH: Unknown search key FROB." }],
  ["SINCE 30-Feb-2020", { bad: "Error in IMAP command SEARCH: Invalid day in date." }],
  ["OR SEEN", { bad: "Error in IMAP command SEARCH: Expected a space." }],
  ["()", { bad: "Error in IMAP command SEARCH: Empty list." }],
  ['MODSEQ "/x" all 1', { bad: "Error in IMAP command SEARCH: Invalid MODSEQ entry name." }],
  ["LARGER x", { bad: "Error in IMAP command SEARCH: Expected a size." }],
];

for (const [line, expected] of searchCases) {
  test(`SEARCH ${JSON.stringify(line.split("\r\n")[0])} parses as expected`, () => {
    assert.deepEqual(criteria(line), expected);
  });
}

test("SEARCH reads RETURN options and CHARSET before the keys", () => {
  assert.deepEqual(parsedBody("a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET UTF-8 ALL"), {
    name: "SEARCH",
    uid: true,
    returns: ["MIN", "MAX", "COUNT", "ALL", "SAVE"],
    charset: "UTF-8",
    criteria: [{ key: "ALL" }],
  });
  assert.deepEqual((parsedBody("a SEARCH RETURN () ALL") as { returns: unknown }).returns, []);
  assert.deepEqual(parsedBody("a SEARCH RETURN (FOO) ALL"), {
    bad: "Error in IMAP command SEARCH: Unknown search return option FOO.",
  });
});

const fetchCases: [string, string[]][] = [
  ["ALL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"]],
  ["fast", ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]],
  ["FULL", ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]],
  [
    "(UID MODSEQ RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE)",
    ["UID", "MODSEQ", "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BODYSTRUCTURE"],
  ],
  ["BODY[]", ["BODY[]"]],
  ["BODY.PEEK[]<0.1024>", ["BODY[]<0>"]],
  ["body[1.2.3]", ["BODY[1.2.3]"]],
  ["BODY[HEADER]", ["BODY[HEADER]"]],
  ["BODY[2.TEXT]", ["BODY[2.TEXT]"]],
  ["BODY[1.MIME]", ["BODY[1.MIME]"]],
  ["BODY.PEEK[HEADER.FIELDS (From Subject)]", ["BODY[HEADER.FIELDS (FROM SUBJECT)]"]],
  ["BODY[3.HEADER.FIELDS.NOT (X-Spam)]<10.20>", ["BODY[3.HEADER.FIELDS.NOT (X-SPAM)]<10>"]],
  ["(BINARY.PEEK[1] BINARY.SIZE[1.2] BINARY[])", ["BINARY[1]", "BINARY.SIZE[1.2]", "BINARY[]"]],
];

for (const [items, names] of fetchCases) {
  test(`FETCH ${items} reads as ${names.join(" ")}`, () => {
    const result = parse(`a FETCH 1 ${items}`);
    assert.ok(result.ok && result.command.name === "FETCH", JSON.stringify(result));
    assert.deepEqual(result.command.attributes.map(fetchItemName), names);
  });
}

test("FETCH takes the CHANGEDSINCE modifier", () => {
  const result = parse("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345678901234)");
  assert.ok(result.ok && result.command.name === "FETCH");
  assert.equal(result.command.changedSince, 12345678901234n);
  assert.equal(result.command.uid, true);
});

/** A small printer: search keys back to IMAP syntax, for the round-trip property. */
function printKey(key: SearchKey): string {
  switch (key.key) {
    case "NOT":
      return `NOT ${printKey(key.operand)}`;
    case "OR":
      return `OR ${printKey(key.left)} ${printKey(key.right)}`;
    case "AND":
      return `(${key.operands.map(printKey).join(" ")})`;
    case "SUBJECT":
    case "FROM":
      return `${key.key} "${key.value.replace(/["\\]/g, "\\$&")}"`;
    case "LARGER":
      return `LARGER ${key.size}`;
    case "UID":
      return `UID ${(key.set as { from: number; to: number }[]).map((r) => `${r.from}:${r.to}`).join(",")}`;
    default:
      return key.key;
  }
}

const leaf: fc.Arbitrary<SearchKey> = fc.oneof(
  fc.constantFrom<SearchKey>({ key: "SEEN" }, { key: "ALL" }, { key: "UNDRAFT" }),
  fc.stringMatching(/^[ -~]{0,8}$/).map((value): SearchKey => ({ key: "SUBJECT", value })),
  fc.nat().map((size): SearchKey => ({ key: "LARGER", size })),
  fc
    .array(fc.tuple(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 99 })), {
      minLength: 1,
      maxLength: 3,
    })
    .map((pairs): SearchKey => ({ key: "UID", set: pairs.map(([from, to]) => ({ from, to })) })),
);
const tree = fc.letrec<{ key: SearchKey }>((tie) => ({
  key: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    tie("key").map((operand): SearchKey => ({ key: "NOT", operand })),
    fc.tuple(tie("key"), tie("key")).map(([left, right]): SearchKey => ({ key: "OR", left, right })),
    fc
      .array(tie("key"), { minLength: 1, maxLength: 3 })
      .map((operands): SearchKey => ({ key: "AND", operands })),
  ),
})).key;

test("random search key trees round-trip through a printer and the parser", () => {
  fc.assert(
    fc.property(tree, (key) => {
      assert.deepEqual(criteria(printKey(key)), [key]);
    }),
    { seed: 3, numRuns: 200 },
  );
});
