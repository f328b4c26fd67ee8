/*
 * confine — master.cf's chroot column end to end (lib/master/confine). Every service that
 * Postfix would chroot runs confined here (smtpd, cleanup, qmgr, pickup, bounce, smtp,
 * showq, auth and the login processes); local, pop3 and imap stay unconfined as they must.
 * Mail still flows through all of them (SMTP in, sendmail through pickup, a bounce, a POP3
 * login), the confined workers carry the permission flags and the unconfined do not, and
 * with a confined worker's own flags a file outside its grants cannot be read while its
 * main.cf can. `postern check` names a local service with chroot = y.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonPids, runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages, smtpDialog } from "../helpers/smtp.js";

const UNCONFINED = new Set(["local", "pop3", "imap"]);

/** master.cf with the chroot column (5th) set to y for every service but local, pop3 and imap. */
function confineAll(masterCf: string): string {
  return masterCf
    .split("\n")
    .map((line) => {
      const f = line.split(/\s+/);
      if (line.startsWith("#") || /^\s/.test(line) || f.length < 8) return line;
      if (UNCONFINED.has(f[7] as string)) return line;
      f[4] = "y";
      return f.join("  ");
    })
    .join("\n");
}

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

describe("chroot = y: confined workers", () => {
  let sb: Sandbox;
  let user: string;
  let secretDir: string;

  before(async () => {
    sb = await Sandbox.create();
    user = process.env["USER"] ?? "root";
    const file = join(sb.dir, "master.cf");
    writeFileSync(file, confineAll(readFileSync(file, "utf8")));
    secretDir = mkdtempSync(join(tmpdir(), "postern-secret-"));
    writeFileSync(join(secretDir, "secret"), "not for smtpd\n");
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
    rmSync(secretDir, { recursive: true, force: true });
  });

  it("mail flows through confined smtpd, cleanup, qmgr, pickup and bounce", async () => {
    const replies = await smtpDialog(sb.smtpPort, [
      "EHLO client.example\r\n",
      `MAIL FROM:<${user}@localhost>\r\n`,
      `RCPT TO:<${user}@localhost>\r\n`,
      "DATA\r\n",
      "Subject: confined\r\n\r\nthrough confined workers\r\n.\r\n",
      "QUIT\r\n",
    ]);
    assert.ok(
      replies.some((r) => r.startsWith("250 2.0.0 Ok: queued")),
      replies.join("\n"),
    );
    // pickup takes any recipient; local then bounces the unknown one.
    const r = await sb.cli(
      ["sendmail", "-f", `${user}@localhost`, `${user}@localhost`, "nobody-here@localhost"],
      {
        input: "Subject: through pickup\n\nvia maildrop\n",
      },
    );
    assert.equal(r.code, 0, r.stderr);
    await sb.waitLog(/postern\/bounce\[\d+\]: \w+: sender non-delivery notification: \w+/);
    const maildir = join(sb.dir, "mail", user, "Maildir");
    await sb.waitFor(
      () => maildirMessages(maildir).length >= 3 || undefined,
      "three messages in the Maildir",
    );
    const texts = maildirMessages(maildir).join("\n");
    assert.match(texts, /Subject: confined/);
    assert.match(texts, /Subject: through pickup/);
    assert.match(texts, /Undelivered Mail Returned to Sender/);
    assert.doesNotMatch(sb.maillog(), /killed by signal|ERR_ACCESS_DENIED|has been restricted/);
  });

  it("a POP3 login through confined pop3-login and auth reaches the unconfined pop3", async () => {
    const pw = await sb.cli(["user", "passwd", user], { input: "secret-pw\n" });
    assert.equal(pw.code, 0, pw.stderr);
    const py = [
      "import poplib, sys",
      `p = poplib.POP3('127.0.0.1', ${sb.base + 110})`,
      `p.user('${user}'); p.pass_('secret-pw')`,
      "print(p.stat()[0]); p.quit()",
    ].join("\n");
    const out = await runProgram("python3", ["-c", py]);
    assert.equal(out.code, 0, out.stderr + sb.maillog().slice(-2000));
    assert.ok(Number(out.stdout.trim()) >= 3, out.stdout);
  });

  it("confined workers carry the permission flags, local and pop3 do not", () => {
    for (const program of ["smtpd", "cleanup", "qmgr", "pickup", "pop3-login", "auth"]) {
      const pids = daemonPids(sb.dir, program);
      assert.ok(pids.length > 0, `no ${program} running`);
      for (const pid of pids)
        assert.ok(argvOf(pid).includes("--experimental-permission"), `${program} ${pid}`);
    }
    for (const program of ["local"]) {
      for (const pid of daemonPids(sb.dir, program))
        assert.ok(!argvOf(pid).includes("--experimental-permission"), `${program} ${pid} is confined`);
    }
  });

  it("with a confined worker's own flags, files outside its grants cannot be read", () => {
    const [pid] = daemonPids(sb.dir, "cleanup");
    assert.ok(pid !== undefined);
    const argv = argvOf(pid);
    const flags = argv.slice(
      1,
      argv.findIndex((a) => a.endsWith("/daemons/cleanup.js")),
    );
    const probe = (path: string) =>
      spawnSync(process.execPath, [...flags, "-e", `require("fs").readFileSync(${JSON.stringify(path)})`], {
        encoding: "utf8",
      });
    const outside = probe(join(secretDir, "secret"));
    assert.notEqual(outside.status, 0);
    assert.match(outside.stderr, /ERR_ACCESS_DENIED/);
    assert.equal(probe(join(sb.dir, "main.cf")).status, 0, probe(join(sb.dir, "main.cf")).stderr);
    const unconfined = spawnSync(process.execPath, [
      "-e",
      `require("fs").readFileSync("${join(secretDir, "secret")}")`,
    ]);
    assert.equal(unconfined.status, 0);
  });

  it("postern check names a chroot = y local service", async () => {
    const file = join(sb.dir, "master.cf");
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace(/^local(\s+)unix(\s+)-(\s+)n(\s+)n/m, "local$1unix$2-$3n$4y"));
    try {
      const r = await sb.cli(["check"]);
      assert.match(r.stderr, /local\/unix: local must not be chrooted/);
    } finally {
      writeFileSync(file, text);
    }
  });
});
