/*
 * Mail in, end to end: real master, smtpd, cleanup, qmgr and local in a sandbox; real
 * clients (Python's smtplib, swaks); real Maildir and mbox files.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, mboxMessages, seqCounts, smtpDialog, smtpLoad } from "../helpers/smtp.js";

const USER = "alice";

/** No queue file left (temp files of writers that were refused do not count). */
function queueEmpty(sb: Sandbox): boolean {
  for (const q of ["incoming", "active", "deferred"]) {
    const d = join(sb.dir, "spool", q);
    if (existsSync(d) && readdirSync(d).some((f) => !f.startsWith("."))) return false;
  }
  return true;
}

async function waitDelivered(sb: Sandbox, maildir: string, n: number, timeoutMs = 30_000): Promise<string[]> {
  return sb.waitFor(
    () => {
      const m = maildirMessages(maildir);
      return m.length >= n ? m : undefined;
    },
    `${n} messages in ${maildir}`,
    timeoutMs,
  );
}

function python(code: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return runProgram("python3", ["-c", code]);
}

describe("mail in: delivery", () => {
  let sb: Sandbox;
  let maildir: string;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    maildir = join(sb.dir, "mail", USER, "Maildir");
    appendFileSync(
      join(sb.dir, "users"),
      `bob:*::::${sb.dir}/mail/bob::userdb_mail=mbox:~/mail:INBOX=~/mbox\n`,
    );
    appendFileSync(join(sb.dir, "aliases"), `team: ${USER}, bob\n`);
    assert.equal((await sb.cli(["aliases"])).code, 0);
    assert.equal((await sb.cli(["conf", "-e", "message_size_limit = 20000"])).code, 0);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("delivers a message from Python's smtplib into the user's Maildir", async () => {
    const r = await python(
      `import smtplib; s = smtplib.SMTP("127.0.0.1", ${sb.smtpPort}); print(s.sendmail("py@example.org", ["${USER}@localhost"], "Subject: from python\\r\\nX-Seq: py-1\\r\\n\\r\\nhello from smtplib\\r\\n")); s.quit()`,
    );
    assert.equal(r.code, 0, r.stderr);
    const [msg] = await waitDelivered(sb, maildir, 1);
    assert.match(msg ?? "", /^Return-Path: <py@example\.org>$/m);
    assert.match(msg ?? "", /^Delivered-To: alice@localhost$/m);
    assert.match(
      msg ?? "",
      /^Received: from \S+ \(localhost \[127\.0\.0\.1\]\)\n\tby \S+ \(Postern\) with ESMTP id \w+\n\tfor <alice@localhost>;/m,
    );
    assert.match(msg ?? "", /\n\nhello from smtplib\n$/);
    const log = await sb.waitLog(
      /: to=<alice@localhost>, relay=local, delay=[\d.]+, delays=[\d.]+\/[\d.]+\/[\d.]+\/[\d.]+, dsn=2\.0\.0, status=sent \(delivered to maildir\)/,
    );
    assert.ok(log);
    await sb.waitLog(/postern\/qmgr\[\d+\]: \w+: removed/);
    assert.match(
      sb.maillog(),
      /postern\/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5/,
    );
  });

  it("delivers a message from swaks", async () => {
    const r = await runProgram("swaks", [
      "--server",
      `127.0.0.1:${sb.smtpPort}`,
      "--to",
      `${USER}@localhost`,
      "--from",
      "sw@example.org",
      "--header",
      "X-Seq: swaks-1",
      "--body",
      "hello from swaks",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<- {2}250 2\.0\.0 Ok: queued as \w+/);
    const msgs = await waitDelivered(sb, maildir, 2);
    assert.equal(seqCounts(msgs).get("swaks-1"), 1);
  });

  it("delivers to an mbox with a From_ line and >From quoting", async () => {
    const r = await python(
      `import smtplib; s = smtplib.SMTP("127.0.0.1", ${sb.smtpPort}); s.sendmail("", ["bob@localhost"], "Subject: mbox\\r\\nX-Seq: mbox-1\\r\\n\\r\\nFrom the start\\r\\n>From quoted\\r\\n"); s.quit()`,
    );
    assert.equal(r.code, 0, r.stderr);
    const mbox = join(sb.dir, "mail", "bob", "mbox");
    const [m] = await sb.waitFor(() => {
      const list = mboxMessages(mbox);
      return list.length > 0 ? list : undefined;
    }, "mbox delivery");
    assert.match(m ?? "", /^From MAILER-DAEMON {2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\n/);
    assert.match(m ?? "", /\n>From the start\n>>From quoted\n\n$/);
    await sb.waitLog(/to=<bob@localhost>, relay=local, .*status=sent \(delivered to mailbox\)/);
  });

  it("fans an alias out to every member, once each", async () => {
    const r = await python(
      `import smtplib; s = smtplib.SMTP("127.0.0.1", ${sb.smtpPort}); s.sendmail("a@example.org", ["team@localhost"], "Subject: team\\r\\nX-Seq: team-1\\r\\n\\r\\nto the team\\r\\n"); s.quit()`,
    );
    assert.equal(r.code, 0, r.stderr);
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("team-1") === 1,
      "alias copy in alice's Maildir",
    );
    await sb.waitFor(
      () => seqCounts(mboxMessages(join(sb.dir, "mail", "bob", "mbox"))).get("team-1") === 1,
      "alias copy in bob's mbox",
    );
  });

  it("rejects an unknown local user at RCPT with 550 5.1.1 and logs it as Postfix does", async () => {
    const replies = await smtpDialog(sb.smtpPort, [
      "EHLO client.example\r\n",
      "MAIL FROM:<x@example.org>\r\n",
      "RCPT TO:<nobody@localhost>\r\n",
      "QUIT\r\n",
    ]);
    assert.equal(
      replies[3],
      "550 5.1.1 <nobody@localhost>: Recipient address rejected: User unknown in local recipient table",
    );
    await sb.waitLog(
      /NOQUEUE: reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <nobody@localhost>: Recipient address rejected: User unknown in local recipient table; from=<x@example\.org> to=<nobody@localhost> proto=ESMTP helo=<client\.example>/,
    );
  });

  it("refuses a message over message_size_limit, announced with SIZE or streamed", async () => {
    const announced = await smtpDialog(sb.smtpPort, [
      "EHLO c\r\n",
      "MAIL FROM:<x@example.org> SIZE=30000\r\n",
      "QUIT\r\n",
    ]);
    assert.match(announced[2] ?? "", /^552 5\.3\.4 Message size exceeds fixed limit/);
    const big = `Subject: big\r\n\r\n${"x".repeat(998)}\r\n`.repeat(1) + `${"y".repeat(998)}\r\n`.repeat(30);
    const streamed = await smtpDialog(sb.smtpPort, [
      "EHLO c\r\n",
      "MAIL FROM:<x@example.org>\r\n",
      `RCPT TO:<${USER}@localhost>\r\n`,
      "DATA\r\n",
      `${big}.\r\n`,
      "QUIT\r\n",
    ]);
    assert.match(streamed[5] ?? "", /^552 5\.3\.4 /);
    await sb.waitLog(/reject: END-OF-MESSAGE from localhost\[127\.0\.0\.1\]: 552 5\.3\.4 /);
    await sb.waitFor(() => queueEmpty(sb), "an empty queue");
    assert.equal(maildirMessages(maildir).filter((m) => /^Subject: big$/m.test(m)).length, 0);
  });

  it("delivers 1,000 messages sent over 20 parallel connections exactly once", async () => {
    const before = maildirMessages(maildir).length;
    const load = await smtpLoad(sb.smtpPort, {
      total: 1000,
      conns: 20,
      rcpt: `${USER}@localhost`,
      tag: "bulk",
    });
    assert.equal(load.failed.length, 0, `failed: ${load.failed.slice(0, 10).join(",")}`);
    const msgs = await waitDelivered(sb, maildir, before + 1000, 90_000);
    const counts = seqCounts(msgs);
    for (let i = 0; i < 1000; i++) assert.equal(counts.get(`bulk-${i}`), 1, `bulk-${i} delivered once`);
    await sb.waitFor(() => queueEmpty(sb), "an empty queue");
  });
});

describe("mail in: relay control for clients outside mynetworks", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    assert.equal((await sb.cli(["conf", "-e", "mynetworks = 192.0.2.0/24"])).code, 0);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  const tricks = [
    "user@example.com",
    "user%example.com@localhost",
    '"user@example.com"@localhost',
    "@localhost:user@example.com",
    "user@example.com@localhost",
    "example.com!user@localhost",
    "user@[192.0.2.1]",
  ];
  for (const rcpt of tricks) {
    it(`refuses RCPT TO:<${rcpt}>`, async () => {
      const replies = await smtpDialog(sb.smtpPort, [
        "EHLO c.example\r\n",
        "MAIL FROM:<x@example.org>\r\n",
        `RCPT TO:<${rcpt}>\r\n`,
        "DATA\r\n",
        "QUIT\r\n",
      ]);
      assert.match(replies[3] ?? "", /^[45]\d\d [45]\.\d\.\d /, `RCPT reply: ${replies[3]}`);
      assert.match(replies[4] ?? "", /^554 5\.5\.1 Error: no valid recipients/);
    });
  }

  it("still accepts mail for a local user", async () => {
    const replies = await smtpDialog(sb.smtpPort, [
      "EHLO c.example\r\n",
      "MAIL FROM:<x@example.org>\r\n",
      `RCPT TO:<${USER}@localhost>\r\n`,
      "QUIT\r\n",
    ]);
    assert.match(replies[3] ?? "", /^250 2\.1\.5 /);
  });
});
