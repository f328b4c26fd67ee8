/*
 * Tests for address-list parsing and `sendmail -t` recipient extraction.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { headerRecipients, parseAddressList, uniqueAddresses } from "../../lib/sendmail/addresses.js";

const LISTS: [string, string, string[]][] = [
  ["a bare address", "ann@example.org", ["ann@example.org"]],
  ["a name and an angle address", "Ann Example <ann@example.org>", ["ann@example.org"]],
  [
    "a quoted name with a comma",
    '"Example, Ann" <ann@example.org>, bob@example.org',
    ["ann@example.org", "bob@example.org"],
  ],
  ["comments, nested", "ann@example.org (Ann (the first)), bob@x", ["ann@example.org", "bob@x"]],
  ["a folded list", "ann@x,\n\tbob@y,\n cid@z", ["ann@x", "bob@y", "cid@z"]],
  ["an empty group", "undisclosed-recipients:;", []],
  ["a group with members", "team: ann@x, Bob <bob@y>;, cid@z", ["ann@x", "bob@y", "cid@z"]],
  ["a source route", "<@relay.example,@r2.example:ann@x>", ["ann@x"]],
  ["a quoted local part", '"ann smith"@x', ['"ann smith"@x']],
  ["a local user name", "root", ["root"]],
  ["empty elements", " , ann@x ,, ", ["ann@x"]],
  ["spaces around @", "ann @ x", ["ann@x"]],
  ["an unterminated angle address", "Ann <ann@x", ["ann@x"]],
  ["an unterminated angle address before a comma", "Ann <ann@x, bob@y", ["ann@x", "bob@y"]],
];

describe("parseAddressList", () => {
  for (const [what, text, expected] of LISTS) {
    it(`reads ${what}`, () => assert.deepEqual(parseAddressList(text), expected));
  }

  it("never throws and returns addresses without commas outside quotes", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        for (const a of parseAddressList(text)) {
          assert.ok(a.length > 0);
          if (!a.includes('"')) assert.ok(!a.includes(","));
        }
      }),
      { seed: 4242, numRuns: 300 },
    );
  });
});

describe("headerRecipients", () => {
  it("takes To, Cc and Bcc, folded, in order", () => {
    const headers = ["To: Ann <ann@x>,\n\tbob@y", "Subject: hi", "Cc: cid@z", "BCC: dan@w", "From: me@x"];
    assert.deepEqual(headerRecipients(headers), ["ann@x", "bob@y", "cid@z", "dan@w"]);
  });

  it("takes only the Resent- headers when a message has them", () => {
    const headers = ["To: ann@x", "Resent-To: eve@x", "Resent-Bcc: fay@x", "Cc: bob@y"];
    assert.deepEqual(headerRecipients(headers), ["eve@x", "fay@x"]);
  });

  it("finds nobody in a message with only a group", () => {
    assert.deepEqual(headerRecipients(["To: undisclosed-recipients:;"]), []);
  });
});

describe("uniqueAddresses", () => {
  it("drops repeats case-insensitively and keeps the first spelling", () => {
    assert.deepEqual(uniqueAddresses(["Ann@X", "bob@y", "ann@x"]), ["Ann@X", "bob@y"]);
  });
});
