import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { appendMessage } from "../../../lib/mailbox/transfer.js";
import { EngineHarness } from "./harness.js";

const MSG = (n: number) => Buffer.from(`From: a@example.org\r\nSubject: m${n}\r\n\r\nbody ${n}\r\n`);

describe("IMAP mail engine", () => {
  let h: EngineHarness;
  before(async () => {
    h = await EngineHarness.create();
    await h.engine.start("a1", Buffer.from("a2 NOOP\r\n"));
  });
  after(() => h.destroy());

  it("answers the login tag with capabilities, then runs pipelined commands", async () => {
    const out = await h.take();
    assert.match(out, /^a1 OK \[CAPABILITY IMAP4rev1 .*\] Logged in\r\na2 OK NOOP completed\.\r\n$/);
  });

  it("creates the special-use folders on first login", async () => {
    const out = await h.send('l1 LIST "" "*"');
    for (const name of ["INBOX", "Drafts", "Sent", "Trash", "Junk"])
      assert.match(out, new RegExp(`LIST \\(.*\\) "/" ${name}\\r\\n`));
    assert.match(out, /\\Trash\) "\/" Trash/);
  });

  it('answers LIST "" "" with the delimiter', async () => {
    assert.equal(await h.send('l2 LIST "" ""'), '* LIST (\\Noselect) "/" ""\r\nl2 OK List completed.\r\n');
  });

  it("refuses selected-state commands without a mailbox", async () => {
    assert.equal(await h.send("c1 EXPUNGE"), "c1 BAD No mailbox selected.\r\n");
  });

  it("SELECTs INBOX with every untagged datum", async () => {
    await appendMessage(h.root, MSG(1));
    await appendMessage(h.root, MSG(2), { flags: ["\\Seen"] });
    const out = await h.send("s1 SELECT inbox");
    assert.match(out, /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft\)\r\n/);
    assert.match(
      out,
      /\* OK \[PERMANENTFLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\\*\)\] Flags permitted\.\r\n/,
    );
    assert.match(out, /\* 2 EXISTS\r\n\* 2 RECENT\r\n\* OK \[UNSEEN 1\] First unseen\.\r\n/);
    assert.match(out, /\* OK \[UIDVALIDITY \d+\] UIDs valid\r\n\* OK \[UIDNEXT 3\] Predicted next UID\r\n/);
    assert.match(out, /\* OK \[HIGHESTMODSEQ \d+\] Highest\r\ns1 OK \[READ-WRITE\] Select completed\.\r\n$/);
  });

  it("STORE reports every named message, changed or not; .SILENT reports none", async () => {
    const out = await h.send("t1 STORE 1:2 +FLAGS (\\Seen)");
    assert.match(
      out,
      /^\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\)\)\r\n\* 2 FETCH \(UID 2 FLAGS \(\\Seen \\Recent\)\)\r\nt1 OK Store completed\.\r\n$/,
    );
    assert.equal(await h.send("t2 STORE 1 -FLAGS.SILENT (\\Seen)"), "t2 OK Store completed.\r\n");
    assert.match(await h.send("t3 STORE 1 FLAGS (\\sEEN)"), /\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\)\)/);
    assert.match(await h.send("t4 STORE 1 +FLAGS (\\Recent)"), /^t4 BAD /);
    assert.match(await h.send("t5 STORE 9 +FLAGS (\\Seen)"), /^t5 BAD .*Invalid messageset/);
  });

  it("a second session sees flag changes and new mail; EXPUNGE waits outside FETCH/STORE/SEARCH", async () => {
    const other = await h.second();
    assert.match(await other.send("x0 SELECT INBOX"), /\* 2 EXISTS/);
    await h.send("x1 STORE 2 +FLAGS.SILENT (\\Flagged)");
    assert.match(await other.send("x2 NOOP"), /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Seen\)\)\r\nx2 OK/);
    await appendMessage(h.root, MSG(3));
    assert.match(await other.send("x3 NOOP"), /^\* 3 EXISTS\r\n\* 1 RECENT\r\nx3 OK/);
    await h.send("x4 STORE 1 +FLAGS.SILENT (\\Deleted)");
    assert.match(await h.send("x5 EXPUNGE"), /^\* 1 EXPUNGE\r\n(\* 2 EXISTS\r\n)?.*x5 OK Expunge completed/s);
    const duringStore = await other.send("x6 STORE 2 +FLAGS (\\Answered)");
    assert.doesNotMatch(duringStore, /EXPUNGE/);
    assert.match(await other.send("x7 NOOP"), /^\* 1 EXPUNGE\r\n/);
  });

  it("COPY and MOVE answer COPYUID; a missing destination is TRYCREATE", async () => {
    assert.match(await h.send("m1 COPY 1 Nope"), /m1 NO \[TRYCREATE\]/);
    assert.match(await h.send("m2 COPY 1:* Trash"), /^m2 OK \[COPYUID \d+ 2:3 1:2\] Copy completed\.\r\n$/);
    const out = await h.send("m3 UID MOVE 3 Junk");
    assert.match(
      out,
      /^\* OK \[COPYUID \d+ 3 1\] Moved UIDs\.\r\n\* 2 EXPUNGE\r\nm3 OK Move completed\.\r\n$/,
    );
  });

  it("APPEND answers APPENDUID, with synchronizing and non-synchronizing literals", async () => {
    const body = "Subject: hi\r\n\r\nhello\r\n";
    h.engine.push(Buffer.from(`p1 APPEND Drafts (\\Draft) {${body.length}}\r\n`));
    assert.equal(await h.take(), "+ Ready for literal data.\r\n");
    assert.match(await h.send(`${body}\r\n`), /^p1 OK \[APPENDUID \d+ 1\] Append completed\.\r\n$/);
    assert.match(
      await h.send(`p2 APPEND Drafts {${body.length}+}\r\n${body}\r\n`),
      /^p2 OK \[APPENDUID \d+ 2\]/,
    );
    assert.match(await h.send(`p3 APPEND Nowhere {${body.length}+}\r\n${body}\r\n`), /^p3 NO \[TRYCREATE\]/);
    assert.match(
      await h.send("p4 STATUS Drafts (MESSAGES UIDNEXT UNSEEN)"),
      /^\* STATUS Drafts \(MESSAGES 2 UIDNEXT 3 UNSEEN 2\)\r\np4 OK/,
    );
  });

  it("CREATE, RENAME, DELETE and LSUB keep to RFC 3501's rules", async () => {
    assert.match(await h.send("f1 CREATE Lists/debian/"), /^f1 OK/);
    assert.match(await h.send('f2 LIST "" "Lists/%"'), /LIST \(\\HasNoChildren\) "\/" Lists\/debian/);
    assert.match(await h.send('f3 LIST "" "%"'), /LIST \(\\HasChildren \\Noselect\) "\/" Lists/);
    assert.match(await h.send("f4 CREATE INBOX"), /^f4 NO \[ALREADYEXISTS\]/);
    assert.match(await h.send("f5 DELETE INBOX"), /^f5 NO/);
    assert.match(await h.send("f6 RENAME Lists/debian Lists/deb"), /^f6 OK/);
    assert.match(await h.send("f7 SUBSCRIBE Lists/deb"), /^f7 OK/);
    assert.match(await h.send('f8 LSUB "" "%"'), /\* LSUB \(\\Noselect\) "\/" Lists\r\n/);
    assert.match(await h.send("f9 CREATE ../../etc"), /^f9 NO \[CANNOT\]/);
    assert.match(await h.send('f10 CREATE "a\\\\b"'), /^f10 OK/);
  });

  it("LIST (SUBSCRIBED RECURSIVEMATCH) shows unsubscribed parents of subscriptions with CHILDINFO", async () => {
    assert.match(await h.send("g1 CREATE Work/Projects"), /^g1 OK/);
    assert.match(await h.send("g2 SUBSCRIBE Work/Projects"), /^g2 OK/);
    const out = await h.send('g3 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"');
    assert.match(out, /\* LIST \(\\HasChildren \\Noselect\) "\/" Work \("CHILDINFO" \("SUBSCRIBED"\)\)\r\n/);
    assert.doesNotMatch(out, /Work\/Projects/);
    const plain = await h.send('g4 LIST (SUBSCRIBED) "" "*"');
    assert.match(plain, /\* LIST \(\\HasNoChildren \\Subscribed\) "\/" Work\/Projects\r\n/);
    assert.doesNotMatch(plain, /CHILDINFO/);
  });

  it("IDLE reports new mail at once and ends with DONE", async () => {
    await h.send("i0 SELECT INBOX");
    h.engine.push(Buffer.from("i1 IDLE\r\n"));
    assert.equal(await h.take(), "+ idling\r\n");
    await appendMessage(h.root, MSG(4));
    let seen = "";
    for (let i = 0; i < 100 && !seen.includes("EXISTS"); i++) {
      await new Promise((r) => setTimeout(r, 20));
      seen += await h.take();
    }
    assert.match(seen, /\* \d+ EXISTS/);
    assert.equal(await h.send("DONE"), "i1 OK Idle completed.\r\n");
  });

  it("SELECT again sees what another session changed; a missing mailbox is NONEXISTENT", async () => {
    const first = await h.send("r1 SELECT INBOX");
    const exists = Number(/\* (\d+) EXISTS/.exec(first)?.[1]);
    assert.equal(
      await h.send("r2 SELECT INBOX"),
      first.replace(/r1 /g, "r2 ").replace(/\* \d+ RECENT/, "* 0 RECENT"),
    );
    const other = await h.second();
    await other.send("r3 SELECT INBOX");
    await other.send("r4 STORE 1:* +FLAGS.SILENT (\\Seen)");
    await appendMessage(h.root, MSG(9));
    const again = await h.send("r5 SELECT INBOX");
    assert.match(
      again,
      new RegExp(`\\* ${exists + 1} EXISTS\r\n\\* 1 RECENT\r\n\\* OK \\[UNSEEN ${exists + 1}\\]`),
    );
    assert.equal(
      await h.send("r6 SELECT Nowhere"),
      "* OK [CLOSED] Previous mailbox closed.\r\nr6 NO [NONEXISTENT] Mailbox doesn't exist: Nowhere\r\n",
    );
    assert.equal(await h.send("r7 FETCH 1 FLAGS"), "r7 BAD No mailbox selected.\r\n");
    assert.equal(await h.send("r8 NOOP"), "r8 OK NOOP completed.\r\n");
  });

  it("SELECT and EXAMINE of an unchanged folder answer the same bytes; another session's changes show at once", async () => {
    await h.send("k0 SELECT INBOX"); // every SELECT below closes a selected mailbox first
    const first = await h.send("k1 SELECT INBOX");
    const examine = await h.send("k2 EXAMINE INBOX");
    assert.match(examine, /\* OK \[PERMANENTFLAGS \(\)\] Read-only mailbox\.\r\n/);
    assert.match(examine, /k2 OK \[READ-ONLY\] Examine completed\.\r\n$/);
    assert.equal(await h.send("k3 SELECT INBOX"), first.replace(/k1 /g, "k3 "));
    assert.equal(await h.send("k4 EXAMINE INBOX"), examine.replace(/k2 /g, "k4 "));
    const other = await h.second();
    await other.send("k5 SELECT INBOX");
    await other.send("k6 STORE 1 +FLAGS.SILENT (Pending)");
    await other.send("k7 STORE 1:* -FLAGS.SILENT (\\Seen)");
    const changed = await h.send("k8 SELECT INBOX");
    assert.match(
      changed,
      /^\* OK \[CLOSED\] Previous mailbox closed\.\r\n\* FLAGS \(.*\\Draft Pending\)\r\n/,
    );
    assert.match(changed, /\[PERMANENTFLAGS \(.*\\Draft Pending \\\*\)\]/);
    assert.match(changed, /\* OK \[UNSEEN 1\] First unseen\.\r\n/);
    assert.notEqual(changed.replace(/k8 /g, "k1 "), first);
    assert.match(
      await h.send("k9 EXAMINE INBOX"),
      /\* FLAGS \(.*\\Draft Pending\)\r\n\* OK \[PERMANENTFLAGS \(\)\]/,
    );
  });

  it("answers malformed commands with BAD and ends after too many", async () => {
    assert.match(await h.send("b1 FROB"), /^b1 BAD/);
    assert.match(await h.send("nonsense"), /^\* BAD|^nonsense BAD/);
    await h.send("b3 FETCH");
    await h.send("b4 SELECT");
    const out = await h.send("b5 BOGUS");
    assert.match(out, /\* BYE Too many invalid IMAP commands\./);
    assert.equal(h.ended, true);
  });
});
