/*
 * Submission end to end: port 587 (STARTTLS required, then AUTH) and 465 (implicit TLS),
 * passwords checked by the auth service, the user recorded in the log and in Received,
 * failures delayed and logged in the form fail2ban's postfix-sasl filter reads.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts } from "../helpers/smtp.js";

describe("submission with STARTTLS and AUTH", () => {
  let sb: Sandbox;
  let maildir: string;
  const swaks = (...args: string[]) =>
    runProgram("swaks", ["--from", "bob@localhost", "--to", "sam@localhost", ...args]);

  before(async () => {
    sb = await Sandbox.create({ user: "sam" });
    maildir = join(sb.dir, "mail", "sam", "Maildir");
    assert.equal((await sb.cli(["user", "add", "bob"], { input: "Tr0ub4dor&3\n" })).code, 0);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("accepts mail on 587 after STARTTLS and AUTH PLAIN, and records the user", async () => {
    const r = await swaks(
      "--server",
      `127.0.0.1:${sb.base + 587}`,
      "--tls",
      "--auth",
      "PLAIN",
      "--auth-user",
      "bob",
      "--auth-password",
      "Tr0ub4dor&3",
      "--header",
      "X-Seq: sub-1",
    );
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /<~ {2}235 2\.7\.0 Authentication successful/);
    const msgs = await sb.waitFor(
      () => (seqCounts(maildirMessages(maildir)).get("sub-1") ? maildirMessages(maildir) : undefined),
      "delivery",
    );
    const msg = msgs.find((m) => /X-Seq: sub-1/.test(m)) ?? "";
    assert.match(msg, /\(Authenticated sender: bob\)/);
    assert.match(msg, /with ESMTPSA id/);
    await sb.waitLog(
      /postern\/submission\/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=bob/,
    );
  });

  it("accepts mail on 465 (implicit TLS) from Python's smtplib with AUTH LOGIN", async () => {
    const code = `
import smtplib, ssl
ctx = ssl.create_default_context(cafile="${sb.dir}/tls/cert.pem")
s = smtplib.SMTP_SSL("localhost", ${sb.base + 465}, context=ctx)
s.login("bob", "Tr0ub4dor&3")
s.sendmail("bob@localhost", ["sam@localhost"], "Subject: smtps\\r\\nX-Seq: sub-2\\r\\n\\r\\nover implicit TLS\\r\\n")
s.quit()`;
    const r = await runProgram("python3", ["-c", code]);
    assert.equal(r.code, 0, r.stderr);
    await sb.waitFor(
      () => seqCounts(maildirMessages(maildir)).get("sub-2") === 1 || undefined,
      "delivery over smtps",
    );
  });

  it("requires STARTTLS on 587 and refuses to relay without AUTH", async () => {
    const plain = await swaks("--server", `127.0.0.1:${sb.base + 587}`);
    assert.match(plain.stdout, /<\*\* 530 5\.7\.0 Must issue a STARTTLS command first/);
    const noAuth = await runProgram("swaks", [
      "--server",
      `127.0.0.1:${sb.base + 587}`,
      "--tls",
      "--from",
      "x@example.org",
      "--to",
      "someone@example.com",
    ]);
    assert.match(noAuth.stdout, /<~\* 554 5\.7\.1 /);
  });

  it("delays a failed login, answers 535 5.7.8 and logs it for fail2ban", async () => {
    const started = Date.now();
    const r = await swaks(
      "--server",
      `127.0.0.1:${sb.base + 465}`,
      "--tlsc",
      "--auth",
      "PLAIN",
      "--auth-user",
      "bob",
      "--auth-password",
      "wrong",
    );
    assert.match(r.stdout, /<~\* 535 5\.7\.8 Error: authentication failed: authentication failure/);
    assert.ok(Date.now() - started >= 1500, "the failure was answered after the penalty delay");
    await sb.waitLog(
      /postern\/smtps\/smtpd\[\d+\]: warning: localhost\[127\.0\.0\.1\]: SASL PLAIN authentication failed: authentication failure/,
    );
    await sb.waitLog(/postern\/auth\[\d+\]: passwd-file\(bob,127\.0\.0\.1\): Password mismatch/);
  });
});
