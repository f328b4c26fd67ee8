/*
 * SEARCH results: UID SEARCH, ESEARCH RETURN options (RFC 4731), SAVE and "$" (RFC 5182),
 * MODSEQ (RFC 7162), OLDER/YOUNGER (RFC 5032), messages expunged by another session, and
 * the SENT* day cache.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MailError } from "../../../lib/mailbox/errors.js";
import { FolderSession } from "../../../lib/mailbox/folder.js";
import { type Harness, harness } from "./search-harness.js";

const msg = (subject: string, body = "text\n", date = "1 Jan 2020 10:00:00 +0000"): string =>
  `Date: ${date}\nFrom: someone@example.org\nSubject: ${subject}\n\n${body}`;

const OLD = new Date(2020, 0, 1, 12);
let h: Harness;
before(async () => {
  h = await harness([
    { text: msg("odd one"), internalDate: OLD },
    { text: msg("even two"), internalDate: OLD },
    { text: msg("odd three"), internalDate: OLD },
    { text: msg("even four"), internalDate: new Date(Date.now() - 1_000_000_000) },
    { text: msg("odd five", "ghostbody\n", "Sun, 5 Jan 2020 10:00:00 +0000"), internalDate: OLD },
    { text: msg("even six"), internalDate: new Date(Date.now() - 1_000_000) },
  ]);
  await h.folder.store([1, 3], { mode: "add", flags: ["\\Deleted"] });
  await h.folder.expunge();
  await h.folder.sync();
});
after(() => h.close());

const untagged = async (line: string): Promise<string[]> =>
  (await h.run(line)).untagged.map((l) => l.replace(/\(TAG "a\d+"\)/, '(TAG "t")'));

describe("UID SEARCH and ESEARCH", () => {
  const table: [string, string[]][] = [
    ["SEARCH ALL", ["* SEARCH 1 2 3 4"]],
    ["UID SEARCH ALL", ["* SEARCH 2 4 5 6"]],
    ["UID SEARCH 2:3", ["* SEARCH 4 5"]],
    ["SEARCH UID 4:5", ["* SEARCH 2 3"]],
    ["SEARCH RETURN () SUBJECT even", ['* ESEARCH (TAG "t") ALL 1:2,4']],
    ["UID SEARCH RETURN (ALL) SUBJECT even", ['* ESEARCH (TAG "t") UID ALL 2,4,6']],
    ["UID SEARCH RETURN (MIN MAX COUNT) ALL", ['* ESEARCH (TAG "t") UID MIN 2 MAX 6 COUNT 4']],
    ["SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT nothing", ['* ESEARCH (TAG "t") COUNT 0']],
    ["SEARCH RETURN (MIN) SUBJECT nothing", ['* ESEARCH (TAG "t")']],
    ["SEARCH RETURN (COUNT) SUBJECT odd", ['* ESEARCH (TAG "t") COUNT 1']],
  ];
  for (const [line, expected] of table)
    it(`${line} answers ${expected.join(" / ")}`, async () => {
      assert.deepEqual(await untagged(line), expected);
    });

  it("OLDER and YOUNGER compare INTERNALDATE with now", async () => {
    assert.deepEqual(await untagged("UID SEARCH YOUNGER 100000"), ["* SEARCH 6"]);
    assert.deepEqual(await untagged("UID SEARCH YOUNGER 2000000 OLDER 100000"), ["* SEARCH 4"]);
  });
});

describe("SEARCHRES", () => {
  it("SAVE alone sends nothing and $ then names the saved messages", async () => {
    assert.deepEqual(await untagged("UID SEARCH RETURN (SAVE) SUBJECT even"), []);
    assert.deepEqual(h.selected.saved, [2, 4, 6]);
    assert.deepEqual(await untagged("UID SEARCH UID $"), ["* SEARCH 2 4 6"]);
    assert.deepEqual(await untagged("SEARCH $"), ["* SEARCH 1 2 4"]);
    assert.deepEqual(await untagged("SEARCH NOT $"), ["* SEARCH 3"]);
  });

  it("SAVE with MIN and MAX only saves those two", async () => {
    assert.deepEqual(await untagged("SEARCH RETURN (SAVE MIN MAX) SUBJECT even"), [
      '* ESEARCH (TAG "t") MIN 1 MAX 4',
    ]);
    assert.deepEqual(h.selected.saved, [2, 6]);
  });

  it("SAVE with COUNT saves every match", async () => {
    assert.deepEqual(await untagged("SEARCH RETURN (SAVE COUNT MIN) SUBJECT even"), [
      '* ESEARCH (TAG "t") MIN 1 COUNT 3',
    ]);
    assert.deepEqual(h.selected.saved, [2, 4, 6]);
  });

  it("a failed SEARCH with SAVE leaves $ empty", async () => {
    const reply = await h.run("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL");
    assert.match(reply.tagged, /^NO \[BADCHARSET/);
    assert.deepEqual(h.selected.saved, []);
    assert.deepEqual(await untagged("SEARCH $"), ["* SEARCH"]);
  });
});

describe("MODSEQ", () => {
  it("enables CONDSTORE and appends the highest MODSEQ of the matches", async () => {
    const ms = h.folder.messages.map((m) => m.modseq);
    const top = Math.max(...ms);
    const low = Math.min(...ms);
    const expected = h.folder.messages.filter((m) => m.modseq >= low).map((_, i) => i + 1);
    assert.deepEqual(await untagged(`SEARCH MODSEQ ${low}`), [
      `* SEARCH ${expected.join(" ")} (MODSEQ ${top})`,
    ]);
    assert.equal(h.condstoreEnabled(), true);
  });

  it("sends no MODSEQ when nothing matched", async () => {
    assert.deepEqual(await untagged("SEARCH MODSEQ 999999"), ["* SEARCH"]);
  });

  it("takes a per-flag entry as the message MODSEQ and reports MODSEQ in ESEARCH", async () => {
    const top = Math.max(...h.folder.messages.map((m) => m.modseq));
    assert.deepEqual(await untagged('UID SEARCH RETURN (COUNT) MODSEQ "/flags/\\\\draft" all 1'), [
      `* ESEARCH (TAG "t") UID COUNT 4 MODSEQ ${top}`,
    ]);
  });
});

describe("SENT* day cache", () => {
  it("answers a repeated SENTON without opening any file", async () => {
    assert.deepEqual(await untagged("UID SEARCH SENTON 5-Jan-2020"), ["* SEARCH 5"]);
    const original = h.folder.openMessage;
    const direct = h.folder.readSmallMessage;
    let opens = 0;
    h.folder.openMessage = async (uid) => {
      opens++;
      return original.call(h.folder, uid);
    };
    h.folder.readSmallMessage = (uid) => {
      opens++;
      return direct.call(h.folder, uid);
    };
    try {
      assert.deepEqual(await untagged("UID SEARCH SENTON 5-Jan-2020"), ["* SEARCH 5"]);
      assert.deepEqual(await untagged("UID SEARCH SENTBEFORE 2-Jan-2020"), ["* SEARCH 2 4 6"]);
      assert.equal(opens, 0);
    } finally {
      h.folder.openMessage = original;
      h.folder.readSmallMessage = direct;
    }
  });
});

describe("storage failures", () => {
  it("answer NO [SERVERBUG] without details when a file cannot be read", async () => {
    const original = h.folder.openMessage;
    h.folder.openMessage = async () => {
      throw new MailError("temp", "disk on fire");
    };
    // as if the file had been renamed: the direct read gives way to openMessage
    const direct = h.folder.readSmallMessage;
    h.folder.readSmallMessage = () => undefined;
    try {
      const reply = await h.run("SEARCH RETURN (SAVE) BODY text");
      assert.deepEqual(reply.untagged, []);
      assert.equal(
        reply.tagged,
        "NO [SERVERBUG] Internal error occurred. Refer to server log for more information.",
      );
      assert.deepEqual(h.selected.saved, []);
    } finally {
      h.folder.openMessage = original;
      h.folder.readSmallMessage = direct;
    }
  });

  it("treat a file that vanished while searching as expunged", async () => {
    const original = h.folder.openMessage;
    h.folder.openMessage = async (uid) => {
      if (uid === 4) throw new MailError("notFound", "gone");
      return original.call(h.folder, uid);
    };
    // as if the file had been renamed: the direct read gives way to openMessage
    const direct = h.folder.readSmallMessage;
    h.folder.readSmallMessage = () => undefined;
    try {
      const reply = await h.run("UID SEARCH BODY text");
      assert.deepEqual(reply.untagged, ["* SEARCH 2 6"]);
      assert.equal(reply.tagged, "OK [EXPUNGEISSUED] Search completed.");
    } finally {
      h.folder.openMessage = original;
      h.folder.readSmallMessage = direct;
    }
  });
});

describe("messages expunged by another session", () => {
  it("keeps their numbers, never matches their text, and says EXPUNGEISSUED", async () => {
    const other = await FolderSession.open(h.dir);
    await other.store([5], { mode: "add", flags: ["\\Deleted"] });
    await other.expunge({ uids: [5] });
    await h.folder.sync({ announceExpunges: false });
    assert.equal(h.folder.isExpunged(5), true);
    const all = await h.run("UID SEARCH ALL");
    assert.deepEqual(all.untagged, ["* SEARCH 2 4 5 6"]);
    assert.equal(all.tagged, "OK Search completed.");
    const body = await h.run("SEARCH BODY ghostbody");
    assert.deepEqual(body.untagged, ["* SEARCH"]);
    assert.equal(body.tagged, "OK [EXPUNGEISSUED] Search completed.");
    const negated = await h.run("UID SEARCH NOT SUBJECT even");
    assert.deepEqual(negated.untagged, ["* SEARCH 5"]);
  });
});
