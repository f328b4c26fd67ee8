/*
 * POP3 end to end: a real master with pop3-login, pop3 and auth in a sandbox, mail
 * delivered over SMTP into real Maildirs, real clients (Python's poplib, fetchmail, raw
 * sockets). "Remote" clients are simulated by a third pop3-login listener with
 * -o login_loopback_secured=no, since every address a test can bind is loopback.
 */
import assert from "node:assert/strict";
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LineClient } from "../helpers/line-client.js";
import { runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages } from "../helpers/smtp.js";

async function py(code: string): Promise<string> {
  const r = await runProgram("python3", ["-c", code], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

const USER = "alice";
const PW = "alice-secret";

describe("pop3 end to end", () => {
  let sb: Sandbox;
  let pop3: number;
  let cert: string;
  const popUser = (user: string, pw: string, extra = "") =>
    `import poplib\np=poplib.POP3("127.0.0.1",${pop3})\np.user("${user}");p.pass_("${pw}")\n${extra}`;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    pop3 = sb.base + 110;
    cert = join(sb.dir, "tls", "cert.pem");
    const pw = await sb.cli(["user", "passwd", USER], { input: `${PW}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    appendFileSync(join(sb.dir, "users"), `bob:{PLAIN}bob-pw::::${sb.dir}/mail/bob::\n`);
    const conf = await sb.cli(["conf", "-e", "pop3_enable_apop = yes"]);
    assert.equal(conf.code, 0, conf.stderr);
    appendFileSync(
      join(sb.dir, "master.cf"),
      `127.0.0.1:${sb.base + 111} inet n - n - - pop3-login\n  -o login_loopback_secured=no\n`,
    );
    await sb.start();
    const send = (to: string, i: number) =>
      `s.sendmail("s@example.org",["${to}@localhost"],"Subject: m${i}\\r\\nX-Seq: ${i}\\r\\n\\r\\nbody ${i}\\r\\n.leading dot\\r\\n")`;
    await py(
      `import smtplib\ns=smtplib.SMTP("127.0.0.1",${sb.smtpPort})\n${[1, 2, 3].map((i) => send(USER, i)).join("\n")}\n${send("bob", 9)}\ns.quit()`,
    );
    await sb.waitFor(
      () => maildirMessages(join(sb.dir, "mail", USER, "Maildir")).length === 3,
      "3 messages for alice",
    );
    await sb.waitFor(
      () => maildirMessages(join(sb.dir, "mail", "bob", "Maildir")).length === 1,
      "1 message for bob",
    );
  });
  after(async () => {
    await sb.destroy();
  });

  it("serves USER/PASS, STAT, LIST, UIDL and RETR with exact CRLF sizes, and logs in Dovecot's form", async () => {
    const out = await py(
      popUser(
        USER,
        PW,
        `n,size=p.stat()\nr=[p.retr(i) for i in range(1,n+1)]\nprint(n, size, sum(x[2] for x in r), r[0][1][-2:], p.uidl()[1])\np.quit()`,
      ),
    );
    assert.match(
      out,
      /^3 (\d+) \1 \[b'body 1', b'\.leading dot'\] \[b'1 [0-9A-F]{16}', b'2 [0-9A-F]{16}', b'3 [0-9A-F]{16}'\]$/,
    );
    await sb.waitLog(
      /postern\/pop3-login\[\d+\]: pop3-login: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, session=<\S+>/,
    );
    await sb.waitLog(
      /postern\/pop3\[\d+\]: pop3\(alice\)<\d+><\S+>: Disconnected: Logged out top=0\/0, retr=3\/\d+, del=0\/3, size=\d+/,
    );
  });

  it("keeps UIDLs stable across sessions", async () => {
    const once = () => py(popUser(USER, PW, "print(p.uidl()[1]);p.quit()"));
    assert.equal(await once(), await once());
  });

  it("accepts APOP with a plaintext-recoverable password", async () => {
    const out = await py(
      `import poplib\np=poplib.POP3("127.0.0.1",${pop3})\nprint(p.apop("bob","bob-pw"));print(p.stat());p.quit()`,
    );
    assert.match(out, /^b'\+OK Logged in\.'\n\(1, \d+\)$/);
  });

  it("upgrades with STLS and authenticates with AUTH PLAIN", async () => {
    const out = await py(
      `import poplib,ssl,base64\nc=ssl.create_default_context(cafile="${cert}")\np=poplib.POP3("127.0.0.1",${pop3})\np.stls(context=c)\n` +
        `print(p._shortcmd("AUTH PLAIN "+base64.b64encode(b"\\0${USER}\\0${PW}").decode()));print(p.stat()[0]);p.quit()`,
    );
    assert.equal(out, "b'+OK Logged in.'\n3");
    await sb.waitLog(
      /pop3-login: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, TLS, session=/,
    );
  });

  it("speaks TLS from the first byte on pop3s", async () => {
    const out = await py(
      `import poplib,ssl\nc=ssl.create_default_context(cafile="${cert}")\np=poplib.POP3_SSL("127.0.0.1",${sb.base + 995},context=c)\np.user("${USER}");p.pass_("${PW}");print(p.stat()[0]);p.quit()`,
    );
    assert.equal(out, "3");
  });

  it("refuses plaintext logins from a client that is not secured, and offers no USER", async () => {
    const c = await LineClient.open(sb.base + 111);
    assert.match(await c.line(), /^\+OK /);
    c.sock.write("CAPA\r\n");
    const capa: string[] = [];
    for (let l = await c.line(); l !== "."; l = await c.line()) capa.push(l);
    assert.ok(capa.includes("STLS") && !capa.includes("USER"), capa.join(","));
    assert.equal(
      await c.cmd(`USER ${USER}`),
      "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
    );
    c.sock.destroy();
  });

  it("answers [IN-USE] to a second session and deletes nothing when a session is cut after DELE", async () => {
    const a = await LineClient.open(pop3);
    await a.line();
    await a.cmd(`USER ${USER}`);
    assert.equal(await a.cmd(`PASS ${PW}`), "+OK Logged in.");
    const b = await LineClient.open(pop3);
    await b.line();
    await b.cmd(`USER ${USER}`);
    assert.match(await b.cmd(`PASS ${PW}`), /^-ERR \[IN-USE\] /);
    b.sock.destroy();
    assert.equal(await a.cmd("DELE 1"), "+OK Marked to be deleted.");
    a.sock.destroy();
    await sb.waitLog(
      /pop3\(alice\)<\d+><\S+>: Disconnected: Connection closed top=0\/0, retr=0\/0, del=0\/3/,
    );
    assert.equal(maildirMessages(join(sb.dir, "mail", USER, "Maildir")).length, 3);
  });

  it("lets fetchmail fetch over pop3s with certificate checks into an mbox through its mda", async () => {
    const home = mkdtempSync(join(tmpdir(), "postern-fetchmail-"));
    try {
      const mbox = join(home, "mbox");
      const rc = join(home, ".fetchmailrc");
      writeFileSync(
        rc,
        `poll 127.0.0.1 service ${sb.base + 995} protocol pop3 user "bob" password "bob-pw" ssl sslcertck sslcertfile "${cert}" sslcommonname localhost mda "cat >> ${mbox}"\n`,
      );
      chmodSync(rc, 0o600);
      const r = await runProgram("env", [`HOME=${home}`, "fetchmail", "-f", rc, "--nosyslog", "--nodetach"], {
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(readFileSync(mbox, "latin1"), /X-Seq: 9[\s\S]*body 9/);
      assert.equal(maildirMessages(join(sb.dir, "mail", "bob", "Maildir")).length, 0);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("answers a second failed login later than the first (brute-force penalty) and logs the failure", async () => {
    const c = await LineClient.open(pop3);
    await c.line();
    const timed = async () => {
      await c.cmd(`USER ${USER}`);
      const t = Date.now();
      assert.equal(await c.cmd("PASS wrong"), "-ERR [AUTH] Authentication failed.");
      return Date.now() - t;
    };
    const first = await timed();
    const second = await timed();
    assert.ok(second > first, `${second} ms after ${first} ms`);
    c.sock.destroy();
    await sb.waitLog(
      /pop3-login: Disconnected \(auth failed, 2 attempts in \d+ secs\): user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, session=</,
    );
  });
});
