/*
 * SEARCH on a real Maildir: every search key, nesting, decoded headers and bodies, sequence
 * and UID sets, and the exact "* SEARCH" lines and tagged replies.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FolderSession } from "../../../lib/mailbox/folder.js";
import { appendMessage } from "../../../lib/mailbox/transfer.js";
import { CORPUS } from "./search-corpus.js";
import { type Harness, harness, makeMaildir } from "./search-harness.js";

let h: Harness;
before(async () => {
  // a first session claims \Recent for messages 1-4, so only message 5 is \Recent here
  const dir = await makeMaildir(CORPUS.slice(0, 4));
  await FolderSession.open(dir);
  const last = CORPUS[4];
  if (last === undefined) throw new Error("corpus");
  await appendMessage(dir, last.text as Buffer, last.internalDate ? { internalDate: last.internalDate } : {});
  h = await harness([], dir);
});
after(() => h.close());

const cases: [criteria: string, expected: string][] = [
  ["ALL", "1 2 3 4 5"],
  ["ANSWERED", "2"],
  ["UNANSWERED", "1 3 4 5"],
  ["DELETED", "3"],
  ["UNDELETED", "1 2 4 5"],
  ["DRAFT", "4"],
  ["UNDRAFT", "1 2 3 5"],
  ["FLAGGED", "2"],
  ["UNFLAGGED", "1 3 4 5"],
  ["SEEN", "1"],
  ["UNSEEN", "2 3 4 5"],
  ["KEYWORD $work", "3"],
  ["UNKEYWORD $Work", "1 2 4 5"],
  ["KEYWORD nosuch", ""],
  ["RECENT", "5"],
  ["NEW", "5"],
  ["OLD", "1 2 3 4"],
  ["LARGER 10000", "5"],
  ["SMALLER 10000", "1 2 3 4"],
  ["BEFORE 10-Jul-2023", "1"],
  ["ON 10-Jul-2023", "2"],
  ["SINCE 15-Aug-2023", "3 4 5"],
  ["OLDER 3600", "1 2 3 4 5"],
  ["YOUNGER 3600", ""],
  ["SENTBEFORE 1-Aug-2023", "1 2"],
  ["SENTON 3-Jul-2023", "1"],
  ["SENTON 1-Aug-2023", "4"],
  ["SENTON 15-Aug-2023", "3"],
  ["SENTSINCE 1-Sep-2023", "5"],
  ["FROM alice", "1"],
  ['FROM "alice example"', "1"],
  ['FROM "ALICE EXAMPLE <alice@"', "1"],
  ['FROM "andré grün"', "2"],
  ["FROM ANDRE@EXAMPLE.DE", "2"],
  ["FROM inner@example.com", ""],
  ["TO bob", "1"],
  ["CC carol", "2"],
  ["BCC dave", "3"],
  ["SUBJECT lunch", "1"],
  ['SUBJECT "grüße aus"', "2"],
  ['SUBJECT "KÖLN"', "2"],
  ["SUBJECT inner", ""],
  ["HEADER X-Mailer postern", "3"],
  ['HEADER x-mailer ""', "3"],
  ['HEADER Message-ID ""', "1"],
  ['HEADER Subject ""', "1 2 3 4 5"],
  ['HEADER Date ""', "1 3 4 5"],
  ["BODY noon", "1"],
  ['BODY "café crème"', "2"],
  ['BODY "soft break joins"', "2"],
  ['BODY "ünïcödé invoice"', "3"],
  ["BODY rechnung", "3"],
  ["BODY secretword", ""],
  ["BODY preamblemarker", ""],
  ["BODY epiloguemarker", ""],
  ["BODY data.bin", ""],
  ['BODY "forwarded text"', "4"],
  ['BODY "inner subject"', ""],
  ["BODY boundaryneedle", "5"],
  ['BODY "grüße aus der straße"', "5"],
  ['BODY ""', "1 2 3 4 5"],
  ['TEXT "inner subject"', "4"],
  ["TEXT data.bin", "3"],
  ['TEXT "lunch plans"', "1"],
  ['TEXT "x-mailer: postern"', "3"],
  ["TEXT noon", "1"],
  ["TEXT boundaryneedle", "5"],
  ["2:4", "2 3 4"],
  ["*:4", "4 5"],
  ["4,1,3:2", "1 2 3 4"],
  ["6", ""],
  ["UID 2,4", "2 4"],
  ["UID 3:*", "3 4 5"],
  ["UID 9:*", "5"],
  ["UID 100", ""],
  ["NOT SEEN", "2 3 4 5"],
  ["NOT NOT FLAGGED", "2"],
  ["OR SEEN DRAFT", "1 4"],
  ["NOT (OR SEEN DRAFT)", "2 3 5"],
  ["(SEEN FROM alice)", "1"],
  ["SEEN FROM andre", ""],
  ["OR (FROM alice) (BODY rechnung)", "1 3"],
  ["NOT BODY noon", "2 3 4 5"],
  ["OR NOT SUBJECT lunch DELETED", "2 3 4 5"],
  ["OR BODY noon OR BODY rechnung TEXT data.bin", "1 3"],
  ['UNDELETED NOT (OR BODY noon SUBJECT "grüße") SINCE 1-Aug-2023', "4 5"],
  ['CHARSET UTF-8 SUBJECT "grüße"', "2"],
  ["CHARSET us-ascii FROM alice", "1"],
];

describe("SEARCH keys", () => {
  for (const [criteria, expected] of cases)
    it(`SEARCH ${criteria} finds ${expected || "nothing"}`, async () => {
      const reply = await h.run(`SEARCH ${criteria}`);
      assert.deepEqual(reply.untagged, [expected === "" ? "* SEARCH" : `* SEARCH ${expected}`]);
      assert.equal(reply.tagged, "OK Search completed.");
    });
});

describe("SEARCH replies", () => {
  it("refuses other charsets with BADCHARSET listing the ones it takes", async () => {
    const reply = await h.run("SEARCH CHARSET ISO-8859-1 FROM alice");
    assert.deepEqual(reply.untagged, []);
    assert.equal(reply.tagged, "NO [BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
  });

  it("does not enable CONDSTORE for a search without MODSEQ", async () => {
    await h.run("SEARCH ALL");
    assert.equal(h.condstoreEnabled(), false);
  });
});
