/*
 * POP3 on an mbox, end to end: a real master in a sandbox, a passwd-file user whose
 * userdb_mail points at an mbox, three messages delivered over SMTP by the real local
 * delivery, Python's poplib for LIST/UIDL/RETR/DELE/QUIT, then the file itself checked;
 * a delivery that arrives while a session holds the mailbox lands after QUIT.
 */
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runProgram, Sandbox } from "../helpers/sandbox.js";
import { mboxMessages } from "../helpers/smtp.js";

const USER = "carol";
const PW = "carol-pw";

async function py(code: string): Promise<string> {
  const r = await runProgram("python3", ["-c", code], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe("pop3 on an mbox end to end", () => {
  let sb: Sandbox;
  let mbox: string;
  const login = () =>
    `import poplib\np=poplib.POP3("127.0.0.1",${sb.base + 110})\np.user("${USER}");p.pass_("${PW}")\n`;
  const sendmail = (seqs: number[]) =>
    `import smtplib\ns=smtplib.SMTP("127.0.0.1",${sb.smtpPort})\n${seqs
      .map(
        (i) =>
          `s.sendmail("s@example.org",["${USER}@localhost"],"Subject: m${i}\\r\\nX-Seq: ${i}\\r\\n\\r\\nFrom here ${i}\\r\\n.dot\\r\\n")`,
      )
      .join("\n")}\ns.quit()`;

  before(async () => {
    sb = await Sandbox.create();
    mbox = join(sb.dir, "mail", USER, "mbox");
    appendFileSync(
      join(sb.dir, "users"),
      `${USER}:{PLAIN}${PW}::::${sb.dir}/mail/${USER}::userdb_mail=mbox:~/mail:INBOX=~/mbox\n`,
    );
    await sb.start();
    await py(sendmail([1, 2, 3]));
    await sb.waitFor(() => mboxMessages(mbox).length === 3, "3 messages in carol's mbox");
  });
  after(async () => {
    await sb.destroy();
  });

  it("serves LIST, UIDL and RETR, deletes at QUIT, and leaves two messages in the mbox", async () => {
    const out = await py(
      `${login()}n,size=p.stat()\nl=p.list()[1]\nu=p.uidl()[1]\nr=p.retr(2)\n` +
        `print(n, size, sum(int(x.split()[1]) for x in l) == size, len(set(u)), r[1][-1], r[2] == int(l[1].split()[1]))\n` +
        `print([x.decode() for x in r[1] if x.startswith(b"X-Seq:")][0])\n` +
        `p.dele(2)\nprint(p.quit())`,
    );
    const m = out.match(/^3 \d+ True 3 b'\.dot' True\n(X-Seq: \d)\nb'\+OK Logging out, messages deleted\.'$/);
    assert.ok(m?.[1], out);
    const left = mboxMessages(mbox);
    assert.equal(left.length, 2);
    assert.ok(!left.join("").includes(m[1]));
    assert.match(left.join(""), /\n>From here \d\n/);
    await sb.waitLog(
      /pop3\(carol\)<\d+><\S+>: Disconnected: Logged out top=0\/0, retr=1\/\d+, del=1\/3, size=\d+/,
    );
  });

  it("keeps the UIDLs of the remaining messages across sessions", async () => {
    const once = () => py(`${login()}print(p.uidl()[1]);p.quit()`);
    const first = await once();
    assert.match(first, /^\[b'1 [0-9a-f]{40}', b'2 [0-9a-f]{40}'\]$/);
    assert.equal(await once(), first);
  });

  it("answers [IN-USE] to a second session and delivers mail that arrived during a session after QUIT", async () => {
    const out = await py(
      `${login()}import poplib,subprocess,sys,time\n` +
        `q=poplib.POP3("127.0.0.1",${sb.base + 110})\nq.user("${USER}")\n` +
        `try:\n  q.pass_("${PW}")\n  print("no error")\nexcept poplib.error_proto as e:\n  print(e)\n` +
        `${sendmail([4])}\ntime.sleep(1)\nprint(p.stat()[0])\np.quit()`,
    );
    assert.match(out, /^b'-ERR \[IN-USE\] .*'\n2$/);
    await sb.waitFor(() => mboxMessages(mbox).length === 3, "the message delivered after QUIT", 30_000);
    assert.match(mboxMessages(mbox).join(""), /X-Seq: 4/);
  });
});
