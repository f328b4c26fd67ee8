/*
 * The folder index's change log (lib/mailbox/uidlist-log.ts): changes append lines instead
 * of rewriting the base, other processes catch up from the log, the base is compacted now
 * and then, and a stale or torn log never corrupts the index.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FolderSession } from "../../lib/mailbox/folder.js";
import { syncIndex } from "../../lib/mailbox/sync.js";
import { UIDLIST_NAME } from "../../lib/mailbox/uidlist.js";
import { forgetIndexState, UIDLIST_LOG_NAME } from "../../lib/mailbox/uidlist-log.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function folder(count: number): string {
  const root = mkdtempSync(join(tmpdir(), "postern-uidlog-"));
  dirs.push(root);
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub));
  writeFileSync(join(root, "tmp", "one"), "Subject: x\n\nbody\n");
  for (let i = 1; i <= count; i++)
    linkSync(join(root, "tmp", "one"), join(root, "cur", `${1_600_000_000 + i}.M${i}P1.host,S=17,W=20:2,`));
  const past = new Date(Date.now() - 60_000);
  for (const sub of ["cur", "new"]) utimesSync(join(root, sub), past, past);
  return root;
}

/** What another process would see: forget this process's copy and reload from disk. */
async function fromDisk(root: string) {
  forgetIndexState(root);
  return syncIndex(root);
}

describe("index change log", () => {
  it("a flag change in a 10,000-message folder appends a line; the base stays as it was", async () => {
    const root = folder(10_000);
    const s = await FolderSession.open(root);
    const base = statSync(join(root, UIDLIST_NAME));
    await s.store([5000], { mode: "add", flags: ["\\Flagged"] });
    const after = statSync(join(root, UIDLIST_NAME));
    assert.equal(after.ino, base.ino);
    assert.equal(after.size, base.size);
    const log = readFileSync(join(root, UIDLIST_LOG_NAME), "utf8").split("\n");
    assert.match(log[0] ?? "", /^G\d+$/);
    assert.ok(
      log.some((l) => /^\+5000 .*:2,F$/.test(l)),
      log.join("\n"),
    );
    assert.ok(log.length < 6);
    const seen = await fromDisk(root);
    assert.equal(seen.records.find((r) => r.uid === 5000)?.info, "2,F");
    assert.equal(seen.records.length, 10_000);
  });

  it("another session catches up from the log's tail: flags, expunges and new mail", async () => {
    const root = folder(100);
    const a = await FolderSession.open(root);
    const b = await FolderSession.open(root);
    await a.store([1, 2], { mode: "add", flags: ["\\Deleted"] });
    await a.expunge();
    writeFileSync(join(root, "new", "1700000000.M1P2.host"), "Subject: new\n\nx\n");
    await a.sync();
    const ch = await b.sync();
    assert.deepEqual(ch.expunged, [1, 2]);
    assert.deepEqual(ch.added, [101]);
    assert.equal(b.messages.length, 99);
    const disk = await fromDisk(root);
    assert.deepEqual(
      disk.records.map((r) => r.uid),
      b.messages.map((m) => m.uid),
    );
  });

  it("compacts into a new base of the next generation when the log grows", async () => {
    const root = folder(200);
    const s = await FolderSession.open(root);
    const generation = /G(\d+)/.exec(readFileSync(join(root, UIDLIST_NAME), "utf8"))?.[1];
    // Every store changes a message: add on even rounds over the folder, remove on odd ones.
    for (let i = 0; i < 1200; i++)
      await s.store([1 + (i % 200)], { mode: Math.floor(i / 200) % 2 ? "remove" : "add", flags: ["\\Seen"] });
    const after = /G(\d+)/.exec(readFileSync(join(root, UIDLIST_NAME), "utf8"))?.[1];
    assert.notEqual(after, generation);
    assert.ok(statSync(join(root, UIDLIST_LOG_NAME)).size < 80 * 1024);
    const disk = await fromDisk(root);
    assert.deepEqual(
      disk.records.map((r) => `${r.uid}:${r.info}`),
      s.messages.map((m) => `${m.uid}:${m.file.split(":")[1]}`),
    );
  });

  it("ignores a log of another generation and a torn last line", async () => {
    const root = folder(10);
    const s = await FolderSession.open(root);
    await s.store([3], { mode: "add", flags: ["\\Seen"] });
    appendFileSync(join(root, UIDLIST_LOG_NAME), "+3 W20 S17 T1 M99 :garbage-without-newline");
    const torn = await fromDisk(root);
    assert.equal(torn.records.find((r) => r.uid === 3)?.base.startsWith("1600000003"), true);
    await s.store([4], { mode: "add", flags: ["\\Seen"] });
    assert.doesNotMatch(readFileSync(join(root, UIDLIST_LOG_NAME), "utf8"), /garbage/);
    writeFileSync(join(root, UIDLIST_LOG_NAME), "G999999\n-1\n-2\n");
    const stale = await fromDisk(root);
    assert.equal(stale.records.length, 10);
    assert.equal(stale.records.find((r) => r.uid === 4)?.info, "2,S");
  });
});
