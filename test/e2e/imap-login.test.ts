/*
 * imap-login end to end: a real master with imap-login and auth in a sandbox, real
 * clients (Python's imaplib, raw sockets). "Remote" clients are simulated by a third
 * imap-login listener with -o login_loopback_secured=no, since every address a test can
 * bind is loopback. Until the imap mail process exists (daemons/imap), the test plays it
 * on queue_directory/private/imap with the real hand-off protocol; once it exists, master
 * owns that socket and the real one answers.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type LoginHandoff,
  parseHandoff,
  readHandoffFrame,
  writeHandoffFrame,
} from "../../lib/login/handoff.js";
import { LineClient } from "../helpers/line-client.js";
import { REPO, runProgram, Sandbox } from "../helpers/sandbox.js";

const USER = "alice";
const PW = "alice-secret";
const b64 = (s: string) => Buffer.from(s).toString("base64");

async function py(code: string): Promise<string> {
  const r = await runProgram("python3", ["-c", code], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** Stands in for the imap mail process: answers the tag, then "tag OK <verb>" per line. */
function fakeMailProcess(path: string, handoffs: LoginHandoff[]): Promise<Server> {
  const server = createServer(async (sock) => {
    const { msg, rest } = await readHandoffFrame(sock, 5000);
    const h = parseHandoff(msg);
    if (h === undefined) return void sock.destroy();
    handoffs.push(h);
    writeHandoffFrame(sock, { ok: true, pid: process.pid });
    sock.write(`${h.tag} OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n`);
    let buf = Buffer.from(h.pipelined, "base64").toString("latin1") + rest.toString("latin1");
    const answer = () => {
      for (let n = buf.indexOf("\r\n"); n >= 0; n = buf.indexOf("\r\n")) {
        const [tag = "*", verb = ""] = buf.slice(0, n).split(" ");
        buf = buf.slice(n + 2);
        if (verb.toUpperCase() !== "LOGOUT") sock.write(`${tag} OK ${verb.toUpperCase()} done\r\n`);
        else sock.end(`* BYE Logging out\r\n${tag} OK Logout completed.\r\n`);
      }
    };
    sock.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      answer();
    });
    sock.on("error", () => undefined);
    answer();
    sock.resume();
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

describe("imap-login end to end", () => {
  let sb: Sandbox;
  let imap: number;
  let cert: string;
  let fake: Server | undefined;
  const handoffs: LoginHandoff[] = [];

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    imap = sb.base + 143;
    cert = join(sb.dir, "tls", "cert.pem");
    const pw = await sb.cli(["user", "passwd", USER], { input: `${PW}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    appendFileSync(
      join(sb.dir, "master.cf"),
      `127.0.0.1:${sb.base + 144} inet n - n - - imap-login\n  -o login_loopback_secured=no\n`,
    );
    await sb.start();
    if (!existsSync(join(REPO, "dist", "daemons", "imap.js")))
      fake = await fakeMailProcess(join(sb.dir, "spool", "private", "imap"), handoffs);
  });
  after(async () => {
    await new Promise<void>((resolve) => (fake ? fake.close(() => resolve()) : resolve()));
    await sb.destroy();
  });

  it("greets with its pre-login capabilities and lists them again on CAPABILITY", async () => {
    const c = await LineClient.open(imap);
    const greeting = await c.line();
    assert.match(
      greeting,
      /^\* OK \[CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL\+ STARTTLS AUTH=PLAIN AUTH=LOGIN\] postern ready\.$/,
    );
    assert.equal(await c.cmd("a CAPABILITY"), `* ${greeting.slice(6, greeting.indexOf("]"))}`);
    assert.equal(await c.line(), "a OK Pre-login capabilities listed, post-login capabilities have more.");
    assert.equal(await c.cmd("b LOGOUT"), "* BYE Logging out");
    assert.equal(await c.line(), "b OK Logout completed.");
    await sb.waitLog(
      /imap-login: Aborted login \(no auth attempts in \d+ secs\): rip=127\.0\.0\.1, lip=127\.0\.0\.1, session=</,
    );
  });

  it("logs in with imaplib's LOGIN and hands the session over with its tag", async () => {
    const out = await py(
      `import imaplib\nm=imaplib.IMAP4("127.0.0.1",${imap})\nprint(m.login("${USER}","${PW}"))\nprint(m.noop()[0]);m.logout()`,
    );
    assert.match(out, /^\('OK', \[b'.*Logged in.*'\]\)\nOK$/);
    await sb.waitLog(
      /postern\/imap-login\[\d+\]: imap-login: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, session=<\S+>/,
    );
    if (fake) assert.equal(handoffs.at(-1)?.tag !== undefined && handoffs.at(-1)?.user, USER);
  });

  it("upgrades with STARTTLS and authenticates with AUTHENTICATE PLAIN through a continuation", async () => {
    const out = await py(
      `import imaplib,ssl\nc=ssl.create_default_context(cafile="${cert}")\nm=imaplib.IMAP4("127.0.0.1",${imap})\n` +
        `print(m.starttls(ssl_context=c)[0]);print("STARTTLS" in m.capabilities)\n` +
        `print(m.authenticate("PLAIN",lambda _: b"\\0${USER}\\0${PW}")[0]);m.logout()`,
    );
    assert.equal(out, "OK\nFalse\nOK");
    await sb.waitLog(
      /imap-login: Login: user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=\d+, TLS, session=/,
    );
    if (fake) assert.equal(handoffs.at(-1)?.tls, true);
  });

  it("speaks TLS from the first byte on imaps", async () => {
    const out = await py(
      `import imaplib,ssl\nc=ssl.create_default_context(cafile="${cert}")\nm=imaplib.IMAP4_SSL("127.0.0.1",${sb.base + 993},ssl_context=c)\nprint(m.login("${USER}","${PW}")[0]);m.logout()`,
    );
    assert.equal(out, "OK");
  });

  it("accepts AUTHENTICATE PLAIN with SASL-IR and passes pipelined commands on", async () => {
    const c = await LineClient.open(imap);
    await c.line();
    c.sock.write(`a AUTHENTICATE PLAIN ${b64(`\0${USER}\0${PW}`)}\r\nb NOOP\r\n`);
    assert.match(await c.line(), /^a OK .*Logged in/);
    assert.match(await c.line(), /^b OK /);
    c.sock.destroy();
  });

  it("cancels AUTHENTICATE with * and refuses an unknown mechanism", async () => {
    const c = await LineClient.open(imap);
    await c.line();
    assert.equal(await c.cmd("a AUTHENTICATE PLAIN"), "+ ");
    assert.equal(await c.cmd("*"), "a BAD Authentication aborted by client.");
    assert.equal(await c.cmd("b AUTHENTICATE GSSAPI"), "b NO [ALERT] Unsupported authentication mechanism.");
    c.sock.destroy();
  });

  it("announces LOGINDISABLED to a client that is not secured and refuses its LOGIN", async () => {
    const c = await LineClient.open(sb.base + 144);
    assert.match(await c.line(), /STARTTLS LOGINDISABLED\] postern ready\.$/);
    assert.match(
      await c.cmd(`a LOGIN ${USER} ${PW}`),
      /^\* BAD \[ALERT\] Plaintext authentication not allowed/,
    );
    assert.equal(
      await c.line(),
      "a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
    );
    c.sock.destroy();
    await sb.waitLog(
      /imap-login: Disconnected \(tried to use disallowed plaintext auth\): user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, session=</,
    );
  });

  it("answers a failed LOGIN with AUTHENTICATIONFAILED and logs it for fail2ban", async () => {
    const c = await LineClient.open(imap);
    await c.line();
    assert.equal(await c.cmd(`a LOGIN ${USER} wrong`), "a NO [AUTHENTICATIONFAILED] Authentication failed.");
    c.sock.destroy();
    await sb.waitLog(
      /imap-login: Disconnected \(auth failed, 1 attempts in \d+ secs\): user=<alice>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, session=</,
    );
  });
});
