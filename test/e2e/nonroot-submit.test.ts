/*
 * Local submission by an unprivileged user (run as root, switching to "nobody" with
 * runuser): sendmail drops the message into maildrop (mode 03733: writable and searchable by
 * all, not listable, sticky) without any setgid helper; the user cannot list maildrop, nor
 * read the queue; pickup takes the file, trusting its owner for the uid, and it is delivered.
 */
import assert from "node:assert/strict";
import { chmodSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { POSTERN, runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages } from "../helpers/smtp.js";

const asRoot = process.getuid?.() === 0;

describe("submission by an unprivileged local user", {
  skip: !asRoot && "needs root to run a command as another user",
}, () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.create({ user: "nora" });
    // The sandbox lives in a private temp directory; let other users reach its public parts.
    for (const d of [sb.dir, join(sb.dir, "spool")]) chmodSync(d, 0o755);
    chmodSync(join(sb.dir, "main.cf"), 0o644);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  const asNobody = (args: string[], input?: string) =>
    runProgram(
      "runuser",
      ["-u", "nobody", "--", process.execPath, POSTERN, "-c", sb.dir, ...args],
      input === undefined ? {} : { input },
    );

  it("lets nobody submit with sendmail, and the message is delivered", async () => {
    const r = await asNobody(["sendmail", "-i", "nora@localhost"], "Subject: from nobody\n\nunprivileged\n");
    assert.equal(r.code, 0, r.stderr);
    await sb.waitLog(/postern\/pickup\[\d+\]: \w+: uid=65534 from=<nobody@/);
    const msg = await sb.waitFor(
      () => maildirMessages(join(sb.dir, "mail", "nora", "Maildir")).find((m) => /from nobody/.test(m)),
      "delivery",
    );
    assert.match(msg, /^Received: by \S+ \(Postern, from userid 65534\)/m);
  });

  it("does not let nobody list maildrop or read the queue", async () => {
    const mode = statSync(join(sb.dir, "spool", "maildrop")).mode & 0o7777;
    assert.equal(mode, 0o3733);
    const list = await runProgram("runuser", ["-u", "nobody", "--", "ls", join(sb.dir, "spool", "maildrop")]);
    assert.notEqual(list.code, 0, "maildrop is not listable");
    const incoming = await runProgram("runuser", [
      "-u",
      "nobody",
      "--",
      "ls",
      join(sb.dir, "spool", "incoming"),
    ]);
    assert.notEqual(incoming.code, 0, "the queue is private");
    assert.deepEqual(readdirSync(join(sb.dir, "spool", "maildrop")), []);
  });
});
