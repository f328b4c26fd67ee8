/*
 * The sync shortcut for postern's own changes (sync.ts, dir-stamps.ts): a STORE or EXPUNGE
 * records cur/'s new mtime in the index, so other sessions catch up from the index log
 * without reading cur/; yet a change another program makes in cur/ at the same time is
 * still found: at once when it moves the mtime, within MAILDIR_SYNC_MS when a clock tick
 * hid it.
 */
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MAILDIR_SYNC_MS, stampsTrusted } from "../../lib/mailbox/dir-stamps.js";
import { FolderSession } from "../../lib/mailbox/folder.js";
import { MaildirStore } from "../../lib/mailbox/maildir.js";
import { countingStoreFs } from "../../lib/mailbox/store-fs.js";
import { appendMessage, copyMessages } from "../../lib/mailbox/transfer.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A Maildir with `count` messages in cur/ whose directories were last changed a minute ago. */
function quietMaildir(count: number): string {
  const d = mkdtempSync(join(tmpdir(), "postern-credit-"));
  dirs.push(d);
  const root = join(d, "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
  for (let i = 1; i <= count; i++)
    writeFileSync(join(root, "cur", `${1_700_000_000 + i}.M${i}P1.host:2,`), `Subject: ${i}\n\nx\n`);
  const past = new Date(Date.now() - 60_000);
  for (const sub of ["cur", "new"]) utimesSync(join(root, sub), past, past);
  return root;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("sync after postern's own changes", () => {
  it("lets another session see a STORE and an EXPUNGE without reading cur/", async () => {
    const root = quietMaildir(20);
    const a = await FolderSession.open(root);
    const counting = countingStoreFs();
    const b = await FolderSession.open(root, { fs: counting });
    const started = Date.now();
    await a.store([3], { mode: "add", flags: ["\\Seen", "\\Deleted"] });
    const ch = await b.sync();
    assert.deepEqual(
      ch.flagged.map((m) => [m.uid, m.flags]),
      [[3, ["\\Deleted", "\\Seen"]]],
    );
    assert.deepEqual(await a.expunge(), [3]);
    const gone = await b.sync();
    assert.deepEqual(gone.expunged, [3]);
    assert.equal(b.messages.length, 19);
    // Within a second of the scan the credited state is trusted: no directory was read.
    if (Date.now() - started < MAILDIR_SYNC_MS / 2) assert.equal(counting.calls.readdir, 0);
    const pop3 = await (await MaildirStore.open(root)).sync();
    assert.deepEqual(
      pop3.messages.map((m) => m.uid),
      b.messages.map((m) => m.uid),
    );
  });

  it("credits a STORE after a quiet spell too: the folder is not read again for it", async () => {
    const root = quietMaildir(8);
    const a = await FolderSession.open(root);
    const counting = countingStoreFs();
    const b = await FolderSession.open(root, { fs: counting });
    await sleep(MAILDIR_SYNC_MS + 100); // the scan's state is clean and old
    const started = Date.now();
    await a.store([2], { mode: "add", flags: ["\\Flagged"] });
    const ch = await b.sync();
    assert.deepEqual(
      ch.flagged.map((m) => m.uid),
      [2],
    );
    if (Date.now() - started < MAILDIR_SYNC_MS / 2) assert.equal(counting.calls.readdir, 0);
  });

  it("records an APPEND in the index itself: no session reads cur/ to find it", async () => {
    const root = quietMaildir(20);
    const counting = countingStoreFs();
    const a = await FolderSession.open(root, { fs: counting });
    const when = new Date("2026-11-22T10:00:00Z");
    const saved = await appendMessage(root, Buffer.from("Subject: new\nX: y\n\nbody\n"), {
      fs: counting,
      flags: ["\\Seen", "$Work"],
      internalDate: when,
    });
    assert.equal(saved.uid, 21);
    const ch = await a.sync();
    assert.deepEqual(ch.added, [21]);
    assert.equal(counting.calls.readdir, 2, "only the first open lists new/ and cur/");
    const m = a.byUid(21);
    assert.deepEqual(m?.flags, ["$Work", "\\Seen"]);
    assert.equal(m?.size, 24);
    assert.equal(m?.crlfSize, 28);
    assert.equal(m?.internalDate.getTime(), when.getTime());
    // the index says what a full scan of the directories says
    const fresh = await FolderSession.open(root);
    assert.deepEqual(
      fresh.messages.map((x) => [x.uid, x.file, x.size, x.crlfSize, x.internalDate.getTime()]),
      a.messages.map((x) => [x.uid, x.file, x.size, x.crlfSize, x.internalDate.getTime()]),
    );
    assert.equal(statSync(join(root, "cur", m?.file ?? "")).mtimeMs, when.getTime());
  });

  it("records a COPY in the index itself: the destination's cur/ is not read to find the copies", async () => {
    const src = quietMaildir(5);
    const dest = quietMaildir(3);
    const s = await FolderSession.open(src);
    await s.store([4], { mode: "add", flags: ["\\Flagged", "$Work"] });
    await s.sync();
    const counting = countingStoreFs();
    const d = await FolderSession.open(dest, { fs: counting });
    const copied = await copyMessages(s, [4, 2], dest, { fs: counting });
    assert.deepEqual(copied.map, [
      { from: 2, to: 4 },
      { from: 4, to: 5 },
    ]);
    const ch = await d.sync();
    assert.deepEqual(ch.added, [4, 5]);
    assert.equal(counting.calls.readdir, 2, "only the first open lists new/ and cur/");
    assert.deepEqual(d.byUid(5)?.flags, ["$Work", "\\Flagged"]);
    for (const [to, from] of [
      [4, 2],
      [5, 4],
    ] as const) {
      const m = d.byUid(to);
      const orig = s.byUid(from);
      assert.ok(m !== undefined && orig !== undefined);
      assert.deepEqual(
        [m.size, m.crlfSize, m.internalDate.getTime()],
        [orig.size, orig.crlfSize, orig.internalDate.getTime()],
      );
      const st = statSync(join(dest, "cur", m.file));
      assert.equal(st.size, m.size);
      assert.equal(Math.floor(st.mtimeMs / 1000) * 1000, m.internalDate.getTime());
    }
  });

  it("records POP3 deletions under the lock, so IMAP sessions see them at once", async () => {
    const root = quietMaildir(6);
    const imap = await FolderSession.open(root);
    const store = await MaildirStore.open(root);
    const snap = await store.sync();
    assert.equal(await store.expunge(snap.messages.slice(1, 3)), 2);
    const ch = await imap.sync();
    assert.deepEqual(ch.expunged, [2, 3]);
    assert.deepEqual(
      (await store.sync()).messages.map((m) => m.uid),
      [1, 4, 5, 6],
    );
  });

  for (const [what, change] of [
    [
      "renamed",
      (root: string) =>
        renameSync(
          join(root, "cur", "1700000005.M5P1.host:2,"),
          join(root, "cur", "1700000005.M5P1.host:2,F"),
        ),
    ],
    [
      "added",
      (root: string) => writeFileSync(join(root, "cur", "1800000000.M1P9.other:2,S"), "Subject: new\n\nx\n"),
    ],
    ["removed", (root: string) => unlinkSync(join(root, "cur", "1700000005.M5P1.host:2,"))],
  ] as const)
    it(`sees a file ${what} in cur/ by another program right after a STORE, at the next sync`, async () => {
      const root = quietMaildir(10);
      const a = await FolderSession.open(root);
      const b = await FolderSession.open(root);
      await a.store([1], { mode: "add", flags: ["\\Seen"] });
      change(root); // the same second as the STORE's rename (the mtime moves on by a tick at least)
      for (const s of [a, b]) {
        const ch = await s.sync();
        if (what === "renamed")
          assert.deepEqual(ch.flagged.map((m) => [m.uid, m.flags]).pop(), [5, ["\\Flagged"]]);
        if (what === "added") assert.deepEqual(ch.added, [11]);
        if (what === "removed") assert.deepEqual(ch.expunged, [5]);
      }
      const again = await FolderSession.open(root);
      assert.equal(again.messages.length, what === "added" ? 11 : what === "removed" ? 9 : 10);
    });

  it("finds a change a clock tick hid (cur/ mtime unchanged) once the scan is MAILDIR_SYNC_MS old", async () => {
    const root = quietMaildir(5);
    // cur/ and new/ changed this very second: the scan's state is dirty.
    const tick = new Date(Math.floor(Date.now() / 1000) * 1000);
    for (const sub of ["cur", "new"]) utimesSync(join(root, sub), tick, tick);
    const s = await FolderSession.open(root);
    const cur = join(root, "cur");
    const before = statSync(cur, { bigint: true }).mtimeNs;
    renameSync(join(cur, "1700000002.M2P1.host:2,"), join(cur, "1700000002.M2P1.host:2,S"));
    utimesSync(cur, tick, tick); // as if the rename had landed in the scan's clock tick
    assert.equal(statSync(cur, { bigint: true }).mtimeNs, before);
    const deadline = Date.now() + 5 * MAILDIR_SYNC_MS;
    let seen = false;
    while (!seen && Date.now() < deadline) {
      const ch = await s.sync();
      seen = ch.flagged.some((m) => m.uid === 2 && m.flags.includes("\\Seen"));
      if (!seen) await sleep(100);
    }
    assert.ok(seen, "the hidden rename was found by the delayed rescan");
  });

  it("trusts recorded mtimes only while clean, or dirty and less than MAILDIR_SYNC_MS after the scan", () => {
    const old = String(BigInt(1_000_000) * 1_000_000n); // 1,000,000 ms since the epoch, in ns
    const list = { uidValidity: 1, nextUid: 1, records: [], curMtime: old, newMtime: old };
    assert.equal(stampsTrusted(list, 5_000_000), false, "no scan time: an older index, rescan");
    assert.equal(stampsTrusted({ ...list, scanAt: 1_000_000 + 5_000 }, 9_000_000), true, "clean");
    const dirty = { ...list, scanAt: 1_000_000 + 500 };
    assert.equal(stampsTrusted(dirty, 1_000_000 + 900), true, "dirty, scanned just now");
    assert.equal(stampsTrusted(dirty, 1_000_000 + 500 + MAILDIR_SYNC_MS + 1), false, "dirty, rescan");
    assert.equal(stampsTrusted({ ...dirty, curMtime: "0" }, 1_000_000 + 900), false);
  });
});
