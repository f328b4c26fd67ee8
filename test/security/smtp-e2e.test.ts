/*
 * smtp-e2e — hostile SMTP clients against a real master in a sandbox (real smtpd, cleanup,
 * qmgr, local, real Maildir): the classic open-relay tricks from outside mynetworks, SMTP
 * smuggling variants against a message boundary, STARTTLS command injection, header
 * injection through envelope data, oversize lines. Everything is checked on the wire, in
 * the delivered mailbox and in maillog.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, smtpDialog } from "../helpers/smtp.js";

const USER = "alice";

/** Opens a raw connection, writes `input` in one piece, collects everything until close. */
function rawSession(port: number, input: Buffer | string, waitMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => (out += d.toString("latin1")));
    s.once("data", () => s.write(input));
    const timer = setTimeout(() => s.destroy(), waitMs);
    s.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on("error", () => undefined);
  });
}

function finalCodes(transcript: string): string[] {
  return transcript
    .split("\r\n")
    .filter((l) => /^\d{3} /.test(l))
    .map((l) => l.slice(0, 3));
}

describe("security: SMTP through the real master", () => {
  let sb: Sandbox;
  let maildir: string;
  /** Delivered messages whose header section matches re. */
  const delivered = (re: RegExp): string[] =>
    maildirMessages(maildir).filter((m) => re.test(m.slice(0, m.indexOf("\n\n") + 1)));

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    maildir = join(sb.dir, "mail", USER, "Maildir");
    const r = await sb.cli([
      "conf",
      "-e",
      "mynetworks = 192.0.2.0/24",
      "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  const remoteTricks = [
    "user@example.com",
    "user@example.com.",
    "user%example.com@localhost",
    "alice%localhost@localhost",
    '"user@example.com"@localhost',
    "@localhost:user@example.com",
    "@localhost,@other.example:user@example.com",
    "user@example.com@localhost",
    "example.com!user@localhost",
    "example.com!user",
    "localhost!example.com!user",
    "user@[192.0.2.1]",
    "user@[127.0.0.1]",
    "user@[IPv6:::1]",
    "user@localhost.example.com",
    "user@example.com%localhost",
  ];
  for (const rcpt of remoteTricks) {
    it(`refuses to relay to <${rcpt}> with 554 5.7.1`, async () => {
      const replies = await smtpDialog(sb.smtpPort, [
        "EHLO c.example\r\n",
        "MAIL FROM:<x@example.org>\r\n",
        `RCPT TO:<${rcpt}>\r\n`,
        "QUIT\r\n",
      ]);
      assert.match(
        replies[3] ?? "",
        /^554 5\.7\.1 <[^>]*>: Relay access denied$/,
        `RCPT reply: ${replies[3]}`,
      );
    });
  }

  it("accepts local spellings (case, trailing dot, quoted, bare) and delivers them locally only", async () => {
    const spellings = ["ALICE@LocalHost", "alice@localhost.", '"alice"@localhost', "alice"];
    for (const [i, rcpt] of spellings.entries()) {
      const replies = await smtpDialog(sb.smtpPort, [
        "EHLO c.example\r\n",
        "MAIL FROM:<x@example.org>\r\n",
        `RCPT TO:<${rcpt}>\r\n`,
        "DATA\r\n",
        `Subject: spelling ${i}\r\n\r\nlocal\r\n.\r\n`,
        "QUIT\r\n",
      ]);
      assert.match(replies[5] ?? "", /^250 2\.0\.0 /, `${rcpt}: ${replies.join(" | ")}`);
    }
    await sb.waitFor(
      () => delivered(/^Subject: spelling \d$/m).length === spellings.length,
      "local deliveries",
    );
    assert.doesNotMatch(
      sb.maillog(),
      /relay=(?!local)\S+.*status=/,
      "nothing left through a non-local transport",
    );
  });

  const smuggled = ["\n.\n", "\r.\n", "\n.\r\n", "\r\n.\r", "\r.\r\n", "\r\n.\n", "\r\n\0.\r\n", "\n.\r"];
  for (const [i, boundary] of smuggled.entries()) {
    it(`never splits a message at ${JSON.stringify(boundary)} (SMTP smuggling)`, async () => {
      const input =
        "EHLO c.example\r\nMAIL FROM:<x@example.org>\r\n" +
        `RCPT TO:<${USER}@localhost>\r\nDATA\r\n` +
        `Subject: carrier ${i}\r\n\r\nhello${boundary}` +
        `MAIL FROM:<ceo@localhost>\r\nRCPT TO:<${USER}@localhost>\r\nDATA\r\n` +
        `Subject: smuggled ${i}\r\n\r\npay now\r\n.\r\nQUIT\r\n`;
      const transcript = await rawSession(sb.smtpPort, input);
      assert.deepEqual(finalCodes(transcript), ["220", "250", "250", "250", "354", "250", "221"], transcript);
      await sb.waitFor(
        () => delivered(new RegExp(`^Subject: carrier ${i}$`, "m")).length === 1,
        "the carrier",
      );
      assert.equal(delivered(new RegExp(`^Subject: smuggled ${i}$`, "m")).length, 0);
    });
  }

  it("discards commands pipelined behind STARTTLS (CVE-2011-0411 class)", async () => {
    const plain = connect(sb.smtpPort, "127.0.0.1");
    await new Promise((r) => plain.once("data", r));
    plain.write("EHLO c.example\r\nSTARTTLS\r\nMAIL FROM:<injected@example.org>\r\n");
    let pre = "";
    await new Promise<void>((resolve) => {
      plain.on("data", function onData(d) {
        pre += d.toString("latin1");
        if (/^220 /m.test(pre.split("\r\n").slice(-2).join("\r\n"))) {
          plain.off("data", onData);
          resolve();
        }
      });
    });
    const tls = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise((r) => tls.once("secureConnect", r));
    let post = "";
    tls.on("data", (d) => (post += d.toString("latin1")));
    tls.write("EHLO c.example\r\nRCPT TO:<alice@localhost>\r\nQUIT\r\n");
    await new Promise((r) => tls.once("end", r));
    tls.destroy();
    assert.match(post, /^503 5\.5\.1 Error: need MAIL command\r$/m, "the injected MAIL was never run");
    assert.doesNotMatch(pre + post, /injected/);
  });

  it("keeps CR, LF and NUL in envelope data out of headers and maillog", async () => {
    const attempts = [
      ["HELO x\rX-Injected: helo", "MAIL FROM:<a@example.org>"],
      ["EHLO ok.example", 'MAIL FROM:<"a\rX-Injected: from"@example.org>'],
      ["EHLO ok.example", "MAIL FROM:<a\0X-Injected: nul@example.org>"],
      ["EHLO ok.example", "MAIL FROM:<a@example.org> ENVID=x\rX-Injected:envid"],
    ] as const;
    for (const [i, [helo, mail]] of attempts.entries()) {
      const input = `${helo}\r\n${mail}\r\nRCPT TO:<${USER}@localhost>\r\nDATA\r\nSubject: inject ${i}\r\n\r\nbody\r\n.\r\nQUIT\r\n`;
      const transcript = await rawSession(sb.smtpPort, Buffer.from(input, "latin1"));
      assert.doesNotMatch(transcript, /\r(?!\n)|(?<!\r)\n/, "no bare CR or LF in replies");
    }
    await sleep(1500);
    for (const m of maildirMessages(maildir)) assert.doesNotMatch(m, /^X-Injected/m);
    const log = sb.maillog();
    assert.doesNotMatch(log, /^X-Injected/m);
    assert.doesNotMatch(log, /[\r\0]/, "maillog carries no raw CR or NUL");
  });

  it("answers an oversize command line with 500 5.5.0 and goes on; an endless one costs nothing", async () => {
    const long = `NOOP ${"x".repeat(100_000)}\r\nNOOP\r\nQUIT\r\n`;
    assert.deepEqual(finalCodes(await rawSession(sb.smtpPort, long)), ["220", "500", "250", "221"]);
    const endless = `EHLO c\r\n${"y".repeat(8 << 20)}\r\nNOOP\r\nQUIT\r\n`;
    const codes = finalCodes(await rawSession(sb.smtpPort, endless, 15_000));
    assert.deepEqual(codes, ["220", "250", "500", "250", "221"]);
  });
});
