/*
 * trigger — cleanup wakes qmgr through master's IPC channel: with public/qmgr gone (so a
 * trigger connection would fail and qmgr would sleep until its 300 s timer), a message
 * submitted while qmgr idles is still delivered at once.
 */
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonPids, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts } from "../helpers/smtp.js";

describe("qmgr wake-up from cleanup", () => {
  let sb: Sandbox;
  before(async () => {
    sb = await Sandbox.create();
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("reaches an idle qmgr without the public/qmgr socket", async () => {
    const user = process.env["USER"] ?? "root";
    const maildir = join(sb.dir, "mail", user, "Maildir");
    await sb.waitFor(() => daemonPids(sb.dir, "qmgr").length === 1 || undefined, "qmgr running");
    await sb.waitLog(/postern\/qmgr\[\d+\]: /, 15_000).catch(() => undefined);
    const socket = join(sb.dir, "spool", "public", "qmgr");
    assert.ok(existsSync(socket));
    rmSync(socket);
    const r = await sb.cli(["sendmail", `${user}@localhost`], { input: "X-Seq: t1\nSubject: t1\n\nbody\n" });
    assert.equal(r.code, 0, r.stderr);
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("t1") === 1 || undefined,
      "t1 delivered",
      10_000,
    );
    assert.doesNotMatch(sb.maillog(), /trigger for unknown service/);
  });
});
