/*
 * Recipes end to end: mail sent over SMTP to a user with a ~/.procmailrc lands in the
 * folders the rc file names (Maildir++ subfolders, as IMAP will show them); a broken rc
 * file is reported with file and line and the mail still reaches the default mailbox.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts, smtpDialog } from "../helpers/smtp.js";

function send(port: number, to: string, headers: string, seq: string): Promise<string[]> {
  return smtpDialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<a@example.org>\r\n",
    `RCPT TO:<${to}>\r\n`,
    "DATA\r\n",
    `${headers}X-Seq: ${seq}\r\nSubject: ${seq}\r\n\r\nbody\r\n.\r\n`,
    "QUIT\r\n",
  ]);
}

describe("recipes in local delivery", () => {
  let sb: Sandbox;
  let home: string;

  before(async () => {
    sb = await Sandbox.create({ user: "rita" });
    home = join(sb.dir, "mail", "rita");
    // An existing mailbox, as a user with a ~/.procmailrc has (procmail cannot chdir to a missing MAILDIR).
    for (const sub of ["new", "cur", "tmp"]) mkdirSync(join(home, "Maildir", sub), { recursive: true });
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("files mail into the Maildir folders ~/.procmailrc names", async () => {
    writeFileSync(
      join(home, ".procmailrc"),
      "MAILDIR=$HOME/Maildir\nDEFAULT=$MAILDIR/\nLOGFILE=$HOME/procmail.log\n\n:0\n* ^List-Id:.*<dev\\.lists\\.example>\n.Lists.dev/\n\n:0 c\n* ^Subject:.*urgent\n.Urgent/\n",
    );
    await send(sb.smtpPort, "rita@localhost", "List-Id: Developers <dev.lists.example>\r\n", "list-1");
    await send(sb.smtpPort, "rita@localhost", "", "plain-1");
    await send(sb.smtpPort, "rita@localhost", "", "urgent-1");
    const maildir = join(home, "Maildir");
    await sb.waitFor(
      () => seqCounts(maildirMessages(join(maildir, ".Lists.dev"))).get("list-1") === 1 || undefined,
      "the list message in .Lists.dev",
    );
    await sb.waitFor(
      () => seqCounts(maildirMessages(join(maildir, ".Urgent"))).get("urgent-1") === 1 || undefined,
      "the carbon copy in .Urgent",
    );
    await sb.waitFor(() => {
      const inbox = seqCounts(maildirMessages(maildir));
      return (inbox.get("plain-1") === 1 && inbox.get("urgent-1") === 1 && !inbox.has("list-1")) || undefined;
    }, "the other messages in INBOX");
    await sb.waitLog(
      /to=<rita@localhost>, relay=local, .*status=sent \(delivered by recipes to .*\.Lists\.dev/,
    );
  });

  it("reports a broken rc file with file and line, and still delivers to the default mailbox", async () => {
    const rc = join(home, ".procmailrc");
    writeFileSync(
      rc,
      "MAILDIR=$HOME/Maildir\n\n:0\n* ^Subject:.*(unclosed\n.Broken/\n\n:0 w\n| /nonexistent/filter-program\n",
    );
    await send(sb.smtpPort, "rita@localhost", "", "broken-1");
    await sb.waitFor(
      () => seqCounts(maildirMessages(join(home, "Maildir"))).get("broken-1") === 1 || undefined,
      "delivery to DEFAULT",
    );
    await sb.waitLog(new RegExp(`warning: \\w+: recipes: ${rc.replace(/[.]/g, "\\.")}:\\d+: `));
  });
});

describe("recipes for a virtual user whose home does not exist yet", () => {
  let sb: Sandbox;
  let home: string;

  before(async () => {
    sb = await Sandbox.create();
    const r = await sb.cli(["user", "add", "vera", "--no-password"]);
    assert.equal(r.code, 0, r.stderr);
    const entry = readFileSync(join(sb.dir, "users"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("vera:"));
    home = entry?.split(":")[5] ?? "";
    assert.ok(home !== "" && !existsSync(home), `home ${home} should not exist yet`);
    // The site rc (recipes_site_rc's default, $config_directory/procmailrc) files some mail.
    writeFileSync(join(sb.dir, "procmailrc"), "MAILDIR=$HOME/Maildir\n:0\n* ^Subject: filed\n.Filed/\n");
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("creates the Maildir and delivers through the site rc into it and its folders", async () => {
    const filed = await send(sb.smtpPort, "vera@localhost", "Subject: filed\r\n", "v1");
    const plain = await send(sb.smtpPort, "vera@localhost", "Subject: plain\r\n", "v2");
    for (const r of [filed, plain])
      assert.ok(
        r.some((l) => l.startsWith("250 2.0.0 Ok: queued")),
        r.join("\n"),
      );
    await sb.waitLog(/to=<vera@localhost>.*status=sent[\s\S]*to=<vera@localhost>.*status=sent/);
    assert.deepEqual([...seqCounts(maildirMessages(join(home, "Maildir", ".Filed"))).entries()], [["v1", 1]]);
    assert.deepEqual([...seqCounts(maildirMessages(join(home, "Maildir"))).entries()], [["v2", 1]]);
  });
});
