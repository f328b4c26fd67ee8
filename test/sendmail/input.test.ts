/*
 * Tests for SendmailInput: line endings, the "From " line, the "." line, fed byte by
 * byte and all at once, plus a property test.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { SendmailInput } from "../../lib/sendmail/input.js";

function run(input: string, ignoreDots: boolean, split: "whole" | "bytes"): string {
  const reader = new SendmailInput({ ignoreDots });
  const bytes = Buffer.from(input, "latin1");
  const out: Buffer[] = [];
  if (split === "whole") out.push(reader.push(bytes));
  else for (const b of bytes) out.push(reader.push(Buffer.from([b])));
  out.push(reader.end());
  return Buffer.concat(out).toString("latin1");
}

const CASES: [string, string, boolean, string][] = [
  ["passes LF text unchanged", "Subject: a\n\nbody\n", false, "Subject: a\n\nbody\n"],
  ["turns CRLF into LF", "Subject: a\r\n\r\nbody\r\n", false, "Subject: a\n\nbody\n"],
  ["keeps a lone CR", "a\rb\n", false, "a\rb\n"],
  [
    "removes a first 'From ' line",
    "From ann Mon Jan  1 00:00:00 2024\nSubject: a\n\nx\n",
    false,
    "Subject: a\n\nx\n",
  ],
  ["keeps a later 'From ' line", "Subject: a\n\nFrom here\n", false, "Subject: a\n\nFrom here\n"],
  ["keeps a first 'From:' header", "From: ann@x\n\nx\n", false, "From: ann@x\n\nx\n"],
  ["ends at a '.' line", "a\n.\nafter\n", false, "a\n"],
  ["ends at a '.' CRLF line", "a\r\n.\r\nafter\r\n", false, "a\n"],
  ["ends at a last '.' without newline", "a\n.", false, "a\n"],
  ["ends at a '.' on the first line", ".\nafter\n", false, ""],
  ["does not unstuff '..' lines", "..\n.x\n", false, "..\n.x\n"],
  ["with -i, keeps '.' lines", "a\n.\nafter\n", true, "a\n.\nafter\n"],
  ["keeps a last line without newline", "a\nlast", false, "a\nlast"],
  ["keeps short lines", "a\nb\nc\n", false, "a\nb\nc\n"],
  ["handles empty input", "", false, ""],
];

describe("SendmailInput", () => {
  for (const [what, input, ignoreDots, expected] of CASES) {
    it(`${what} (all at once)`, () => assert.equal(run(input, ignoreDots, "whole"), expected));
    it(`${what} (byte by byte)`, () => assert.equal(run(input, ignoreDots, "bytes"), expected));
  }

  it("gives the same output however the input is split", () => {
    const text = fc.array(fc.constantFrom("a", ".", "\n", "\r", "From ", " ", "x\n"), { maxLength: 40 });
    fc.assert(
      fc.property(text, fc.boolean(), fc.array(fc.nat(50), { maxLength: 6 }), (pieces, ignoreDots, cuts) => {
        const input = pieces.join("");
        const reader = new SendmailInput({ ignoreDots });
        const bytes = Buffer.from(input, "latin1");
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const out: Buffer[] = [];
        let from = 0;
        for (const p of [...points, bytes.length]) {
          out.push(reader.push(bytes.subarray(from, p)));
          from = p;
        }
        out.push(reader.end());
        assert.equal(Buffer.concat(out).toString("latin1"), run(input, ignoreDots, "whole"));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("with -i and no 'From ' line, only changes CRLF to LF", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const input = `X${s}`;
        assert.equal(run(input, true, "whole"), input.replace(/\r\n/g, "\n"));
      }),
      { seed: 11, numRuns: 300 },
    );
  });
});
