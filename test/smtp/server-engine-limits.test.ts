/*
 * The error limits of the SMTP engine as Postfix applies them: junk commands beyond
 * smtpd_junk_command_limit count as errors, smtpd_hard_error_limit ends the session with
 * 421 4.7.0, and an accepted message forgives the errors and junk commands so far.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { reply } from "../../lib/smtp/reply.js";
import { harness } from "./harness.js";

const TOO_MANY = "421 4.7.0 mx.example.org Error: too many errors";

test("junk commands beyond smtpd_junk_command_limit count as errors until the hard limit ends the session", async () => {
  const h = harness({ opts: { junkCommandLimit: 3, hardErrorLimit: 2, softErrorLimit: 100 } });
  for (let i = 0; i < 8 && !h.closed(); i++) await h.send(i % 2 === 0 ? "NOOP\r\n" : "RSET\r\n");
  const replies = h.lines().slice(1);
  // Postfix counts an error from the fifth junk command on (junk count > limit before the
  // increment): two errors after six commands, and the seventh is refused.
  assert.deepEqual(replies.slice(0, 6), Array(6).fill("250 2.0.0 Ok"));
  assert.equal(replies[6], TOO_MANY);
  assert.equal(replies.length, 7);
  assert.ok(h.closed());
});

test("NOOPs within smtpd_junk_command_limit are never errors", async () => {
  const h = harness({ opts: { junkCommandLimit: 100, hardErrorLimit: 1 } });
  await h.send("NOOP\r\n".repeat(101));
  assert.equal(h.lines().filter((l) => l === "250 2.0.0 Ok").length, 101);
  assert.ok(!h.closed());
});

test("an accepted message forgives earlier errors and junk commands", async () => {
  const unknown = reply(550, "5.1.1", "<nobody@d.example>: Recipient address rejected: User unknown");
  const h = harness({
    opts: { hardErrorLimit: 3, junkCommandLimit: 2, softErrorLimit: 100 },
    hooks: { rcptTo: async (_s, _e, r) => (r.address.startsWith("nobody@") ? unknown : null) },
  });
  const bad = "RCPT TO:<nobody@d.example>\r\n";
  await h.send(`EHLO c.example\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@b.example>\r\n${bad}${bad}`);
  await h.send("RCPT TO:<ok@d.example>\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  assert.match(h.lines().at(-1) ?? "", /^250 2\.0\.0 Ok: queued/);
  // Two errors before the message; without forgiveness two more would reach the limit of 3.
  await h.send(`MAIL FROM:<a@b.example>\r\n${bad}${bad}NOOP\r\nNOOP\r\n`);
  const after = h.lines().slice(-5);
  assert.match(after[0] ?? "", /^250 2\.1\.0 /);
  assert.match(after[1] ?? "", /^550 5\.1\.1 /);
  assert.match(after[2] ?? "", /^550 5\.1\.1 /);
  assert.deepEqual(after.slice(3), ["250 2.0.0 Ok", "250 2.0.0 Ok"]);
  assert.ok(!h.closed());
});
