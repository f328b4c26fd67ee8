import assert from "node:assert/strict";
import { test } from "node:test";
import { reply } from "../../lib/smtp/reply.js";
import {
  clientLine,
  commandSummary,
  connectLine,
  disconnectLine,
  lostConnectionLine,
  protocolWarningLine,
  rejectLine,
  timeoutLine,
} from "../../lib/smtp/session-log.js";
import { harness } from "./harness.js";

test("connect and disconnect lines match Postfix", () => {
  assert.equal(connectLine("mail.example", "192.0.2.1"), "connect from mail.example[192.0.2.1]");
  const stats = new Map([
    ["quit", { ok: 1, total: 1 }],
    ["ehlo", { ok: 1, total: 1 }],
    ["rcpt", { ok: 1, total: 2 }],
    ["mail", { ok: 1, total: 1 }],
    ["data", { ok: 1, total: 1 }],
  ]);
  assert.equal(
    disconnectLine("unknown", "192.0.2.1", stats),
    "disconnect from unknown[192.0.2.1] ehlo=1 mail=1 rcpt=1/2 data=1 quit=1 commands=5/6",
  );
});

test("a silent client disconnects with commands=0, and unknown commands come last", () => {
  assert.equal(commandSummary(new Map()), "commands=0");
  const stats = new Map([
    ["unknown", { ok: 0, total: 1 }],
    ["starttls", { ok: 1, total: 1 }],
    ["ehlo", { ok: 2, total: 2 }],
  ]);
  assert.equal(commandSummary(stats), "ehlo=2 starttls=1 unknown=0/1 commands=3/4");
});

test("the engine's stats produce the disconnect summary", async () => {
  const h = harness();
  await h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n");
  assert.equal(commandSummary(h.engine.stats), "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5");
});

test("lost connection and timeout lines name the stage", () => {
  assert.equal(
    lostConnectionLine("h", "192.0.2.1", "DATA (12 bytes)"),
    "lost connection after DATA (12 bytes) from h[192.0.2.1]",
  );
  assert.equal(timeoutLine("h", "192.0.2.1", "RCPT"), "timeout after RCPT from h[192.0.2.1]");
});

test("reject lines carry from, to, proto and helo as Postfix's log_whatsup", () => {
  const r = reply(550, "5.1.1", "<u@d>: Recipient address rejected: User unknown in local recipient table");
  assert.equal(
    rejectLine({
      stage: "RCPT",
      host: "h",
      ip: "192.0.2.1",
      reply: r,
      sender: "s@x",
      recipient: "u@d",
      proto: "ESMTP",
      helo: "c.example",
    }),
    "NOQUEUE: reject: RCPT from h[192.0.2.1]: 550 5.1.1 <u@d>: Recipient address rejected: User unknown in local recipient table; from=<s@x> to=<u@d> proto=ESMTP helo=<c.example>",
  );
  assert.equal(
    rejectLine({
      queueId: "4QxY",
      stage: "END-OF-MESSAGE",
      host: "h",
      ip: "192.0.2.1",
      reply: reply(552, "5.3.4", "Error: message file too big"),
      sender: "",
      proto: "SMTP",
    }),
    "4QxY: reject: END-OF-MESSAGE from h[192.0.2.1]: 552 5.3.4 Error: message file too big; from=<> proto=SMTP",
  );
});

test("client lines add SASL fields when authenticated", () => {
  assert.equal(clientLine({ queueId: "4QxY", host: "h", ip: "192.0.2.1" }), "4QxY: client=h[192.0.2.1]");
  assert.equal(
    clientLine({ queueId: "4QxY", host: "h", ip: "192.0.2.1", saslMethod: "PLAIN", saslUsername: "bob" }),
    "4QxY: client=h[192.0.2.1], sasl_method=PLAIN, sasl_username=bob",
  );
});

test("client-controlled text cannot forge a second log line", () => {
  assert.equal(lostConnectionLine("h\nx", "1", "A\r\nB"), "lost connection after A??B from h?x[1]");
  assert.equal(
    protocolWarningLine("h", "1", "non-SMTP command: GET / HTTP/1.1"),
    "warning: non-SMTP command from h[1]: GET / HTTP/1.1",
  );
});
