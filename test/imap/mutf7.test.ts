import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checkMailboxName } from "../../lib/imap/mailbox-name.js";
import { decodeMutf7, encodeMutf7 } from "../../lib/mailbox/mutf7.js";

const pairs: [string, string][] = [
  ["INBOX", "INBOX"],
  ["~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"], // RFC 3501 5.1.3
  ["Entwürfe", "Entw&APw-rfe"],
  ["A & B", "A &- B"],
  ["Été", "&AMk-t&AOk-"],
  ["😀", "&2D3eAA-"],
  ["", ""],
];

for (const [unicode, wire] of pairs) {
  test(`modified UTF-7 encodes ${JSON.stringify(unicode)} and decodes it back`, () => {
    assert.equal(encodeMutf7(unicode), wire);
    assert.deepEqual(decodeMutf7(wire), { ok: true, value: unicode });
  });
}

const invalid: [string, string][] = [
  ["Entw\u00fcrfe", "Invalid character in mailbox name"],
  ["a\tb", "Invalid character in mailbox name"],
  ["&APw", "Unterminated &-sequence in mailbox name"],
  ["&AP*-", "Invalid base64 in mailbox name"],
  ["&APx-", "Invalid base64 padding in mailbox name"],
  ["&AGE-", "ASCII character encoded in mailbox name"],
  ["&2D0-", "Broken UTF-16 in mailbox name"],
  ["&3gA-", "Broken UTF-16 in mailbox name"],
  ["&A-", "Invalid base64 padding in mailbox name"],
];

for (const [wire, reason] of invalid) {
  test(`modified UTF-7 refuses ${JSON.stringify(wire)}`, () => {
    assert.deepEqual(decodeMutf7(wire), { ok: false, reason });
  });
}

test("any Unicode string round-trips through modified UTF-7", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 20 }), (text) => {
      const wire = encodeMutf7(text);
      assert.match(wire, /^[ -~]*$/);
      assert.deepEqual(decodeMutf7(wire), { ok: true, value: text });
    }),
    { seed: 5, numRuns: 300 },
  );
});

test("decoding arbitrary text never throws", () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[&\-A-Za-z0-9+,/ ]{0,16}$/), (text) => {
      decodeMutf7(text);
    }),
    { seed: 9, numRuns: 300 },
  );
});

const names: [string, unknown][] = [
  ["inbox", { ok: true, name: "INBOX", levels: ["INBOX"] }],
  ["Inbox/Sub", { ok: true, name: "INBOX/Sub", levels: ["INBOX", "Sub"] }],
  ["Lists/postern-dev", { ok: true, name: "Lists/postern-dev", levels: ["Lists", "postern-dev"] }],
  ["Entw&APw-rfe/", { ok: true, name: "Entwürfe", levels: ["Entwürfe"] }],
  ["../etc", { ok: false, reason: "Mailbox name may not contain . or .. levels" }],
  ["a/../../b", { ok: false, reason: "Mailbox name may not contain . or .. levels" }],
  ["/etc/passwd", { ok: false, reason: "Empty hierarchy level in mailbox name" }],
  ["a//b", { ok: false, reason: "Empty hierarchy level in mailbox name" }],
  ["~root", { ok: false, reason: "Mailbox name may not start with ~" }],
  ["&AAA-", { ok: false, reason: "Control character in mailbox name" }],
  ["&AAo-x", { ok: false, reason: "Control character in mailbox name" }],
  ["&APw", { ok: false, reason: "Unterminated &-sequence in mailbox name" }],
  ["", { ok: false, reason: "Empty hierarchy level in mailbox name" }],
  [`${"a/".repeat(20)}a`, { ok: false, reason: "Mailbox hierarchy too deep" }],
];

for (const [name, expected] of names) {
  test(`checkMailboxName judges ${JSON.stringify(name)}`, () => {
    assert.deepEqual(checkMailboxName(name), expected);
  });
}

test("checkMailboxName refuses a / inside a level when the separator is a dot", () => {
  const limits = { separator: ".", maxLength: 100, maxDepth: 4 };
  assert.deepEqual(checkMailboxName("a/b", limits), { ok: false, reason: "Mailbox name may not contain /" });
  assert.deepEqual(checkMailboxName("a.b", limits), { ok: true, name: "a.b", levels: ["a", "b"] });
});
