/*
 * pickup-demand — pickup with the shipped "60?" wakeup: no pickup process idles in memory,
 * mail submitted while master was down is picked up when master starts, a submission
 * starts pickup through public/pickup, and an idle pickup exits after max_idle.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonPids, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts } from "../helpers/smtp.js";

describe("pickup on demand (wakeup 60?)", () => {
  let sb: Sandbox;
  let user: string;
  let maildir: string;

  const submit = async (seq: string) => {
    const r = await sb.cli(["sendmail", `${user}@localhost`], {
      input: `X-Seq: ${seq}\nSubject: ${seq}\n\nbody\n`,
    });
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    sb = await Sandbox.create();
    user = process.env["USER"] ?? "root";
    maildir = join(sb.dir, "mail", user, "Maildir");
    assert.match(
      readFileSync(join(sb.dir, "master.cf"), "utf8"),
      /^pickup\s+fifo\s+n\s+-\s+n\s+60\?\s+1\s+pickup/m,
    );
    const r = await sb.cli(["conf", "-e", "max_idle = 2s"]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await sb.destroy();
  });

  it("mail left in maildrop while master was down is delivered when master starts", async () => {
    await submit("down-1");
    await sb.start();
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("down-1") === 1 || undefined,
      "down-1 delivered",
    );
  });

  it("an idle pickup exits after max_idle and is not restarted by the timer", async () => {
    await sb.waitFor(() => daemonPids(sb.dir, "pickup").length === 0 || undefined, "pickup to exit", 15_000);
    await sleep(1500);
    assert.deepEqual(daemonPids(sb.dir, "pickup"), []);
    assert.doesNotMatch(sb.maillog(), /pickup.*killed by signal|pickup.*status \d+ exit/);
  });

  it("a submission starts pickup and is delivered", async () => {
    await submit("up-1");
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("up-1") === 1 || undefined,
      "up-1 delivered",
    );
  });
});
