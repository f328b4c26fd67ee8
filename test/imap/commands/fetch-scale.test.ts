/*
 * FETCH of index items at scale: FLAGS and UID of every message must come from the
 * FolderSession snapshot alone. A real folder whose files have all been deleted still
 * answers them, and a 100,000-message folder (a stand-in with FolderSession's surface whose
 * file accessors throw) answers FETCH 1:* (FLAGS UID) quickly without touching a file.
 */
import assert from "node:assert/strict";
import { linkSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, it } from "node:test";
import { FolderCache } from "../../../lib/mailbox/cache.js";
import type { FolderSession, MessageInfo } from "../../../lib/mailbox/folder.js";
import { removeTempDirs, TestSession, tempMaildir } from "./fetch-helper.js";

after(removeTempDirs);

it("answers FLAGS and UID of 2,000 messages whose files are all gone without opening any", async () => {
  const root = tempMaildir();
  writeFileSync(join(root, "tmp", "one"), "x\n"); // hard links: many files made quickly
  for (let i = 0; i < 2_000; i++)
    linkSync(join(root, "tmp", "one"), join(root, "cur", `${1_600_000_000 + i}.M${i}P1.host,S=2,W=3:2,S`));
  const past = new Date(Date.now() - 60_000);
  for (const sub of ["cur", "new"]) utimesSync(join(root, sub), past, past);
  const s = await TestSession.open(root, { readOnly: true });
  for (const f of readdirSync(join(root, "cur"))) rmSync(join(root, "cur", f));
  const run = await s.run("FETCH 1:* (FLAGS UID)");
  assert.deepEqual(run.result, { status: "OK", code: null, text: "Fetch completed." });
  assert.equal(s.sent.length, 2_000);
  assert.equal(s.sent[1_999], "* 2000 FETCH (FLAGS (\\Seen) UID 2000)\r\n");
  assert.equal(s.opened, 0);
});

function standIn(count: number): FolderSession {
  const messages: MessageInfo[] = Array.from({ length: count }, (_, i) => ({
    uid: i + 1,
    base: `m${i}`,
    file: `m${i}:2,S`,
    flags: ["\\Seen"],
    modseq: 1,
    size: 10,
    crlfSize: 11,
    internalDate: new Date(0),
  }));
  const refuse = async (): Promise<never> => {
    throw new Error("a message file was opened");
  };
  const folder = {
    dir: "/nonexistent",
    messages,
    readOnly: false,
    byUid: (uid: number) => messages[uid - 1],
    seqOf: (uid: number) => (uid >= 1 && uid <= count ? uid : undefined),
    isRecent: () => false,
    isExpunged: () => false,
    messagePath: refuse,
    openMessage: refuse,
    store: refuse,
  };
  return folder as unknown as FolderSession;
}

it("answers FETCH 1:* (FLAGS UID) on 100,000 messages from the index alone", async () => {
  const s = TestSession.of(standIn(100_000), new FolderCache("/nonexistent", 1));
  const started = process.hrtime.bigint();
  const run = await s.run("FETCH 1:* (FLAGS UID)");
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.equal(run.result.status, "OK");
  assert.equal(s.sent.length, 100_000);
  assert.equal(s.sent[99_999], "* 100000 FETCH (FLAGS (\\Seen) UID 100000)\r\n");
  assert.equal(s.opened, 0);
  // Speed is the benchmark's business (scripts/bench/imap.ts); here: a generous bound that
  // only a per-message file access or quadratic work would break.
  assert.ok(ms < 30_000, `took ${ms} ms`);
});
