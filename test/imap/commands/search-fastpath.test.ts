/*
 * SEARCH BODY/TEXT's fast path: an ASCII chunk of a part without transfer encoding in an
 * ASCII-compatible charset is searched as its lower-cased bytes, everything else is decoded.
 * Each case below has decoded text and raw bytes that disagree, so taking the fast path
 * where it does not apply (or decoding wrongly where it does) changes the answer.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { bodyTree } from "../../../lib/imap/commands/search-message.js";
import { toCrlfBuffer } from "../../../lib/mime/sections.js";
import { type MimePart, parseStructureSync } from "../../../lib/mime/structure.js";
import { type Harness, harness } from "./search-harness.js";

const head = (type: string, cte?: string): string =>
  `From: a@example.org\nSubject: s\nMIME-Version: 1.0\nContent-Type: ${type}\n${cte ? `Content-Transfer-Encoding: ${cte}\n` : ""}\n`;

/** A UTF-16LE body: every ASCII character followed by NUL (still all ASCII bytes). */
const utf16 = Buffer.concat([
  Buffer.from(head("text/plain; charset=utf-16le", "8bit")),
  Buffer.from("hello utf sixteen\n", "utf16le"),
]);

/** Over SMALL_FILE_MAX, CRLF-stored so the streamed chunks are 64 KiB: "Grüße" straddles two. */
function bigMixed(): Buffer {
  const top = head("text/plain; charset=utf-8").replace(/\n/g, "\r\n");
  const line = `${"filler ".repeat(9)}x\r\n`;
  let ascii = top;
  while (ascii.length < 2 * 65536 - 200) ascii += line;
  ascii += "y".repeat(2 * 65536 - 2 - ascii.length);
  // the chunk boundary falls right after "Gr": that chunk is ASCII, the next is not
  const text = `${ascii}Grüße vom Bodensee\r\n${line.repeat(3000)}`;
  return Buffer.from(text, "utf8");
}

const MESSAGES = [
  // 1: quoted-printable: the decoded text has "zanzibar" and "café", the raw "=3D" and "zan=\n"
  head("text/plain; charset=utf-8", "quoted-printable") +
    "the island of zan=\nzibar sells caf=C3=A9 and a=3Db\n",
  // 2: base64 of "hidden treasure map\n"; the raw holds "aGlkZGVu"
  `${head("text/plain", "base64")}${Buffer.from("hidden treasure map\n").toString("base64")}\n`,
  // 3: plain ASCII
  `${head("text/plain; charset=us-ascii")}Plain Old ASCII Text with ZanZibar\n`,
  // 4: UTF-16LE
  utf16,
  // 5: multipart: a plain ASCII part, a base64 text part, and a base64 attachment
  `${head('multipart/mixed; boundary="b"')}--b\nContent-Type: text/plain\n\nfirst part words\n--b\n` +
    `Content-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: base64\n\n` +
    `${Buffer.from("second part \xe9t\xe9 words\n", "latin1").toString("base64")}\n--b\n` +
    `Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n` +
    `${Buffer.from("attachment secret\n").toString("base64")}\n--b--\n`,
  // 6: big, ASCII for 128 KiB, then UTF-8
  bigMixed(),
  // 7: plain ASCII stored with LF line ends (searched in its CRLF form)
  `${head("text/plain")}first line\nsecond line\n`,
].map((text) => ({ text: typeof text === "string" ? Buffer.from(text, "latin1") : text }));

let h: Harness;
before(async () => {
  h = await harness(MESSAGES);
});
after(() => h.close());

const cases: [criteria: string, expected: string][] = [
  ["BODY zanzibar", "1 3"],
  ["BODY ZANZIBAR", "1 3"],
  ['BODY "zan="', ""],
  ['BODY "café"', "1"],
  ['BODY "CAFÉ"', "1"],
  ['BODY "a=b"', "1"],
  ['BODY "=3D"', ""],
  ['BODY "treasure MAP"', "2"],
  ["BODY aGlkZGVu", ""],
  ['BODY "old ascii"', "3"],
  ['BODY "plain öld"', ""],
  ['BODY "utf sixteen"', "4"],
  ['BODY "first part"', "5"],
  ['BODY "été words"', "5"],
  ['BODY "ÉTÉ"', "5"],
  ["BODY attachment", ""],
  ['TEXT "second part"', "5"],
  ['BODY "grüße vom"', "6"],
  ['BODY "GRÜSSE"', ""],
  ['BODY "yyyygr"', "6"],
  ["BODY bodensee", "6"],
  ["BODY {11}\r\nline\r\nsecon", "7"],
  ["BODY {10}\r\nline\nsecon", ""],
  ["TEXT {11}\r\nLINE\r\nSECON", "7"],
  ["BODY {6}\r\nline\r\n", "7"],
  ["BODY {5}\r\nline\r", "7"],
];

describe("SEARCH fast path against decoded text", () => {
  for (const [criteria, expected] of cases)
    it(`SEARCH ${criteria} finds ${expected || "nothing"}`, async () => {
      const reply = await h.run(`SEARCH ${criteria}`);
      assert.deepEqual(reply.untagged, [`* SEARCH${expected ? ` ${expected}` : ""}`]);
      assert.equal(reply.tagged, "OK Search completed.");
    });
});

describe("bodyTree (the body pass's part tree)", () => {
  const corpus = new URL("../../../../test/fixtures/mime/corpus/", import.meta.url);
  const pick = (p: MimePart) => ({
    kind: p.kind,
    headerStart: p.headerStart,
    bodyStart: p.bodyStart,
    end: p.end,
    contentType: p.contentType,
    encoding: p.encoding,
    children: p.children.length,
  });
  const same = (stored: Buffer) => {
    const full = parseStructureSync(stored);
    assert.deepEqual(pick(bodyTree(stored, toCrlfBuffer(stored).length)), pick(full));
  };

  it("agrees with the full parse on every corpus message", () => {
    for (const name of readdirSync(corpus).filter((n) => n.endsWith(".eml")))
      same(readFileSync(new URL(name, corpus)));
  });

  it("agrees with the full parse on generated messages (property)", () => {
    const headerLine = fc.constantFrom(
      "Subject: x",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Type: multipart/mixed; boundary=b",
      "Content-Type: message/rfc822",
      "Content-Type: text/html",
      "content-type: TEXT/PLAIN",
      " folded continuation",
      "Content-Transfer-Encoding: base64",
      "Content-Transfer-Encoding: quoted-printable",
      "X-Broken",
    );
    const bodyLine = fc.constantFrom("", "text", "--b", "--b--", "Content-Type: text/plain", "\r", "a\rb");
    const eol = fc.constantFrom("\n", "\r\n");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerLine, eol), { maxLength: 5 }),
        fc.boolean(),
        fc.array(fc.tuple(bodyLine, eol), { maxLength: 8 }),
        fc.boolean(),
        (head, blank, body, finalEol) => {
          let text = head.map(([l, e]) => l + e).join("");
          if (blank) text += "\n";
          text += body.map(([l, e]) => l + e).join("");
          if (!finalEol) text += "tail";
          same(Buffer.from(text, "latin1"));
        },
      ),
      { seed: 5, numRuns: 1500 },
    );
  });
});
