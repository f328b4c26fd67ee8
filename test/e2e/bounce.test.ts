/*
 * Non-delivery end to end: a remote 5xx becomes an RFC 3464 notice in the local sender's
 * Maildir (parsed by Python's email package), mail that keeps failing temporarily expires
 * and is returned, and a notice that cannot be delivered ends at postmaster, once.
 * The remote MX is a scripted SMTP server on loopback (test/smtp-client/fake-server.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runProgram, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, smtpDialog } from "../helpers/smtp.js";
import { type FakeServer, startFakeServer } from "../smtp-client/fake-server.js";

const PARSE_DSN = `
import email, json, sys
m = email.message_from_string(sys.stdin.read())
out = {"type": m.get_content_type(), "report_type": m.get_param("report-type"), "from": m["From"], "subject": m["Subject"], "defects": len(m.defects), "parts": [], "recipients": []}
for part in m.walk():
    out["parts"].append(part.get_content_type())
    if part.get_content_type() == "message/delivery-status":
        blocks = part.get_payload()
        for b in blocks[1:]:
            out["recipients"].append({k: b[k] for k in ("Final-Recipient", "Action", "Status", "Diagnostic-Code") if b[k]})
print(json.dumps(out))
`;

interface Dsn {
  type: string;
  report_type: string;
  from: string;
  subject: string;
  defects: number;
  parts: string[];
  recipients: Record<string, string>[];
}

async function parseDsn(text: string): Promise<Dsn> {
  const r = await runProgram("python3", ["-c", PARSE_DSN], { input: text });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Dsn;
}

function send(port: number, from: string, to: string, subject: string): Promise<string[]> {
  return smtpDialog(port, [
    "EHLO client.example\r\n",
    `MAIL FROM:<${from}>\r\n`,
    `RCPT TO:<${to}>\r\n`,
    "DATA\r\n",
    `Subject: ${subject}\r\n\r\nbody of ${subject}\r\n.\r\n`,
    "QUIT\r\n",
  ]);
}

describe("bounces and expiry", () => {
  let sb: Sandbox;
  let sink: FakeServer;
  let maildir: string;
  const notices = (subject: RegExp) =>
    maildirMessages(maildir).filter((m) => subject.test(m.match(/^Subject: (.*)$/m)?.[1] ?? ""));

  before(async () => {
    sink = await startFakeServer({
      replies: {
        RCPT: (_n, line) =>
          line.includes("nosuch@")
            ? "550 5.1.1 <nosuch@remote.test>: Recipient address rejected: User unknown"
            : line.includes("slow@")
              ? "451 4.3.0 Try again later"
              : "250 2.1.5 Ok",
      },
    });
    sb = await Sandbox.create({ user: "alice" });
    maildir = join(sb.dir, "mail", "alice", "Maildir");
    const r = await sb.cli([
      "conf",
      "-e",
      `relayhost = [127.0.0.1]:${sink.port}`,
      "minimal_backoff_time = 1s",
      "maximal_backoff_time = 1s",
      "queue_run_delay = 1s",
      "maximal_queue_lifetime = 4s",
      "bounce_queue_lifetime = 4s",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
    await sink.close();
  });

  it("returns a remote 5xx to the local sender as an RFC 3464 report", async () => {
    const replies = await send(sb.smtpPort, "alice@localhost", "nosuch@remote.test", "hard-fail");
    assert.match(replies[5] ?? "", /^250 /);
    const [notice] = await sb.waitFor(() => {
      const n = notices(/^Undelivered Mail Returned to Sender$/);
      return n.length > 0 ? n : undefined;
    }, "a non-delivery notice");
    await sb.waitLog(
      /status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 .*\(in reply to RCPT TO command\)\)/,
    );
    await sb.waitLog(/postern\/bounce\[\d+\]: \w+: sender non-delivery notification: \w+/);
    const dsn = await parseDsn(notice ?? "");
    assert.equal(dsn.type, "multipart/report");
    assert.equal(dsn.report_type, "delivery-status");
    assert.equal(dsn.defects, 0);
    assert.match(dsn.from, /^MAILER-DAEMON@/);
    assert.ok(dsn.parts.includes("message/delivery-status"));
    assert.ok(dsn.parts.includes("message/rfc822") || dsn.parts.includes("text/rfc822-headers"));
    assert.deepEqual(
      dsn.recipients.map((r) => [r["Final-Recipient"], r["Action"], r["Status"]]),
      [["rfc822; nosuch@remote.test", "failed", "5.1.1"]],
    );
    assert.match(dsn.recipients[0]?.["Diagnostic-Code"] ?? "", /^smtp; 550 5\.1\.1 /);
    assert.match(notice ?? "", /^Return-Path: <>$/m);
  });

  it("expires mail that keeps failing temporarily and returns it to the sender", async () => {
    const replies = await send(sb.smtpPort, "alice@localhost", "slow@remote.test", "soft-fail");
    assert.match(replies[5] ?? "", /^250 /);
    await sb.waitLog(
      /to=<slow@remote\.test>, .*status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.0 Try again later/,
    );
    await sb.waitLog(/: from=<alice@localhost>, status=expired, returned to sender/, 20_000);
    const [notice] = await sb.waitFor(
      () => {
        const n = maildirMessages(maildir).filter(
          (m) => /slow@remote\.test/.test(m) && /^Subject: Undelivered Mail Returned to Sender$/m.test(m),
        );
        return n.length > 0 ? n : undefined;
      },
      "the expiry notice",
      20_000,
    );
    const dsn = await parseDsn(notice ?? "");
    assert.equal(dsn.recipients[0]?.["Action"], "failed");
    assert.equal(dsn.recipients[0]?.["Final-Recipient"], "rfc822; slow@remote.test");
  });

  it("sends a notice that cannot be delivered to postmaster, once, and no further", async () => {
    const before = notices(/^Postmaster Copy/).length;
    const replies = await send(sb.smtpPort, "ghost@localhost", "nosuch@remote.test", "double");
    assert.match(replies[5] ?? "", /^250 /);
    await sb.waitLog(/to=<ghost@localhost>, relay=local, .*status=bounced \(unknown user/);
    await sb.waitFor(() => notices(/^Postmaster Copy/).length > before || undefined, "the postmaster copy");
    await sleep(3000);
    assert.equal(notices(/^Postmaster Copy/).length, before + 1);
    const queue = await sb.cli(["queue", "-p"]);
    assert.equal(queue.stdout.match(/ghost|double-bounce/g), null, queue.stdout);
  });
});
