/*
 * storage — storage faults through a real master: a full queue file system (a small tmpfs
 * as queue_directory, mounted when running as root, skipped with the reason otherwise)
 * answers 452 4.3.1 instead of 250, loses nothing it accepted and recovers by itself when
 * space returns; a mailbox that cannot be written defers the message (4.x.x) and delivers
 * it once the mailbox is repaired.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { blockMaildir, FAST_RETRIES, repairMaildir, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts, smtpDialog } from "../helpers/smtp.js";

const USER = "alice";

function mountTmpfs(dir: string, size: string): string | null {
  if (process.getuid?.() !== 0) return "not running as root: cannot mount a tmpfs";
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return null;
  } catch (e: unknown) {
    return `mount -t tmpfs failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function send(sb: Sandbox, seq: string, body = "hello"): Promise<string[]> {
  return smtpDialog(sb.smtpPort, [
    "EHLO c.example\r\n",
    "MAIL FROM:<x@example.org>\r\n",
    `RCPT TO:<${USER}@localhost>\r\n`,
    "DATA\r\n",
    `Subject: ${seq}\r\nX-Seq: ${seq}\r\n\r\n${body}\r\n.\r\n`,
    "QUIT\r\n",
  ]);
}

const queueMount = mkdtempSync(join(tmpdir(), "postern-fault-queue-"));
const skipReason = mountTmpfs(queueMount, "3m");

describe("fault: a full queue file system", { skip: skipReason ?? false }, () => {
  let sb: Sandbox;
  const filler = join(queueMount, "filler");

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    cpSync(join(sb.dir, "spool"), queueMount, { recursive: true });
    const r = await sb.cli([
      "conf",
      "-e",
      `queue_directory = ${queueMount}`,
      "message_size_limit = 200000",
      "queue_run_delay = 1s",
      "minimal_backoff_time = 1s",
      "maximal_backoff_time = 2s",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
    execFileSync("umount", ["-l", queueMount]);
    rmSync(queueMount, { recursive: true, force: true });
  });

  it("answers 452 4.3.1 when the queue is full, keeps what it accepted, and recovers when space returns", async () => {
    const before = await send(sb, "before-full");
    assert.match(before[5] ?? "", /^250 2\.0\.0 /);
    // Fill the file system: dd stops at ENOSPC.
    try {
      execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=64k"], { stdio: "pipe" });
    } catch {
      /* ENOSPC is the point */
    }
    const refused = await send(sb, "while-full");
    assert.equal(refused[2], "452 4.3.1 Insufficient system storage", refused.join(" | "));
    await sb.waitLog(/warning: not enough free space in mail queue: \d+ bytes < 1\.5\*message_size_limit/);
    await sb.waitLog(/NOQUEUE: reject: MAIL from \S+: 452 4\.3\.1 Insufficient system storage/);
    rmSync(filler);
    const afterFree = await send(sb, "after-free");
    assert.match(afterFree[5] ?? "", /^250 2\.0\.0 /, afterFree.join(" | "));
    const maildir = join(sb.dir, "mail", USER, "Maildir");
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("after-free") === 1,
      "after-free delivered",
    );
    const counts = seqCounts(maildirMessages(maildir));
    assert.equal(counts.get("before-full"), 1);
    assert.equal(counts.get("while-full"), undefined, "the refused message was not delivered");
  });
});

if (skipReason !== null) rmSync(queueMount, { recursive: true, force: true });

describe("fault: an unwritable mailbox", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.started({ user: USER }, FAST_RETRIES);
  });
  after(async () => {
    await sb.destroy();
  });

  it("defers delivery with a 4.x.x status and delivers once the mailbox is repaired", async () => {
    const maildir = blockMaildir(sb, USER);
    const r = await send(sb, "unwritable");
    assert.match(r[5] ?? "", /^250 2\.0\.0 /);
    await sb.waitLog(/to=<alice@localhost>, relay=local, .*dsn=4\.\d\.\d, status=deferred/);
    repairMaildir(sb, USER);
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("unwritable") === 1,
      "delivery after repair",
      20_000,
    );
    assert.doesNotMatch(sb.maillog(), /to=<alice@localhost>.*status=bounced/);
  });
});
