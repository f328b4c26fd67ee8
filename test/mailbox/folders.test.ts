/*
 * Folder tree: Maildir++ names, modified UTF-7, escaping, traversal attempts, LIST
 * attributes, CREATE/DELETE/RENAME (INBOX rule), subscriptions, special-use.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { MailError } from "../../lib/mailbox/errors.js";
import { MailStore } from "../../lib/mailbox/folders.js";
import { decodeMutf7 as decodeResult, encodeMutf7 } from "../../lib/mailbox/mutf7.js";

const decodeMutf7 = (text: string): string | undefined => {
  const r = decodeResult(text);
  return r.ok ? r.value : undefined;
};

const dirs: string[] = [];
function tempStore(): MailStore {
  const d = mkdtempSync(join(tmpdir(), "postern-folders-"));
  dirs.push(d);
  const root = join(d, "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
  return new MailStore(root);
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function kind(k: string) {
  return (e: unknown) => e instanceof MailError && e.kind === k;
}

describe("modified UTF-7", () => {
  const table: [string, string][] = [
    ["INBOX", "INBOX"],
    ["Entwürfe", "Entw&APw-rfe"],
    ["a&b", "a&-b"],
    ["日本語", "&ZeVnLIqe-"],
    ["~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"],
  ];
  for (const [utf8, utf7] of table)
    it(`encodes ${utf8} as ${utf7} and back`, () => {
      assert.equal(encodeMutf7(utf8), utf7);
      assert.equal(decodeMutf7(utf7), utf8);
    });
  for (const bad of ["&", "&Jjo", "&AGE-", "&Jjo-&Jjo-", "a\x00", "&U,BTF2XlZyyKng-x&!!-"])
    it(`rejects the non-canonical or broken ${JSON.stringify(bad)}`, () => {
      assert.equal(decodeMutf7(bad), undefined);
    });
  it("decodes whatever it encodes (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 20 }), (s) => {
        if (/[\ud800-\udfff]/.test(s) && !/[\ud800-\udbff][\udc00-\udfff]/.test(s)) return;
        assert.equal(decodeMutf7(encodeMutf7(s)), s);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe("MailStore names", () => {
  const store = new MailStore("/m");
  const table: [string, string][] = [
    ["INBOX", "/m"],
    ["inbox", "/m"],
    ["a/b", "/m/.a.b"],
    ["a.b", "/m/.a%2Eb"],
    ["100%", "/m/.100%25"],
    ["..", "/m/.%2E%2E"],
    ["../../etc", "/m/.%2E%2E.%2E%2E.etc"],
    ["Entwürfe", "/m/.Entw&APw-rfe"],
    ["INBOX/sub", "/m/.INBOX.sub"],
  ];
  for (const [name, path] of table)
    it(`maps ${name} to ${path} and back`, () => {
      assert.equal(store.path(name), path);
      if (name.toUpperCase() !== "INBOX") assert.equal(store.nameOf(path.slice(3)), name);
    });
  for (const bad of ["", "/abs", "a//b", "a/", "nul\0x", "tab\there"])
    it(`refuses the name ${JSON.stringify(bad)}`, () => {
      assert.throws(() => store.path(bad), kind("badName"));
    });
  it("ignores directory names that are not canonical", () => {
    for (const d of ["..", ".", "..postern-deleting-1", ".a..b", ".&Jjo", ".x%41"])
      assert.equal(store.nameOf(d), undefined);
  });
});

describe("MailStore folders", () => {
  it("lists INBOX, created folders, \\Noselect parents and folders made by recipes", async () => {
    const s = tempStore();
    await s.create("work/2024");
    mkdirSync(join(s.root, ".Lists", "cur"), { recursive: true });
    await s.create("a.b");
    assert.ok(existsSync(join(s.root, ".work.2024", "maildirfolder")));
    assert.deepEqual(await s.list(), [
      { name: "INBOX", attributes: ["\\HasNoChildren"] },
      { name: "Lists", attributes: ["\\HasNoChildren"] },
      { name: "a.b", attributes: ["\\HasNoChildren"] },
      { name: "work", attributes: ["\\HasChildren", "\\Noselect"] },
      { name: "work/2024", attributes: ["\\HasNoChildren"] },
    ]);
  });

  it("refuses to create an existing folder or INBOX, and to delete INBOX or a parent", async () => {
    const s = tempStore();
    await s.create("x/y");
    await s.create("x");
    await assert.rejects(s.create("x"), kind("exists"));
    await assert.rejects(s.create("inbox"), kind("exists"));
    await assert.rejects(s.delete("INBOX"), kind("perm"));
    await assert.rejects(s.delete("x"), kind("hasChildren"));
    await assert.rejects(s.delete("nope"), kind("notFound"));
    await s.delete("x/y");
    await s.delete("x");
    assert.deepEqual(
      (await s.list()).map((e) => e.name),
      ["INBOX"],
    );
    assert.deepEqual(readdirSync(s.root).sort(), ["cur", "new", "tmp"]);
  });

  it("renames a folder with its children and refuses to move it under itself", async () => {
    const s = tempStore();
    await s.create("a");
    await s.create("a/b");
    await s.rename("a", "z/a");
    assert.deepEqual(
      (await s.list()).map((e) => e.name),
      ["INBOX", "z", "z/a", "z/a/b"],
    );
    await assert.rejects(s.rename("z/a", "z/a/c"), kind("badName"));
    await assert.rejects(s.rename("z/a", "z/a/b"), kind("exists"));
  });

  it("renames INBOX by moving its messages into the new folder and leaving INBOX empty", async () => {
    const s = tempStore();
    writeFileSync(join(s.root, "new", "1.a"), "x\n");
    writeFileSync(join(s.root, "cur", "2.b:2,S"), "y\n");
    await s.rename("INBOX", "old");
    assert.deepEqual(readdirSync(join(s.root, "new")), []);
    assert.deepEqual(readdirSync(join(s.root, "cur")), []);
    assert.deepEqual(readdirSync(join(s.root, ".old", "cur")), ["2.b:2,S"]);
    assert.deepEqual(readdirSync(join(s.root, ".old", "new")), ["1.a"]);
  });

  it("keeps subscriptions one per line and creates special-use folders once", async () => {
    const s = tempStore();
    await s.ensureSpecialUse();
    await s.ensureSpecialUse();
    await s.subscribe("Ghost/folder");
    await s.unsubscribe("Junk");
    await assert.rejects(s.unsubscribe("Junk"), kind("notFound"));
    assert.deepEqual(await s.subscriptions(), ["Drafts", "Sent", "Trash", "Ghost/folder"]);
    const sent = (await s.list()).find((e) => e.name === "Sent");
    assert.deepEqual(sent?.attributes, ["\\HasNoChildren", "\\Subscribed", "\\Sent"]);
  });
});
