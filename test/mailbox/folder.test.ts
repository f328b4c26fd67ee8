/*
 * Folder sessions on real Maildirs: UIDs, flags and keywords in file names, \Recent,
 * MODSEQ, two sessions seeing each other's changes, external changes, APPEND/COPY/MOVE UID
 * maps, STATUS, index repair, and a large folder reopened without per-message fs calls.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { compareArrival } from "../../lib/mailbox/arrival.js";
import { MailError } from "../../lib/mailbox/errors.js";
import { formatInfo, parseInfo } from "../../lib/mailbox/flags.js";
import { FolderSession } from "../../lib/mailbox/folder.js";
import { MaildirStore } from "../../lib/mailbox/maildir.js";
import { countingStoreFs } from "../../lib/mailbox/store-fs.js";
import { appendMessage, copyMessages, folderStatus, moveMessages } from "../../lib/mailbox/transfer.js";

const dirs: string[] = [];
function tempMaildir(): string {
  const d = mkdtempSync(join(tmpdir(), "postern-folder-"));
  dirs.push(d);
  const root = join(d, "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
  return root;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function deliver(root: string, name: string, text = "Subject: x\n\nbody\n"): void {
  writeFileSync(join(root, "new", name), text);
}

describe("flags in file names", () => {
  const keywords = ["$Junk", "work"];
  const table: [string, string[]][] = [
    ["2,", []],
    ["2,S", ["\\Seen"]],
    ["2,DFPRST", ["$Forwarded", "\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen"]],
    ["2,Sab", ["$Junk", "\\Seen", "work"]],
  ];
  for (const [info, flags] of table)
    it(`reads ${info} as ${flags.join(" ") || "no flags"} and writes it back`, () => {
      assert.deepEqual(parseInfo(info, keywords).flags, flags);
      assert.equal(formatInfo(flags, keywords), info);
    });
  it("keeps letters it does not understand", () => {
    const parsed = parseInfo("2,SXz", keywords);
    assert.deepEqual(parsed, { flags: ["\\Seen"], foreign: "Xz" });
    assert.equal(formatInfo([...parsed.flags, "\\Flagged"], keywords, parsed.foreign), "2,FSXz");
  });
});

describe("FolderSession", () => {
  it("numbers new mail in arrival order, as Dovecot does: the microseconds have no leading zeros", async () => {
    const root = tempMaildir();
    const names = [
      "999999999.M5P1Q1.host",
      "1700000000.M95000P1Q2.host",
      "1700000000.M105000P1Q3.host",
      "1700000000.M105000P1Q4.host",
      "1700000001.M7P1Q5.host",
      "courier-style-name",
    ];
    for (const n of [...names].reverse()) deliver(root, n);
    const s = await FolderSession.open(root);
    assert.deepEqual(
      s.messages.map((m) => [m.uid, m.base]),
      names.map((n, i) => [i + 1, n]),
    );
    assert.deepEqual([...names].reverse().sort(compareArrival), names);
  });

  it("numbers messages, claims \\Recent once, and stores flags and keywords in file names", async () => {
    const root = tempMaildir();
    deliver(root, "1000.M1P1Q1.host,S=20");
    deliver(root, "1001.M1P1Q2.host");
    const a = await FolderSession.open(root);
    const b = await FolderSession.open(root);
    const ro = await FolderSession.open(root, { readOnly: true });
    assert.deepEqual(
      a.messages.map((m) => m.uid),
      [1, 2],
    );
    assert.equal(a.recentCount, 2);
    assert.equal(b.recentCount, 0);
    assert.equal(ro.recentCount, 0);
    const before = a.highestModseq;
    assert.deepEqual(await a.store([1], { mode: "add", flags: ["\\Seen", "project"] }), { failed: [] });
    assert.deepEqual(readdirSync(join(root, "cur")).sort(), [
      "1000.M1P1Q1.host,S=20:2,Sa",
      "1001.M1P1Q2.host:2,",
    ]);
    assert.equal(readFileSync(join(root, "dovecot-keywords"), "utf8"), "0 project\n");
    const seen = await b.sync();
    assert.deepEqual(
      seen.flagged.map((m) => [m.uid, m.flags]),
      [[1, ["\\Seen", "project"]]],
    );
    assert.ok((b.byUid(1)?.modseq ?? 0) > before && b.highestModseq > before);
    await assert.rejects(ro.store([1], { mode: "add", flags: ["\\Deleted"] }), MailError);
  });

  it("refuses changes UNCHANGEDSINCE an older modseq and leaves unchanged flags alone", async () => {
    const root = tempMaildir();
    deliver(root, "1.a");
    deliver(root, "2.b");
    const s = await FolderSession.open(root);
    const old = s.highestModseq;
    await s.store([1], { mode: "add", flags: ["\\Flagged"] });
    await s.sync();
    const m1 = s.byUid(1)?.modseq;
    assert.deepEqual(await s.store([1, 2], { mode: "add", flags: ["\\Seen"], unchangedSince: old }), {
      failed: [1],
    });
    await s.store([2], { mode: "add", flags: ["\\Seen"] }); // already set: no new modseq
    const ch = await s.sync();
    assert.deepEqual(
      ch.flagged.map((m) => m.uid),
      [2],
    );
    assert.equal(s.byUid(1)?.modseq, m1);
    await s.store([2], { mode: "replace", flags: [] });
    await s.sync();
    assert.deepEqual(s.byUid(2)?.flags, []);
  });

  it("reports deliveries, external renames and deletions to another session", async () => {
    const root = tempMaildir();
    for (const n of ["1.a", "2.b", "3.c"]) deliver(root, n);
    const s = await FolderSession.open(root);
    unlinkSync(join(root, "cur", "2.b:2,"));
    renameSync(join(root, "cur", "3.c:2,"), join(root, "cur", "3.c:2,RS")); // mutt replied
    deliver(root, "4.d");
    const ch = await s.sync();
    assert.deepEqual(ch.expunged, [2]);
    assert.deepEqual(ch.expungedSeqs, [2]);
    assert.deepEqual(ch.added, [4]);
    assert.deepEqual(
      ch.flagged.map((m) => [m.uid, m.flags]),
      [[3, ["\\Answered", "\\Seen"]]],
    );
    assert.deepEqual(
      s.messages.map((m) => m.uid),
      [1, 3, 4],
    );
    assert.ok(s.isRecent(4));
    const again = await FolderSession.open(root);
    assert.deepEqual(
      again.messages.map((m) => m.uid),
      [1, 3, 4],
    );
    assert.equal(again.uidValidity, s.uidValidity);
  });

  it("keeps expunged messages as ghosts, numbers unchanged, until expunges may be announced", async () => {
    const root = tempMaildir();
    for (const n of ["1.a", "2.b", "3.c"]) deliver(root, n);
    const s = await FolderSession.open(root);
    unlinkSync(join(root, "cur", "2.b:2,"));
    deliver(root, "4.d");
    const quiet = await s.sync({ announceExpunges: false });
    assert.deepEqual(quiet.expungedSeqs, []);
    assert.deepEqual(quiet.added, [4]);
    assert.deepEqual(
      s.messages.map((m) => m.uid),
      [1, 2, 3, 4],
    );
    assert.equal(s.isExpunged(2), true);
    assert.equal(s.seqOf(3), 3);
    const loud = await s.sync();
    assert.deepEqual(loud.expungedSeqs, [2]);
    assert.equal(s.isExpunged(2), false);
    assert.deepEqual(
      s.messages.map((m) => m.uid),
      [1, 3, 4],
    );
  });

  it("expunges \\Deleted messages, optionally only those in a UID set, and POP3 agrees on UIDs", async () => {
    const root = tempMaildir();
    for (const n of ["1.a", "2.b", "3.c"]) deliver(root, n);
    const s = await FolderSession.open(root);
    await s.store([1, 2, 3], { mode: "add", flags: ["\\Deleted"] });
    assert.deepEqual(await s.expunge({ uids: [2] }), [2]);
    const ch = await s.sync();
    assert.deepEqual(ch.expungedSeqs, [2]);
    assert.deepEqual(await s.expunge(), [1, 3]);
    assert.deepEqual((await s.sync()).expungedSeqs, [2, 1]);
    deliver(root, "4.d");
    const pop = await (await MaildirStore.open(root)).sync();
    assert.deepEqual(
      pop.messages.map((m) => m.uid),
      [4],
    );
  });

  it("appends with flags and INTERNALDATE, copies and moves with UID maps", async () => {
    const inbox = tempMaildir();
    const dest = join(inbox, ".Archive");
    const date = new Date("2020-01-02T03:04:05Z");
    const first = await appendMessage(inbox, Buffer.from("Subject: a\r\n\r\nx\n"), {
      flags: ["\\Seen", "$Label1"],
      internalDate: date,
    });
    const second = await appendMessage(inbox, Buffer.from("Subject: b\n\ny\n"));
    assert.deepEqual([first.uid, second.uid], [1, 2]);
    const s = await FolderSession.open(inbox);
    const m = s.byUid(1);
    assert.deepEqual(
      [m?.flags, m?.internalDate.toISOString(), m?.size, m?.crlfSize],
      [["$Label1", "\\Seen"], date.toISOString(), 16, 17],
    );
    const chunks: Buffer[] = [];
    for await (const c of await s.openMessage(2)) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "Subject: b\n\ny\n");
    const copied = await copyMessages(s, [2, 1, 99], dest);
    assert.deepEqual(copied.map, [
      { from: 1, to: 1 },
      { from: 2, to: 2 },
    ]);
    const d = await FolderSession.open(dest);
    assert.deepEqual(d.byUid(1)?.flags, ["$Label1", "\\Seen"]);
    assert.equal(d.byUid(1)?.internalDate.toISOString(), date.toISOString());
    const moved = await moveMessages(s, [2], dest);
    assert.deepEqual(moved.map, [{ from: 2, to: 3 }]);
    assert.deepEqual((await s.sync()).expunged, [2]);
    const st = await folderStatus(dest);
    assert.deepEqual([st.messages, st.uidNext, st.unseen, st.recent, st.size], [3, 4, 2, 1, 17 * 3]);
  });

  it("rebuilds a truncated or garbage index from the directories", async () => {
    const root = tempMaildir();
    deliver(root, "1.a");
    writeFileSync(join(root, "cur", "2.b:2,F"), "z\n");
    await FolderSession.open(root);
    for (const junk of ["", "3 V", "\u0000\u0001garbage\n1 :x"]) {
      writeFileSync(join(root, "postern-uidlist"), junk);
      const s = await FolderSession.open(root);
      assert.equal(s.messages.length, 2);
      assert.deepEqual(
        s.messages.map((m) => m.flags),
        [[], ["\\Flagged"]],
      );
    }
  });

  it("reopens a 10,000-message folder without listing or stat()ing its messages", async () => {
    const root = tempMaildir();
    writeFileSync(join(root, "tmp", "one"), "x\n"); // hard links: 10,000 files made quickly
    for (let i = 0; i < 10_000; i++)
      linkSync(join(root, "tmp", "one"), join(root, "cur", `${1_600_000_000 + i}.M${i}P1.host,S=2,W=3:2,S`));
    const past = new Date(Date.now() - 60_000);
    for (const sub of ["cur", "new"]) utimesSync(join(root, sub), past, past);
    const first = countingStoreFs();
    await FolderSession.open(root, { fs: first });
    assert.ok(first.calls.stat >= 10_000);
    const second = countingStoreFs();
    const s = await FolderSession.open(root, { fs: second });
    assert.equal(s.messages.length, 10_000);
    assert.deepEqual(second.calls, { readdir: 0, stat: 4 }); // index base and log, cur/, new/
    deliver(root, "1700000000.M1P2.host"); // a delivery: new/ changes, only new files are stat()ed
    const third = countingStoreFs();
    await FolderSession.open(root, { fs: third });
    assert.ok(third.calls.stat < 10, `stat calls: ${third.calls.stat}`);
  });
});

describe("FolderCache and watch", () => {
  it("keeps cached strings across instances and skips torn lines and other UIDVALIDITYs", async () => {
    const { FolderCache } = await import("../../lib/mailbox/cache.js");
    const root = tempMaildir();
    await new FolderCache(root, 5).set(1, "envelope", '("x" NIL)\n');
    writeFileSync(
      join(root, "postern-cache"),
      `${readFileSync(join(root, "postern-cache"), "utf8")}4 1 envelope "old"\n5 2 body "torn`,
    );
    const c = new FolderCache(root, 5);
    assert.equal(await c.get(1, "envelope"), '("x" NIL)\n');
    assert.equal(await c.get(2, "body"), undefined);
  });

  it("shares entries between instances and reads only lines appended since (by anyone)", async () => {
    const { FolderCache } = await import("../../lib/mailbox/cache.js");
    const root = tempMaildir();
    const first = new FolderCache(root, 7);
    await first.set(1, "envelope", "one");
    appendFileSync(join(root, "postern-cache"), '7 2 envelope "two"\n7 3 envelope "torn');
    const second = new FolderCache(root, 7);
    assert.equal(await second.get(1, "envelope"), "one");
    assert.equal(await second.get(2, "envelope"), "two");
    assert.equal(await second.get(3, "envelope"), undefined);
    appendFileSync(join(root, "postern-cache"), '"\n');
    assert.equal(await new FolderCache(root, 7).get(3, "envelope"), "torn");
    writeFileSync(join(root, "postern-cache.new"), '7 4 envelope "four"\n');
    renameSync(join(root, "postern-cache.new"), join(root, "postern-cache")); // replaced: read afresh
    const third = new FolderCache(root, 7);
    assert.equal(await third.get(4, "envelope"), "four");
    assert.equal(await third.get(2, "envelope"), undefined);
  });

  it("reads a big cache file a chunk at a time and keeps values of any size, UTF-8 included", async () => {
    const { FolderCache } = await import("../../lib/mailbox/cache.js");
    const root = tempMaildir();
    const huge = "\u00e9x".repeat(700_000); // a line longer than a read chunk and a slab
    const lines: string[] = [];
    for (let uid = 1; uid <= 30_000; uid++)
      lines.push(`3 ${uid} envelope ${JSON.stringify(`v${uid} \u2603`)}\n`);
    lines.splice(15_000, 0, `3 99999 body ${JSON.stringify(huge)}\n`);
    writeFileSync(join(root, "postern-cache"), `${lines.join("")}3 40000 envelope "torn`);
    const cache = new FolderCache(root, 3);
    assert.equal(await cache.get(1, "envelope"), "v1 \u2603");
    assert.equal(await cache.get(30_000, "envelope"), "v30000 \u2603");
    assert.equal(cache.peek(99999, "body"), huge);
    assert.equal(cache.peek(40000, "envelope"), undefined);
    appendFileSync(join(root, "postern-cache"), '"\n');
    assert.equal(await new FolderCache(root, 3).get(40000, "envelope"), "torn");
    await cache.set(5, "body", huge);
    await cache.set(6, "body", "after");
    assert.equal(cache.peek(5, "body"), huge);
    assert.equal(cache.peek(6, "body"), "after");
    assert.equal(await new FolderCache(root, 3).get(5, "body"), huge);
  });

  it("writes the values set, and reports a failed write to onError", async () => {
    const { FolderCache } = await import("../../lib/mailbox/cache.js");
    const root = tempMaildir();
    const cache = new FolderCache(root, 9);
    await Promise.all([1, 2, 3].map((uid) => cache.set(uid, "envelope", `v${uid}`)));
    assert.deepEqual(readFileSync(join(root, "postern-cache"), "utf8").split("\n").sort(), [
      "",
      '9 1 envelope "v1"',
      '9 2 envelope "v2"',
      '9 3 envelope "v3"',
    ]);
    mkdirSync(join(root, "postern-cache.d"));
    const blocked = new FolderCache(join(root, "postern-cache.d", "missing"), 9);
    const errors: unknown[] = [];
    await blocked.set(1, "envelope", "x", (err) => errors.push(err));
    await blocked.set(1, "bad key", "x", (err) => errors.push(err));
    assert.equal(errors.length, 2);
    await assert.rejects(blocked.set(2, "envelope", "y"));
  });

  it("calls back when local delivery drops a file into new/", async () => {
    const root = tempMaildir();
    const s = await FolderSession.open(root);
    const woke = new Promise<void>((resolve) => {
      const stop = s.watch(() => {
        stop();
        resolve();
      });
    });
    const keepAlive = setTimeout(() => undefined, 5000); // the watcher itself does not hold the loop open
    deliver(root, "9.z");
    await woke;
    clearTimeout(keepAlive);
    assert.deepEqual((await s.sync()).added, [1]);
  });
});
