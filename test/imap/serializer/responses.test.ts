import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ImapResponse,
  responseBuffer,
  StreamLengthError,
  streamResponse,
} from "../../../lib/imap/serializer/responses.js";
import { formatNumberSet } from "../../../lib/imap/serializer/values.js";

const cases: [string, ImapResponse, string][] = [
  [
    "a tagged OK with a code",
    { type: "status", tag: "a1", status: "OK", code: { name: "READ-WRITE" }, text: "Select completed." },
    "a1 OK [READ-WRITE] Select completed.\r\n",
  ],
  [
    "an untagged BYE",
    { type: "status", tag: null, status: "BYE", code: null, text: "Logging out" },
    "* BYE Logging out\r\n",
  ],
  [
    "a status text with CR LF flattened",
    { type: "status", tag: "a", status: "NO", code: null, text: "x\r\ny" },
    "a NO x y\r\n",
  ],
  [
    "PERMANENTFLAGS",
    {
      type: "status",
      tag: null,
      status: "OK",
      code: { name: "PERMANENTFLAGS", flags: ["\\Seen", "\\*"] },
      text: "Flags permitted.",
    },
    "* OK [PERMANENTFLAGS (\\Seen \\*)] Flags permitted.\r\n",
  ],
  [
    "CAPABILITY code",
    {
      type: "status",
      tag: null,
      status: "OK",
      code: { name: "CAPABILITY", capabilities: ["IMAP4rev1", "IDLE"] },
      text: "ready",
    },
    "* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\n",
  ],
  [
    "APPENDUID",
    {
      type: "status",
      tag: "a",
      status: "OK",
      code: { name: "APPENDUID", uidValidity: 38505, uids: [3955] },
      text: "APPEND completed",
    },
    "a OK [APPENDUID 38505 3955] APPEND completed\r\n",
  ],
  [
    "COPYUID in order",
    {
      type: "status",
      tag: "a",
      status: "OK",
      code: {
        name: "COPYUID",
        uidValidity: 9,
        source: [304, 319, 320, 321],
        destination: [3956, 3957, 3958, 3959],
      },
      text: "Done",
    },
    "a OK [COPYUID 9 304,319:321 3956:3959] Done\r\n",
  ],
  [
    "HIGHESTMODSEQ",
    {
      type: "status",
      tag: null,
      status: "OK",
      code: { name: "HIGHESTMODSEQ", value: 9007199254740993n },
      text: "Highest",
    },
    "* OK [HIGHESTMODSEQ 9007199254740993] Highest\r\n",
  ],
  [
    "BADCHARSET",
    {
      type: "status",
      tag: "a",
      status: "NO",
      code: { name: "BADCHARSET", charsets: ["UTF-8", "US-ASCII"] },
      text: "No",
    },
    "a NO [BADCHARSET (UTF-8 US-ASCII)] No\r\n",
  ],
  [
    "MODIFIED",
    {
      type: "status",
      tag: "a",
      status: "OK",
      code: { name: "MODIFIED", numbers: [7, 9] },
      text: "Conditional STORE failed",
    },
    "a OK [MODIFIED 7,9] Conditional STORE failed\r\n",
  ],
  [
    "TOOBIG",
    { type: "status", tag: "a", status: "NO", code: { name: "TOOBIG" }, text: "Too big" },
    "a NO [TOOBIG] Too big\r\n",
  ],
  [
    "a continuation",
    { type: "continuation", text: "Ready for literal data" },
    "+ Ready for literal data\r\n",
  ],
  ["EXISTS", { type: "EXISTS", number: 23 }, "* 23 EXISTS\r\n"],
  ["RECENT", { type: "RECENT", number: 0 }, "* 0 RECENT\r\n"],
  ["EXPUNGE", { type: "EXPUNGE", number: 4 }, "* 4 EXPUNGE\r\n"],
  [
    "FETCH with quoting, NIL, nested lists and a literal for 8-bit",
    {
      type: "FETCH",
      seq: 12,
      items: [
        ["UID", 7],
        ["FLAGS", [{ atom: "\\Seen" }, { atom: "$Junk" }]],
        ["ENVELOPE", ['a "q" \\', null, "é"]],
        ["MODSEQ", [5n]],
      ],
    },
    '* 12 FETCH (UID 7 FLAGS (\\Seen $Junk) ENVELOPE ("a \\"q\\" \\\\" NIL {2}\r\né) MODSEQ (5))\r\n',
  ],
  [
    "FETCH with CR LF in a string",
    { type: "FETCH", seq: 1, items: [["BODY[HEADER]", "a\r\n"]] },
    "* 1 FETCH (BODY[HEADER] {3}\r\na\r\n)\r\n",
  ],
  [
    "FETCH with a long string as literal",
    { type: "FETCH", seq: 1, items: [["X", "x".repeat(1025)]] },
    `* 1 FETCH (X {1025}\r\n${"x".repeat(1025)})\r\n`,
  ],
  [
    "FETCH with a forced literal",
    { type: "FETCH", seq: 1, items: [["BODY[]", { literal: Buffer.from("") }]] },
    "* 1 FETCH (BODY[] {0}\r\n)\r\n",
  ],
  ["SEARCH", { type: "SEARCH", numbers: [2, 3, 6], modseq: null }, "* SEARCH 2 3 6\r\n"],
  ["empty SEARCH", { type: "SEARCH", numbers: [], modseq: null }, "* SEARCH\r\n"],
  [
    "SEARCH with MODSEQ",
    { type: "SEARCH", numbers: [2], modseq: 917162500n },
    "* SEARCH 2 (MODSEQ 917162500)\r\n",
  ],
  [
    "ESEARCH",
    { type: "ESEARCH", tag: "A282", uid: true, min: 2, count: 3, all: [2, 10, 11] },
    '* ESEARCH (TAG "A282") UID MIN 2 COUNT 3 ALL 2,10:11\r\n',
  ],
  [
    "LIST",
    { type: "LIST", attributes: ["\\HasNoChildren"], delimiter: "/", mailbox: "INBOX" },
    '* LIST (\\HasNoChildren) "/" INBOX\r\n',
  ],
  [
    "LIST with a quoted, encoded name",
    { type: "LIST", attributes: ["\\Drafts"], delimiter: "/", mailbox: "Entwürfe alt" },
    '* LIST (\\Drafts) "/" "Entw&APw-rfe alt"\r\n',
  ],
  [
    "LSUB of a name needing quotes",
    { type: "LSUB", attributes: [], delimiter: null, mailbox: "a%b" },
    '* LSUB () NIL "a%b"\r\n',
  ],
  [
    "STATUS",
    {
      type: "STATUS",
      mailbox: "blurdybloop",
      items: [
        ["MESSAGES", 231],
        ["UIDNEXT", 44292],
      ],
    },
    "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
  ],
  ["FLAGS", { type: "FLAGS", flags: ["\\Answered", "\\Seen"] }, "* FLAGS (\\Answered \\Seen)\r\n"],
  [
    "CAPABILITY",
    { type: "CAPABILITY", capabilities: ["IMAP4rev1", "LITERAL+"] },
    "* CAPABILITY IMAP4rev1 LITERAL+\r\n",
  ],
  ["ENABLED", { type: "ENABLED", capabilities: ["CONDSTORE"] }, "* ENABLED CONDSTORE\r\n"],
  [
    "NAMESPACE",
    { type: "NAMESPACE", personal: [{ prefix: "", delimiter: "/" }], other: null, shared: null },
    '* NAMESPACE (("" "/")) NIL NIL\r\n',
  ],
  [
    "ID",
    {
      type: "ID",
      params: [
        ["name", "postern"],
        ["version", null],
      ],
    },
    '* ID ("name" "postern" "version" NIL)\r\n',
  ],
  ["ID NIL", { type: "ID", params: null }, "* ID NIL\r\n"],
  ["VANISHED", { type: "VANISHED", earlier: true, uids: [1, 2, 3, 9] }, "* VANISHED (EARLIER) 1:3,9\r\n"],
];

for (const [name, response, wire] of cases) {
  test(`the serializer writes ${name}`, () => {
    assert.equal(responseBuffer(response).toString("utf8"), wire);
  });
}

async function collect(response: ImapResponse): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of streamResponse(response)) chunks.push(chunk);
  return Buffer.concat(chunks).toString("latin1");
}

async function* pieces(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield Buffer.from(part, "latin1");
}

test("a FETCH body literal is streamed from an async iterable of known size", async () => {
  const response: ImapResponse = {
    type: "FETCH",
    seq: 3,
    items: [
      ["UID", 9],
      ["BODY[]", { stream: { size: 7, source: pieces("ab\r\n", "\0cd") } }],
    ],
  };
  assert.equal(await collect(response), "* 3 FETCH (UID 9 BODY[] {7}\r\nab\r\n\0cd)\r\n");
  assert.throws(() => responseBuffer(response), TypeError);
});

test("a streamed literal of the wrong length is an error, never a desynchronized client", async () => {
  const short: ImapResponse = {
    type: "FETCH",
    seq: 1,
    items: [["BODY[]", { stream: { size: 5, source: pieces("abc") } }]],
  };
  const long: ImapResponse = {
    type: "FETCH",
    seq: 1,
    items: [["BODY[]", { stream: { size: 2, source: pieces("abc") } }]],
  };
  await assert.rejects(collect(short), StreamLengthError);
  await assert.rejects(collect(long), StreamLengthError);
});

test("formatNumberSet keeps the order and compresses ascending runs", () => {
  assert.equal(formatNumberSet([1, 2, 3, 5, 4, 9, 10]), "1:3,5,4,9:10");
  assert.equal(formatNumberSet([]), "");
});
