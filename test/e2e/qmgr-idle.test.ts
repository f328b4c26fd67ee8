/*
 * qmgr-idle — qmgr does not retire after max_idle while deferred mail waits for its next
 * attempt (Postfix's qmgr ignores max_idle), so the retry comes on qmgr's own schedule and
 * not only at master's next wake-up; once the queue is empty it retires like any worker.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { blockMaildir, daemonPids, repairMaildir, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts, smtpDialog } from "../helpers/smtp.js";

const USER = "idle";

describe("qmgr and max_idle", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.started({ user: USER }, [
      "max_idle = 2s",
      "queue_run_delay = 3s",
      "minimal_backoff_time = 6s",
      "maximal_backoff_time = 6s",
    ]);
  });
  after(async () => {
    await sb.destroy();
  });

  it("stays while deferred mail waits, retries it, and retires once the queue is empty", async () => {
    const maildir = blockMaildir(sb, USER); // the delivery is deferred
    const r = await smtpDialog(sb.smtpPort, [
      "EHLO c.example\r\n",
      "MAIL FROM:<x@example.org>\r\n",
      `RCPT TO:<${USER}@localhost>\r\n`,
      "DATA\r\n",
      "Subject: later\r\nX-Seq: later\r\n\r\nhello\r\n.\r\n",
      "QUIT\r\n",
    ]);
    assert.match(r[5] ?? "", /^250 2\.0\.0 /);
    await sb.waitLog(new RegExp(`to=<${USER}@localhost>, relay=local, .*status=deferred`));
    const qmgr = daemonPids(sb.dir, "qmgr");
    assert.equal(qmgr.length, 1);
    // Longer than max_idle, shorter than the 6 s backoff: nothing to do meanwhile but the
    // scans of deferred/ every queue_run_delay.
    await sleep(4000);
    assert.deepEqual(daemonPids(sb.dir, "qmgr"), qmgr, "qmgr still runs with mail in deferred/");
    repairMaildir(sb, USER);
    // The retry comes from this qmgr (master's own wake-up of qmgr is minutes away). Then,
    // with nothing queued, max_idle (2 s) ends before the next scan (3 s) would wake it.
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("later") === 1 || undefined,
      "delivery at the retry",
      15_000,
    );
    await sb.waitFor(() => daemonPids(sb.dir, "qmgr").length === 0 || undefined, "qmgr to retire", 15_000);
  });
});
