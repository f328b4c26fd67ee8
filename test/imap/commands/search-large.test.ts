/*
 * SEARCH on a 10,000-message folder: keys the index answers open no message file, and text
 * keys open only the messages the cheap keys left.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Harness, harness } from "./search-harness.js";

const COUNT = 10_000;
let h: Harness;
let opens: number[] = [];

before(async () => {
  const root = join(mkdtempSync(join(tmpdir(), "postern-search-large-")), "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
  for (let i = 1; i <= COUNT; i++) {
    const flags = i % 100 === 0 ? "FS" : "S";
    const text = `Subject: message ${i}\nFrom: sender${i % 7}@example.org\n\nbody of message ${i}\n`;
    // ",W=" carries the CRLF size, so opening the folder needs no read of each file
    const crlf = text.length + text.split("\n").length - 1;
    writeFileSync(join(root, "cur", `${1700000000 + i}.M${i}P1Q1.host,W=${crlf}:2,${flags}`), text);
  }
  h = await harness([], root);
  const original = h.folder.openMessage;
  h.folder.openMessage = async (uid) => {
    opens.push(uid);
    return original.call(h.folder, uid);
  };
  // the direct read keeps the last message: a file is read again only for another UID
  const direct = h.folder.readSmallMessage;
  let held: number | undefined;
  h.folder.readSmallMessage = (uid) => {
    if (uid !== held) opens.push(uid);
    held = uid;
    return direct.call(h.folder, uid);
  };
});
after(() => h.close());

describe("a 10,000-message folder", () => {
  it("answers flag, size, date, sequence and UID keys without opening a file", async () => {
    opens = [];
    const reply = await h.run("SEARCH FLAGGED SEEN LARGER 10 SINCE 1-Jan-1970 1:* UID 1:* NOT DELETED");
    assert.equal(reply.untagged[0]?.split(" ").length, 2 + COUNT / 100);
    assert.equal(reply.tagged, "OK Search completed.");
    assert.deepEqual(opens, []);
  });

  it("opens only the messages the cheap keys leave for a text key", async () => {
    opens = [];
    const reply = await h.run("UID SEARCH FLAGGED BODY 9900");
    assert.deepEqual(reply.untagged, ["* SEARCH 9900"]);
    // each flagged message once: a small file is read whole, structure and parts from memory
    assert.equal(opens.length, COUNT / 100);
  });

  it("reads only the header when the header decides", async () => {
    opens = [];
    const reply = await h.run("UID SEARCH FLAGGED SUBJECT 5000");
    assert.deepEqual(reply.untagged, ["* SEARCH 5000"]);
    assert.equal(opens.length, COUNT / 100);
  });
});
