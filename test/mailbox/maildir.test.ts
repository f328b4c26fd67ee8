/*
 * Maildir store: stable UIDs in the uidlist, new/ → cur/ moves, CRLF sizes, expunge,
 * the session lock, pop3_uidl_format.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { crlfSizeOfFile, MaildirStore, maildirBase, sizeFromName } from "../../lib/mailbox/maildir.js";
import { formatUidl } from "../../lib/mailbox/uidl.js";
import { formatUidlist, parseUidlist } from "../../lib/mailbox/uidlist.js";

const dirs: string[] = [];
function tempMaildir(): string {
  const d = mkdtempSync(join(tmpdir(), "postern-maildir-"));
  dirs.push(d);
  return join(d, "Maildir");
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function deliver(root: string, name: string, text: string): void {
  writeFileSync(join(root, "new", name), text);
}

describe("uidlist", () => {
  it("round-trips its header and records", () => {
    const list = {
      uidValidity: 1700000000,
      nextUid: 5,
      records: [
        { uid: 1, base: "a,S=3", crlfSize: 4 },
        { uid: 4, base: "b" },
      ],
    };
    assert.deepEqual(parseUidlist(formatUidlist(list)), list);
  });
  it("rejects a damaged header and skips damaged or out-of-order records", () => {
    assert.equal(parseUidlist("garbage\n1 :a\n"), undefined);
    const parsed = parseUidlist("3 V7 N2\n1 :a\nxx\n1 :dup\n3 W9 :c\n");
    assert.deepEqual(parsed, {
      uidValidity: 7,
      nextUid: 4,
      records: [
        { uid: 1, base: "a" },
        { uid: 3, base: "c", crlfSize: 9 },
      ],
    });
  });
  it("parses whatever it formats (property)", () => {
    const record = fc.record({
      base: fc.stringMatching(/^[A-Za-z0-9.,=]{1,20}$/),
      crlfSize: fc.option(fc.nat(), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(record, { maxLength: 10 }), fc.integer({ min: 1, max: 2 ** 31 }), (rs, v) => {
        const records = rs.map((r, i) =>
          r.crlfSize === undefined
            ? { uid: i + 1, base: r.base }
            : { uid: i + 1, base: r.base, crlfSize: r.crlfSize },
        );
        const list = { uidValidity: v, nextUid: rs.length + 1, records };
        assert.deepEqual(parseUidlist(formatUidlist(list)), list);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});

describe("formatUidl", () => {
  const table: [string, string][] = [
    ["%08Xu%08Xv", "0000002A6553F100"],
    ["%u.%v", "42.1700000000"],
    ["%xu-%f", "2a-base,S=1"],
    ["100%%", "100%"],
  ];
  for (const [format, want] of table)
    it(`expands ${format} to ${want}`, () => {
      assert.equal(formatUidl(format, { uid: 42, uidValidity: 1700000000, base: "base,S=1" }), want);
    });
});

describe("MaildirStore", () => {
  it("gives messages stable UIDs across syncs, in delivery order, and moves new/ to cur/", async () => {
    const root = tempMaildir();
    const store = await MaildirStore.open(root);
    deliver(root, "1000.M1P1Q1.host,S=6", "a\nb\nc\n");
    deliver(root, "1001.M1P1Q2.host", "x\r\ny\n");
    const first = await store.sync();
    assert.deepEqual(
      first.messages.map((m) => [m.uid, m.base, m.crlfSize]),
      [
        [1, "1000.M1P1Q1.host,S=6", 9],
        [2, "1001.M1P1Q2.host", 6],
      ],
    );
    assert.deepEqual(readdirSync(join(root, "new")), []);
    assert.ok(readdirSync(join(root, "cur")).every((f) => f.endsWith(":2,")));
    deliver(root, "1002.M1P1Q3.host", "z\n");
    const again = await (await MaildirStore.open(root)).sync();
    assert.equal(again.uidValidity, first.uidValidity);
    assert.deepEqual(
      again.messages.map((m) => m.uid),
      [1, 2, 3],
    );
    assert.match(readFileSync(join(root, "postern-uidlist"), "utf8"), /^1 W9 .*:1000\.M1P1Q1\.host,S=6:2,$/m);
  });

  it("trusts a ,W= size in the file name and follows a flag rename", async () => {
    const root = tempMaildir();
    const store = await MaildirStore.open(root);
    deliver(root, "5.M1.host,S=2,W=99", "a\n");
    const [m] = (await store.sync()).messages;
    assert.equal(m?.crlfSize, 99);
    const { renameSync } = await import("node:fs");
    renameSync(join(root, "cur", `${m?.base}:2,`), join(root, "cur", `${m?.base}:2,S`));
    assert.ok(m !== undefined && (await store.messagePath(m)).endsWith(":2,S"));
  });

  it("expunges by unlink and never reuses a UID", async () => {
    const root = tempMaildir();
    const store = await MaildirStore.open(root);
    deliver(root, "1.a", "1\n");
    deliver(root, "2.b", "2\n");
    const snap = await store.sync();
    assert.equal(await store.expunge(snap.messages.slice(0, 1)), 1);
    deliver(root, "3.c", "3\n");
    assert.deepEqual(
      (await store.sync()).messages.map((m) => m.uid),
      [2, 3],
    );
  });

  it("refuses a second session lock with kind in-use until the first is released", async () => {
    const store = await MaildirStore.open(tempMaildir());
    const lock = await store.sessionLock();
    await assert.rejects(store.sessionLock(), (e: unknown) => (e as { kind?: string }).kind === "in-use");
    await lock.release();
    await (await store.sessionLock()).release();
  });

  it("computes CRLF sizes across chunk boundaries", async () => {
    const root = tempMaildir();
    await MaildirStore.open(root);
    const text = `${"x".repeat(300_000)}\r\n${"y\n".repeat(1000)}`;
    writeFileSync(join(root, "tmp", "big"), text);
    assert.equal(await crlfSizeOfFile(join(root, "tmp", "big")), Buffer.byteLength(text) + 1000);
  });

  it("parses base names and size fields", () => {
    assert.equal(maildirBase("1.M2.host,S=5:2,FS"), "1.M2.host,S=5");
    assert.equal(sizeFromName("1.M2.host,S=5,W=7"), 7);
    assert.equal(sizeFromName("1.M2.host,S=5"), undefined);
  });
});
