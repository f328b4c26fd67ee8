/*
 * Crash safety, end to end: while mail flows over SMTP, kill -9 cleanup, qmgr and local
 * (one kind at a time, several rounds). Afterwards every message that got a 250 is in the
 * mailbox exactly once, refused ones at most once, the queue drains, nothing is corrupt.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonPids, FAST_RETRIES, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts, smtpLoad } from "../helpers/smtp.js";

const USER = "carol";

/** Queue files only: a writer killed before commit leaves a ".ID.tmp" that no client got a 250 for. */
function queueCount(dir: string, q: string): number {
  return readdirSync(join(dir, "spool", q)).filter((f) => !f.startsWith(".")).length;
}

describe("crash safety while mail flows", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.started({ user: USER }, FAST_RETRIES);
  });
  after(async () => {
    await sb.destroy();
  });

  it("keeps every accepted message, delivered exactly once, across kill -9 of cleanup, qmgr and local", async () => {
    const total = 1200;
    const load = smtpLoad(sb.smtpPort, {
      total,
      conns: 10,
      rcpt: `${USER}@localhost`,
      tag: "crash",
      deadlineS: 90,
    });
    let loadDone = false;
    void load.finally(() => (loadDone = true));
    const kills: string[] = [];
    for (let round = 0; round < 3 && !loadDone; round++) {
      for (const kind of ["cleanup", "qmgr", "local"]) {
        await sleep(250);
        for (const pid of daemonPids(sb.dir, kind)) {
          try {
            process.kill(pid, "SIGKILL");
            kills.push(`${kind}:${pid}`);
          } catch {
            /* already gone */
          }
        }
      }
    }
    const { accepted, failed } = await load;
    assert.ok(kills.length >= 3, `killed: ${kills.join(" ")}`);
    assert.ok(accepted.length > total / 2, `accepted ${accepted.length} of ${total}`);
    const maildir = join(sb.dir, "mail", USER, "Maildir");
    await sb
      .waitFor(
        () =>
          queueCount(sb.dir, "incoming") + queueCount(sb.dir, "active") + queueCount(sb.dir, "deferred") ===
          0,
        "the queue to drain",
        60_000,
      )
      .catch(async (err: unknown) => {
        throw new Error(
          `${(err as Error).message.split("\n")[0]}\nkilled: ${kills.join(" ")}\n${await sb.diagnose()}`,
        );
      });
    const counts = seqCounts(maildirMessages(maildir));
    const lost = accepted.filter((i) => counts.get(`crash-${i}`) !== 1);
    assert.deepEqual(
      lost.map((i) => `crash-${i}:${counts.get(`crash-${i}`) ?? 0}`),
      [],
      "every accepted message delivered exactly once",
    );
    for (const i of failed)
      assert.ok((counts.get(`crash-${i}`) ?? 0) <= 1, `refused message crash-${i} delivered at most once`);
    assert.equal(queueCount(sb.dir, "corrupt"), 0);
    for (const k of kills.slice(0, 3)) {
      const pid = k.split(":")[1];
      assert.match(sb.maillog(), new RegExp(`warning: process \\S+ pid ${pid} killed by signal 9`));
    }
  });
});
