import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { asctime, fromLine, MboxQuoter } from "../../lib/delivery/content.js";

function quoteAll(text: string): string {
  const q = new MboxQuoter();
  return Buffer.concat([q.push(Buffer.from(text, "latin1")), q.end()]).toString("latin1");
}

function quoteBytewise(text: string): string {
  const q = new MboxQuoter();
  const buf = Buffer.from(text, "latin1");
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) parts.push(q.push(buf.subarray(i, i + 1)));
  parts.push(q.end());
  return Buffer.concat(parts).toString("latin1");
}

/** Reference mboxrd quoting, line by line. */
function reference(text: string): string {
  return text
    .split("\n")
    .map((l) => (/^>*From /.test(l) ? `>${l}` : l))
    .join("\n");
}

const cases: Array<[string, string, string]> = [
  ["a plain line", "hello\n", "hello\n"],
  ["a From_ line", "From me\n", ">From me\n"],
  ["an already quoted From_ line", ">>From me\n", ">>>From me\n"],
  ["From without a space", "From:me\nFromage\n", "From:me\nFromage\n"],
  ["From in the middle of a line", "x From y\n", "x From y\n"],
  ["quotes without From", ">> reply\n", ">> reply\n"],
  ["a From_ line at the very end without newline", "a\nFrom x", "a\n>From x"],
  ["a partial From at the end", "a\n>>Fro", "a\n>>Fro"],
  ["empty lines", "\n\nFrom \n", "\n\n>From \n"],
];

for (const [name, input, expected] of cases) {
  test(`MboxQuoter handles ${name}, fed at once and byte by byte`, () => {
    assert.equal(quoteAll(input), expected);
    assert.equal(quoteBytewise(input), expected);
  });
}

test("MboxQuoter agrees with line-by-line mboxrd quoting for arbitrary text", () => {
  const alphabet = fc.constantFrom("F", "r", "o", "m", " ", ">", "\n", "x");
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 60 }).map((a) => a.join("")),
      (text) => {
        assert.equal(quoteAll(text), reference(text));
        assert.equal(quoteBytewise(text), reference(text));
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

test("MboxQuoter reports whether the content ended with a newline", () => {
  const q = new MboxQuoter();
  assert.equal(q.endsWithNewline, true);
  q.push(Buffer.from("abc"));
  assert.equal(q.endsWithNewline, false);
  q.push(Buffer.from("\n"));
  assert.equal(q.endsWithNewline, true);
});

test("asctime formats like the C library, with a space-padded day", () => {
  assert.equal(asctime(new Date(2026, 10, 22, 10, 0, 0)), "Sun Nov 22 10:00:00 2026");
  assert.equal(asctime(new Date(2026, 0, 5, 7, 8, 9)), "Mon Jan  5 07:08:09 2026");
});

test("fromLine uses two spaces and MAILER-DAEMON for the null sender", () => {
  const d = new Date(2026, 10, 22, 10, 0, 0);
  assert.equal(fromLine("a@b.example", d), "From a@b.example  Sun Nov 22 10:00:00 2026\n");
  assert.equal(fromLine("", d), "From MAILER-DAEMON  Sun Nov 22 10:00:00 2026\n");
  assert.equal(fromLine("a b\n@c", d), "From a_b_@c  Sun Nov 22 10:00:00 2026\n");
});
