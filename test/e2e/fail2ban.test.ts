/*
 * fail2ban: failed POP3, IMAP and SMTP AUTH logins through the real master, then Debian's
 * fail2ban-regex with the stock dovecot and postfix filters, parameterised exactly as
 * etc/fail2ban/postern.conf ships them, must find the client's address in maillog.
 * Skipped (with the reason) where fail2ban is not installed; .ci/run installs it.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, runProgram, Sandbox } from "../helpers/sandbox.js";

const HAVE_F2B = existsSync("/usr/bin/fail2ban-regex");

/** The filter lines of the shipped jail file, by jail name. */
function shippedFilter(jail: string): string {
  const text = readFileSync(join(REPO, "etc", "fail2ban", "postern.conf"), "utf8");
  const section = text.split(/^\[/m).find((s) => s.startsWith(`${jail}]`));
  const m = /^filter\s*=\s*(.+)$/m.exec(section ?? "");
  assert.ok(m?.[1], `no filter for ${jail}`);
  return m[1].trim();
}

describe("fail2ban's stock filters match postern's log lines", {
  skip: HAVE_F2B ? false : "fail2ban is not installed",
}, () => {
  let sb: Sandbox;
  const seconds = { pop3: 0, imap: 0, smtp: 0 };
  /** How long a failed login took to be answered, in ms. */
  const timed = async (work: Promise<unknown>): Promise<number> => {
    const t0 = Date.now();
    await work;
    return Date.now() - t0;
  };
  before(async () => {
    sb = await Sandbox.create({ user: "alice" });
    const pw = await sb.cli(["user", "passwd", "alice"], { input: "right-password\n" });
    assert.equal(pw.code, 0, pw.stderr);
    await sb.start();
    const py = async (code: string) => {
      const r = await runProgram("python3", ["-c", code], { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
    };
    seconds.pop3 = await timed(
      py(
        `import poplib\np=poplib.POP3("127.0.0.1",${sb.base + 110})\np.user("alice")\ntry:\n  p.pass_("wrong")\nexcept poplib.error_proto:\n  pass\np.quit()`,
      ),
    );
    seconds.imap = await timed(
      py(
        `import imaplib\nm=imaplib.IMAP4("127.0.0.1",${sb.base + 143})\ntry:\n  m.login("alice","wrong")\nexcept imaplib.IMAP4.error:\n  pass\nm.logout()`,
      ),
    );
    seconds.smtp = await timed(
      runProgram(
        "swaks",
        [
          "--server",
          `127.0.0.1:${sb.base + 587}`,
          "--tls",
          "--auth",
          "PLAIN",
          "--auth-user",
          "alice",
          "--auth-password",
          "wrong",
          "--to",
          "alice@localhost",
          "--quit-after",
          "AUTH",
        ],
        { timeoutMs: 30_000 },
      ),
    );
    await sb.waitLog(/pop3-login: (Disconnected|Aborted login) \(auth failed/);
    await sb.waitLog(/imap-login: (Disconnected|Aborted login) \(auth failed/);
    await sb.waitLog(/SASL PLAIN authentication failed/);
  });
  after(async () => {
    await sb.destroy();
  });

  const regex = async (filter: string) => {
    const r = await runProgram("fail2ban-regex", [join(sb.dir, "maillog"), filter], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  it("the penalty delay doubles per failure from one address, across POP3, IMAP and SMTP AUTH", () => {
    // Dovecot's auth penalty: 2 s, then 4 s, then 8 s for the same client address.
    assert.ok(seconds.pop3 >= 1800, `POP3 failure answered after ${seconds.pop3} ms`);
    assert.ok(seconds.imap >= 3800, `IMAP failure answered after ${seconds.imap} ms`);
    assert.ok(seconds.smtp >= 7800, `SMTP AUTH failure answered after ${seconds.smtp} ms`);
  });

  it("the dovecot filter bans POP3 and IMAP login failures", async () => {
    const out = await regex(shippedFilter("postern-dovecot"));
    const matched = Number(/Lines: \d+ lines, \d+ ignored, (\d+) matched/.exec(out)?.[1]);
    assert.ok(matched >= 2, out);
    assert.match(out, /127\.0\.0\.1/);
  });

  it("the postfix filter in auth mode bans SMTP AUTH failures", async () => {
    const out = await regex(shippedFilter("postern-sasl"));
    const matched = Number(/Lines: \d+ lines, \d+ ignored, (\d+) matched/.exec(out)?.[1]);
    assert.ok(matched >= 1, out);
  });
});
