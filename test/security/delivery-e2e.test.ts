/*
 * delivery-e2e — hostile addresses against local delivery and hostile pipelining against
 * POP3, through a real master in a sandbox: "../" in the local part and its extension, in
 * alias values must never create or touch a file outside the
 * recipient's Maildir (such mail is delivered to the user's INBOX or bounced); and commands
 * pipelined behind POP3 STLS are discarded.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, smtpDialog } from "../helpers/smtp.js";

const USER = "alice";

/** Every file below dir (relative paths). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

describe("security: local delivery and POP3 through the real master", () => {
  let sb: Sandbox;
  let maildir: string;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    maildir = join(sb.dir, "mail", USER, "Maildir");
    appendFileSync(
      join(sb.dir, "aliases"),
      "evil1: ../../../escape-alias\nevil2: alice/../../escape-alias2\nevil3: alice+../../../escape-alias3\n",
    );
    assert.equal((await sb.cli(["aliases"])).code, 0);
    const pw = await sb.cli(["user", "passwd", USER], { input: "secret\n" });
    assert.equal(pw.code, 0, pw.stderr);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("keeps '../' in local parts, extensions and alias values inside the user's Maildir", async () => {
    const before = new Set(filesUnder(sb.dir));
    const rcpts = [
      "alice+../../../escape-ext@localhost",
      "alice+..@localhost",
      "alice+/tmp/escape-abs@localhost",
      "evil1@localhost",
      "evil2@localhost",
      "evil3@localhost",
      '"../alice"@localhost',
      "alice@localhost",
    ];
    for (const rcpt of rcpts) {
      await smtpDialog(sb.smtpPort, [
        "EHLO c.example\r\n",
        "MAIL FROM:<>\r\n",
        `RCPT TO:<${rcpt}>\r\n`,
        "DATA\r\n",
        `Subject: traversal ${rcpt}\r\n\r\nbody\r\n.\r\n`,
        "QUIT\r\n",
      ]);
    }
    await sb.waitLog(/status=(?:sent|bounced).*\n(?:.*\n)*.*status=(?:sent|bounced)/, 20_000);
    await sb.waitFor(
      () =>
        readdirSync(join(sb.dir, "spool", "active")).filter((f) => !f.startsWith(".")).length === 0 &&
        readdirSync(join(sb.dir, "spool", "incoming")).filter((f) => !f.startsWith(".")).length === 0,
      "the queue to settle",
      20_000,
    );
    const added = filesUnder(sb.dir).filter((f) => !before.has(f));
    const outside = added.filter(
      (f) => !f.startsWith(`mail/${USER}/Maildir/`) && !f.startsWith("spool/") && !/^(maillog|pid\/)/.test(f),
    );
    assert.deepEqual(outside, [], "no file outside the Maildir and the queue");
    assert.doesNotMatch(readdirSync("/tmp").join(" "), /escape-/);
    for (const f of added.filter((x) => x.startsWith(`mail/${USER}/Maildir/`)))
      assert.match(f, /^mail\/alice\/Maildir\/(?:new|cur|tmp)\/[^/]+$|^mail\/alice\/Maildir\/[^/]+$/);
    assert.ok(maildirMessages(maildir).length >= 1, "the alice+... messages reached the INBOX");
    await sb.waitLog(
      /to=<evil1@localhost>.*status=bounced \(unknown user: "\.\.\/\.\.\/\.\.\/escape-alias"\)/,
    );
  });

  it("discards POP3 commands pipelined behind STLS", async () => {
    const plain = connect(sb.base + 110, "127.0.0.1");
    await new Promise((r) => plain.once("data", r));
    plain.write("CAPA\r\nSTLS\r\nUSER alice\r\nPASS secret\r\n");
    let pre = "";
    await new Promise<void>((resolve) => {
      plain.on("data", function onData(d) {
        pre += d.toString("latin1");
        if (pre.includes("+OK Begin TLS")) {
          plain.off("data", onData);
          resolve();
        }
      });
    });
    const tls = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise((r) => tls.once("secureConnect", r));
    let post = "";
    tls.on("data", (d) => (post += d.toString("latin1")));
    tls.write("PASS secret\r\nQUIT\r\n");
    await new Promise((r) => tls.once("end", r));
    tls.destroy();
    assert.match(post, /^-ERR No username given\.\r$/m, `after STLS: ${post}`);
    assert.doesNotMatch(post, /Logged in/);
  });
});
