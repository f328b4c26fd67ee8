/*
 * IMAP end to end: a real master with imap-login, imap and auth in a sandbox, mail
 * delivered over SMTP by local delivery into real Maildirs, and real clients: Python's
 * imaplib (every RFC 3501 command), imapflow (npm), mbsync (Debian's isync) syncing both
 * ways, and raw sockets for two sessions on one folder and IDLE.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ImapFlow } from "imapflow";
import { runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages } from "../helpers/smtp.js";

const USER = "alice";
const PW = "alice-secret";

async function py(code: string): Promise<string> {
  const r = await runProgram("python3", ["-c", code], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** A raw IMAP client: send tagged commands, read until the tagged reply. */
class RawImap {
  private buf = "";
  private constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
    });
    sock.on("error", () => undefined);
  }
  static async open(port: number): Promise<RawImap> {
    const c = await new Promise<RawImap>((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new RawImap(s)));
      s.once("error", reject);
    });
    await c.until(/\r\n/);
    return c;
  }
  /** Wait until the buffer matches, return and clear it. */
  async until(re: RegExp, timeoutMs = 10_000): Promise<string> {
    for (let waited = 0; waited < timeoutMs; waited += 20) {
      if (re.test(this.buf)) {
        const out = this.buf;
        this.buf = "";
        return out;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`timeout waiting for ${re}; buffer: ${this.buf}`);
  }
  cmd(tag: string, text: string): Promise<string> {
    this.sock.write(`${tag} ${text}\r\n`);
    return this.until(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n$`));
  }
  close(): void {
    this.sock.destroy();
  }
}

describe("imap end to end", () => {
  let sb: Sandbox;
  let imap: number;
  const maildir = () => join(sb.dir, "mail", USER, "Maildir");
  const send = (i: number, extra = "") =>
    py(
      `import smtplib\ns=smtplib.SMTP("127.0.0.1",${sb.smtpPort})\ns.sendmail("s@example.org",["${USER}@localhost"],"From: Sender <s@example.org>\\r\\nTo: ${USER}@localhost\\r\\nSubject: m${i}\\r\\nX-Seq: ${i}\\r\\n${extra}\\r\\nbody ${i} zanzibar${i}\\r\\n")\ns.quit()`,
    );

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    imap = sb.base + 143;
    const pw = await sb.cli(["user", "passwd", USER], { input: `${PW}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    await sb.start();
    for (const i of [1, 2, 3]) await send(i);
    await sb.waitFor(() => maildirMessages(maildir()).length === 3, "3 messages for alice");
  });
  after(async () => {
    await sb.destroy();
  });

  it("serves imaplib: login, LIST, SELECT, FETCH, SEARCH, STORE, COPY, MOVE, APPEND, EXPUNGE, folders", async () => {
    const out = await py(`
import imaplib, json, time
m = imaplib.IMAP4("127.0.0.1", ${imap})
r = {}
r["login"] = m.login("${USER}", "${PW}")[0]
r["caps"] = m.capability()[1][0].decode().upper().split()
r["list"] = [x.decode() for x in m.list()[1]]
r["select"] = m.select("INBOX")
r["fetch"] = [x if isinstance(x, bytes) else list(x) for x in m.fetch("1", "(FLAGS RFC822.SIZE ENVELOPE)")[1]]
r["body"] = m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1].decode()
r["search"] = m.search(None, "BODY", "zanzibar3")[1][0].decode()
r["store"] = m.store("1:2", "+FLAGS", "(\\\\Flagged)")[1]
r["usearch"] = m.uid("SEARCH", "FLAGGED")[1][0].decode()
r["copy"] = m.copy("1", "Trash")
r["move"] = m.uid("MOVE", "3", "Junk")
r["append"] = m.append("Drafts", "(\\\\Draft)", imaplib.Time2Internaldate(time.time()), b"Subject: draft\\r\\n\\r\\nhello\\r\\n")
r["status"] = m.status("Drafts", "(MESSAGES UIDNEXT UNSEEN)")
r["create"] = m.create("Lists/debian")
r["rename"] = m.rename("Lists/debian", "Lists/deb")
r["subscribe"] = m.subscribe("Lists/deb")
r["lsub"] = [x.decode() for x in m.lsub()[1]]
r["store2"] = m.store("1", "+FLAGS", "(\\\\Deleted)")[0]
r["expunge"] = m.expunge()
r["delete"] = m.delete("Lists/deb")
r["close"] = m.close()[0]
r["logout"] = m.logout()[0]
print(json.dumps(r, default=lambda b: b.decode(errors="replace")))
`);
    const r = JSON.parse(out) as Record<string, unknown>;
    assert.equal(r["login"], "OK");
    for (const cap of ["IMAP4REV1", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "SPECIAL-USE", "LITERAL+"])
      assert.ok((r["caps"] as string[]).includes(cap), cap);
    const list = (r["list"] as string[]).join("\n");
    for (const f of ["INBOX", "Drafts", "Sent", "Trash", "Junk"])
      assert.match(list, new RegExp(`"/" ${f}\\b`));
    assert.deepEqual(r["select"], ["OK", ["3"]]);
    assert.match(JSON.stringify(r["fetch"]), /FLAGS \(.*\) RFC822\.SIZE \d+ ENVELOPE \(/);
    assert.match(r["body"] as string, /^Subject: m2\r\n\r\n$/);
    assert.equal(r["search"], "3");
    assert.match(JSON.stringify(r["store"]), /FLAGS \(\\\\Flagged/);
    assert.equal(r["usearch"], "1 2");
    assert.match(JSON.stringify(r["copy"]), /COPYUID \d+ 1 1/);
    assert.match(JSON.stringify(r["move"]), /OK/);
    assert.match(JSON.stringify(r["append"]), /APPENDUID \d+ 1/);
    assert.match(JSON.stringify(r["status"]), /MESSAGES 1 UIDNEXT 2 UNSEEN 1/);
    assert.match((r["lsub"] as string[]).join("\n"), /"\/" Lists\/deb/);
    assert.match(JSON.stringify(r["expunge"]), /\["OK", \["1"\]\]|"1"/);
    assert.equal(r["close"], "OK");
    assert.equal(r["logout"], "BYE");
    await sb.waitLog(/imap\(alice\)<\d+><[^>]+>: Disconnected: Logged out in=\d+ out=\d+/);
  });

  it("shows one session's changes to another, and IDLE reports local delivery at once", async () => {
    const a = await RawImap.open(imap);
    const b = await RawImap.open(imap);
    try {
      await a.cmd("a1", `LOGIN ${USER} ${PW}`);
      await b.cmd("b1", `LOGIN ${USER} ${PW}`);
      const sel = await a.cmd("a2", "SELECT INBOX");
      const exists = Number(/\* (\d+) EXISTS/.exec(sel)?.[1]);
      await b.cmd("b2", "SELECT INBOX");
      await b.cmd("b3", "STORE 1 +FLAGS.SILENT (\\Answered)");
      assert.match(await a.cmd("a3", "NOOP"), /\* 1 FETCH \(UID \d+ FLAGS \(.*\\Answered/);
      a.sock.write("a4 IDLE\r\n");
      await a.until(/^\+ idling\r\n$/);
      await send(4);
      assert.match(await a.until(new RegExp(`\\* ${exists + 1} EXISTS`), 15_000), /EXISTS/);
      a.sock.write("DONE\r\n");
      await a.until(/a4 OK Idle completed\.\r\n/);
    } finally {
      a.close();
      b.close();
    }
  });

  it("answers the extensions over a raw socket: NAMESPACE, ID, ENABLE, CONDSTORE, ESEARCH, LIST-STATUS, LITERAL+, UNSELECT", async () => {
    const c = await RawImap.open(imap);
    try {
      await c.cmd("r1", `LOGIN ${USER} ${PW}`);
      assert.match(await c.cmd("r2", "NAMESPACE"), /\* NAMESPACE \(\(""\s"\/"\)\) NIL NIL\r\n/);
      assert.match(await c.cmd("r3", 'ID ("name" "test")'), /\* ID \("name" "postern"\)/);
      assert.match(await c.cmd("r4", "ENABLE CONDSTORE"), /\* ENABLED CONDSTORE\r\nr4 OK/);
      const ex = await c.cmd("r5", "EXAMINE INBOX");
      assert.match(ex, /\* OK \[HIGHESTMODSEQ (\d+)\]/);
      assert.match(ex, /r5 OK \[READ-ONLY\]/);
      assert.match(
        await c.cmd("r6", "FETCH 1 (UID FLAGS) (CHANGEDSINCE 1)"),
        /\* 1 FETCH \(UID \d+ FLAGS \([^)]*\) MODSEQ \(\d+\)\)/,
      );
      assert.match(
        await c.cmd("r7", "UID SEARCH RETURN (MIN MAX COUNT) ALL"),
        /\* ESEARCH \(TAG "r7"\) UID MIN \d+ MAX \d+ COUNT \d+\r\n/,
      );
      assert.match(await c.cmd("r8", "STORE 1 +FLAGS (\\Seen)"), /r8 NO/); // EXAMINE is read-only
      assert.match(await c.cmd("r9", "UNSELECT"), /r9 OK/);
      assert.match(
        await c.cmd("r10", 'LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT) SPECIAL-USE)'),
        /\* LIST \([^)]*\\Sent[^)]*\) "\/" Sent\r\n\* STATUS Sent \(MESSAGES \d+ UIDNEXT \d+\)/,
      );
      const body = "Subject: literal plus\r\n\r\nx\r\n";
      assert.match(
        await c.cmd("r11", `APPEND Drafts (\\Seen) {${body.length}+}\r\n${body}`),
        /r11 OK \[APPENDUID \d+ \d+\]/,
      );
      assert.match(await c.cmd("r12", "SELECT Drafts (CONDSTORE)"), /r12 OK \[READ-WRITE\]/);
      assert.match(await c.cmd("r13", 'SEARCH SUBJECT "literal plus"'), /\* SEARCH \d+/);
      assert.match(await c.cmd("r14", "CLOSE"), /r14 OK/);
      assert.match(await c.cmd("r15", "FETCH 1 FLAGS"), /r15 BAD/);
      assert.match(await c.cmd("r16", "LOGOUT"), /\* BYE .*\r\nr16 OK/s);
    } finally {
      c.close();
    }
  });

  it("works with imapflow: list, open, fetch, flags, move, append", async () => {
    const client = new ImapFlow({
      host: "127.0.0.1",
      port: imap,
      secure: false,
      auth: { user: USER, pass: PW },
      tls: { rejectUnauthorized: false }, // the sandbox's self-signed certificate, via STARTTLS
      logger: false,
    });
    await client.connect();
    try {
      const boxes = await client.list();
      assert.ok(boxes.some((b) => b.path === "Sent" && b.specialUse === "\\Sent"));
      const box = await client.mailboxOpen("INBOX");
      assert.ok(box.exists >= 2, `exists ${box.exists}`);
      const subjects: string[] = [];
      for await (const msg of client.fetch("1:*", { envelope: true, uid: true, flags: true }))
        subjects.push(msg.envelope?.subject ?? "");
      assert.ok(subjects.includes("m4"), subjects.join(","));
      const found = await client.search({ body: "zanzibar4" });
      assert.equal(Array.isArray(found) ? found.length : 0, 1);
      assert.ok(await client.messageFlagsAdd({ seq: "1" }, ["\\Seen"]));
      const moved = await client.messageMove("1", "Trash");
      assert.ok(moved && moved.uidMap instanceof Map && moved.uidMap.size === 1);
      const appended = await client.append("Sent", Buffer.from("Subject: sent\r\n\r\nhi\r\n"), ["\\Seen"]);
      assert.ok(appended && typeof appended.uid === "number");
    } finally {
      await client.logout();
    }
  });

  it("syncs with mbsync both ways, and a second sync changes nothing", async () => {
    const local = join(sb.dir, "mbsync-local");
    mkdirSync(local, { recursive: true });
    const rc = join(sb.dir, "mbsyncrc");
    writeFileSync(
      rc,
      [
        "IMAPAccount postern",
        "Host 127.0.0.1",
        `Port ${imap}`,
        `User ${USER}`,
        `Pass ${PW}`,
        "SSLType None",
        "AuthMechs LOGIN",
        "",
        "IMAPStore remote",
        "Account postern",
        "",
        "MaildirStore local",
        `Path ${local}/`,
        `Inbox ${local}/INBOX`,
        "SubFolders Verbatim",
        "",
        "Channel main",
        "Far :remote:",
        "Near :local:",
        "Patterns *",
        "Create Both",
        "Expunge Both",
        "SyncState *",
        "",
      ].join("\n"),
    );
    const sync = async () => {
      const r = await runProgram("mbsync", ["-c", rc, "-a"], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      return r.stdout + r.stderr;
    };
    await sync();
    const pulled =
      readdirSync(join(local, "INBOX", "cur")).length + readdirSync(join(local, "INBOX", "new")).length;
    assert.ok(pulled >= 1, `pulled ${pulled}`);
    const name = `${Math.floor(Date.now() / 1000)}.mbsync-test.host:2,S`;
    writeFileSync(join(local, "INBOX", "cur", name), "Subject: from mbsync\n\nlocal message\n");
    await sync();
    const remote = maildirMessages(maildir()).join("\n");
    assert.match(remote, /Subject: from mbsync/);
    const again = await runProgram("mbsync", ["-V", "-c", rc, "-a"], { timeoutMs: 60_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /(pulled|pushed): [1-9]/);
    assert.ok(readFileSync(rc, "utf8").length > 0);
  });
});
