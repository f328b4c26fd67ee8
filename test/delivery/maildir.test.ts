import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { deliverToMaildir, escapeMaildirHost, maildirUniqueName } from "../../lib/delivery/maildir.js";
import { chunks, failingAfter, tempDir } from "./helpers.js";

test("deliverToMaildir creates tmp, new and cur with mode 0700 and puts the message in new/", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const md = join(dir, "home", "Maildir");
    const res = await deliverToMaildir(md, chunks("Subject: x\n\n", "body\n"), {
      prepend: "Return-Path: <a@b>\n",
      hostname: "mx.example",
    });
    for (const sub of ["tmp", "new", "cur"]) assert.equal(statSync(join(md, sub)).mode & 0o777, 0o700);
    const content = "Return-Path: <a@b>\nSubject: x\n\nbody\n";
    assert.equal(readFileSync(res.file, "utf8"), content);
    assert.equal(res.size, Buffer.byteLength(content));
    assert.equal(statSync(res.file).mode & 0o777, 0o600);
    assert.match(res.file, /\/new\/\d+\.M\d+P\d+Q\d+\.mx\.example,S=\d+$/);
    assert.ok(res.file.endsWith(`,S=${res.size}`));
    assert.deepEqual(readdirSync(join(md, "tmp")), []);
  } finally {
    cleanup();
  }
});

test("deliverToMaildir gives every delivery a distinct name", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => deliverToMaildir(dir, chunks("x\n"), { prepend: "" })),
    );
    assert.equal(new Set(results.map((r) => r.file)).size, 10);
    assert.equal(readdirSync(join(dir, "new")).length, 10);
  } finally {
    cleanup();
  }
});

test("deliverToMaildir leaves nothing behind when the content stream fails midway", async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(
      deliverToMaildir(dir, failingAfter("Subject: x\n\npartial"), { prepend: "" }),
      /queue file/,
    );
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.deepEqual(readdirSync(join(dir, "new")), []);
  } finally {
    cleanup();
  }
});

test("deliverToMaildir refuses a message over the size limit with 5.2.2 and cleans up", async () => {
  const { dir, cleanup } = tempDir();
  try {
    await assert.rejects(deliverToMaildir(dir, chunks("x".repeat(100)), { prepend: "", sizeLimit: 50 }), {
      dsn: "5.2.2",
      message: "File too large",
    });
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    assert.deepEqual(readdirSync(join(dir, "new")), []);
  } finally {
    cleanup();
  }
});

test("escapeMaildirHost escapes slash and colon as Dovecot does", () => {
  assert.equal(escapeMaildirHost("a/b:c"), "a\\057b\\072c");
  assert.match(maildirUniqueName("h:1"), /^\d+\.M\d+P\d+Q\d+\.h\\0721$/);
});

test("deliverToMaildir fails when the maildir path is a file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { writeFileSync } = await import("node:fs");
    writeFileSync(join(dir, "file"), "");
    await assert.rejects(deliverToMaildir(join(dir, "file"), chunks("x"), { prepend: "" }));
    assert.equal(existsSync(join(dir, "file", "new")), false);
  } finally {
    cleanup();
  }
});

test("a deliveryId makes delivery repeatable: the second attempt finds the first file and writes nothing", async () => {
  const { dir, cleanup } = tempDir();
  const opts = { prepend: "", deliveryId: "1700000000.PQID_0", hostname: "h" };
  const first = await deliverToMaildir(join(dir, "Maildir"), chunks("Subject: x\n\nbody\n"), opts);
  const again = await deliverToMaildir(join(dir, "Maildir"), chunks("Subject: x\n\nbody\n"), opts);
  assert.equal(first.duplicate, undefined);
  assert.equal(again.duplicate, true);
  assert.equal(again.file, first.file);
  assert.deepEqual(readdirSync(join(dir, "Maildir", "new")), ["1700000000.PQID_0.h,S=17"]);
  assert.deepEqual(readdirSync(join(dir, "Maildir", "tmp")), []);
  cleanup();
});

test("deliverToMaildir recreates a Maildir removed between two deliveries", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const md = join(dir, "Maildir");
    await deliverToMaildir(md, Buffer.from("one\n"), { prepend: "" });
    rmSync(md, { recursive: true });
    const second = await deliverToMaildir(md, Buffer.from("two\n"), { prepend: "" });
    assert.equal(readFileSync(second.file, "utf8"), "two\n");
    for (const sub of ["tmp", "new", "cur"]) assert.equal(statSync(join(md, sub)).mode & 0o777, 0o700);
    // Only new/ gone (tmp/ still there): the link step recreates it.
    rmSync(join(md, "new"), { recursive: true });
    const third = await deliverToMaildir(md, Buffer.from("three\n"), { prepend: "" });
    assert.equal(readFileSync(third.file, "utf8"), "three\n");
    assert.deepEqual(readdirSync(join(md, "tmp")), []);
    // Only tmp/ gone: the open step recreates it.
    rmSync(join(md, "tmp"), { recursive: true });
    const fourth = await deliverToMaildir(md, Buffer.from("four\n"), { prepend: "" });
    assert.equal(readFileSync(fourth.file, "utf8"), "four\n");
    assert.equal(readdirSync(join(md, "new")).length, 2);
  } finally {
    cleanup();
  }
});

test("deliverToMaildir writes a Buffer and a stream of the same bytes identically", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    const prepend = "Delivered-To: a@b\n";
    const whole = await deliverToMaildir(join(dir, "a"), bytes, { prepend });
    const parts = [bytes.subarray(0, 1000), bytes.subarray(1000, 65_536), bytes.subarray(65_536)];
    async function* stream() {
      yield* parts;
    }
    const streamed = await deliverToMaildir(join(dir, "b"), stream(), { prepend });
    const expected = Buffer.concat([Buffer.from(prepend), bytes]);
    assert.deepEqual(readFileSync(whole.file), expected);
    assert.deepEqual(readFileSync(streamed.file), expected);
    assert.equal(whole.size, expected.length);
    assert.equal(streamed.size, expected.length);
    await assert.rejects(deliverToMaildir(join(dir, "c"), bytes, { prepend, sizeLimit: 1000 }), {
      dsn: "5.2.2",
    });
    assert.deepEqual(readdirSync(join(dir, "c", "tmp")), []);
  } finally {
    cleanup();
  }
});
