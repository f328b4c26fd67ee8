import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { acquireDotlock } from "../../lib/delivery/dotlock.js";
import { deliverToMbox } from "../../lib/delivery/mbox.js";
import { chunks, failingAfter, tempDir } from "./helpers.js";

const arrival = new Date(2026, 10, 22, 10, 0, 0);
const base = { sender: "a@b.example", arrival, prepend: "Return-Path: <a@b.example>\n" };

function procmailLockfile(): string | undefined {
  for (const p of ["/usr/bin/dotlockfile", "/usr/bin/lockfile"]) if (existsSync(p)) return p;
  return undefined;
}

test("deliverToMbox writes the From_ line, headers, quoted body and a blank line", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    const res = await deliverToMbox(mbox, chunks("Subject: x\n\nFrom here\n>From there\nend"), base);
    const expected =
      "From a@b.example  Sun Nov 22 10:00:00 2026\nReturn-Path: <a@b.example>\n" +
      "Subject: x\n\n>From here\n>>From there\nend\n\n";
    assert.equal(readFileSync(mbox, "utf8"), expected);
    assert.equal(res.size, Buffer.byteLength(expected));
    assert.equal(statSync(mbox).mode & 0o777, 0o600);
    assert.equal(existsSync(`${mbox}.lock`), false);
  } finally {
    cleanup();
  }
});

test("deliverToMbox appends a second message after the first", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    await deliverToMbox(mbox, chunks("Subject: 1\n\none\n"), base);
    await deliverToMbox(mbox, chunks("Subject: 2\n\ntwo\n"), { ...base, sender: "" });
    const text = readFileSync(mbox, "utf8");
    assert.equal(text.match(/^From /gm)?.length, 2);
    assert.match(text, /one\n\nFrom MAILER-DAEMON {2}Sun Nov 22 10:00:00 2026\n/);
    assert.ok(text.endsWith("two\n\n"));
  } finally {
    cleanup();
  }
});

test("deliverToMbox truncates back to the original size when the content fails", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    await deliverToMbox(mbox, chunks("Subject: 1\n\none\n"), base);
    const before = readFileSync(mbox);
    await assert.rejects(deliverToMbox(mbox, failingAfter(`Subject: 2\n\n${"x".repeat(100_000)}`), base));
    assert.deepEqual(readFileSync(mbox), before);
    assert.equal(existsSync(`${mbox}.lock`), false);
  } finally {
    cleanup();
  }
});

test("deliverToMbox enforces the mailbox size limit with 5.2.2 and leaves the mailbox intact", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    writeFileSync(mbox, "x".repeat(90), { mode: 0o600 });
    await assert.rejects(deliverToMbox(mbox, chunks("y".repeat(20)), { ...base, sizeLimit: 100 }), {
      dsn: "5.2.2",
    });
    assert.equal(statSync(mbox).size, 90);
  } finally {
    cleanup();
  }
});

test("deliverToMbox refuses a symlink and a hard-linked file", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { symlinkSync, linkSync } = await import("node:fs");
    writeFileSync(join(dir, "target"), "");
    symlinkSync(join(dir, "target"), join(dir, "sym"));
    await assert.rejects(deliverToMbox(join(dir, "sym"), chunks("x\n"), base));
    linkSync(join(dir, "target"), join(dir, "hard"));
    await assert.rejects(deliverToMbox(join(dir, "hard"), chunks("x\n"), base), { dsn: "4.2.0" });
    assert.equal(readFileSync(join(dir, "target"), "utf8"), "");
  } finally {
    cleanup();
  }
});

test("deliverToMbox waits for a dotlock held by procmail's lockfile and times out with 4.2.0", async (t) => {
  const tool = procmailLockfile();
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    if (tool !== undefined) execFileSync(tool, [`${mbox}.lock`]);
    else writeFileSync(`${mbox}.lock`, "0");
    if (tool === undefined) t.diagnostic("no dotlockfile/lockfile installed: lock created by hand");
    await assert.rejects(deliverToMbox(mbox, chunks("x\n"), { ...base, lockTimeoutMs: 300 }), {
      dsn: "4.2.0",
      message: /unable to create lock file/,
    });
    assert.ok(existsSync(`${mbox}.lock`), "someone else's lock is never removed");
  } finally {
    cleanup();
  }
});

test("deliverToMbox proceeds as soon as the other locker releases", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    writeFileSync(`${mbox}.lock`, "0");
    const { unlinkSync } = await import("node:fs");
    setTimeout(() => unlinkSync(`${mbox}.lock`), 150);
    await deliverToMbox(mbox, chunks("x\n"), { ...base, lockTimeoutMs: 3000 });
    assert.match(readFileSync(mbox, "utf8"), /^From /);
  } finally {
    cleanup();
  }
});

test("a stale dotlock older than the stale age is removed", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    writeFileSync(`${mbox}.lock`, "0");
    const old = new Date(Date.now() - 10 * 60 * 1000);
    utimesSync(`${mbox}.lock`, old, old);
    await deliverToMbox(mbox, chunks("x\n"), { ...base, lockTimeoutMs: 1000 });
    assert.match(readFileSync(mbox, "utf8"), /^From /);
  } finally {
    cleanup();
  }
});

test("our dotlock keeps procmail's lockfile out while held", {
  skip: procmailLockfile() === undefined,
}, async () => {
  const tool = procmailLockfile() ?? "";
  const { dir, cleanup } = tempDir();
  try {
    const mbox = join(dir, "user");
    const held = await acquireDotlock(mbox, { timeoutMs: 0 });
    const args = tool.endsWith("dotlockfile") ? ["-r", "0", `${mbox}.lock`] : ["-r", "0", `${mbox}.lock`];
    assert.throws(() => execFileSync(tool, args, { stdio: "ignore" }));
    await held.release();
    assert.equal(existsSync(`${mbox}.lock`), false);
    execFileSync(tool, args, { stdio: "ignore" });
    assert.ok(existsSync(`${mbox}.lock`));
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith(".lk")),
      [],
    );
  } finally {
    cleanup();
  }
});

test("deliverToMbox honours an fcntl lock held by another process", async () => {
  const { dir, cleanup } = tempDir();
  const mbox = join(dir, "user");
  writeFileSync(mbox, "", { mode: 0o600 });
  const osLock = new URL("../../../node_modules/os-lock/index.js", import.meta.url).pathname;
  const script = `
    const { lock } = require(${JSON.stringify(osLock)});
    const fs = require("node:fs");
    const fd = fs.openSync(${JSON.stringify(mbox)}, "r+");
    lock(fd, { exclusive: true }).then(() => { process.stdout.write("locked\\n"); });
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    await assert.rejects(deliverToMbox(mbox, chunks("x\n"), { ...base, lockTimeoutMs: 300 }), {
      dsn: "4.2.0",
      message: /unable to lock for exclusive access/,
    });
    assert.equal(statSync(mbox).size, 0);
    assert.equal(existsSync(`${mbox}.lock`), false);
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once("exit", r));
    cleanup();
  }
});
