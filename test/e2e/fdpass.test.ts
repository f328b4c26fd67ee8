/*
 * Descriptor passing end to end: after a plaintext login, pop3-login and imap-login give the
 * client's socket to the mail process through master and leave the path, so killing the
 * login process does not end the session; with STARTTLS the login process stays in the
 * middle as a TLS proxy. Commands pipelined in the login packet are answered, and the log
 * lines are those of the relay path (Login ... mpid=, the mail process' Disconnected).
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { LineClient } from "../helpers/line-client.js";
import { daemonPids, REPO, Sandbox, sleep } from "../helpers/sandbox.js";

const USER = "carol";
const PW = "carol-secret";

/** Upgrade to TLS after STARTTLS/STLS was accepted (the sandbox' self-signed certificate). */
function startTls(plain: Socket, cert: string): Promise<LineClient> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect(
      { socket: plain, ca: readFileSync(cert), checkServerIdentity: () => undefined },
      () => resolve(new LineClient(s)),
    );
    s.once("error", reject);
  });
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone already */
    }
  }
}

describe("login processes pass plaintext sessions' sockets to the mail process", () => {
  let sb: Sandbox;
  let cert: string;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    cert = join(sb.dir, "tls", "cert.pem");
    const pw = await sb.cli(["user", "passwd", USER], { input: `${PW}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    for (const d of ["cur", "new", "tmp"])
      mkdirSync(join(sb.dir, "mail", USER, "Maildir", d), { recursive: true });
    // A login service whose workers serve one connection and that allows one per client IP.
    appendFileSync(
      join(sb.dir, "master.cf"),
      `127.0.0.1:${sb.base + 145} inet n - n - - imap-login\n` +
        "  -o max_use=1\n  -o login_client_connection_count_limit=1\n",
    );
    // The real daemons plus one that is not a login process but tries to pass a socket.
    const daemons = join(sb.dir, "daemons");
    mkdirSync(daemons);
    for (const f of readdirSync(join(REPO, "dist", "daemons")).filter((n) => n.endsWith(".js")))
      symlinkSync(join(REPO, "dist", "daemons", f), join(daemons, f));
    symlinkSync(join(REPO, "dist", "test", "helpers", "rogue-passer.js"), join(daemons, "rogue-passer.js"));
    const conf = await sb.cli(["conf", "-e", `daemon_directory = ${daemons}`]);
    assert.equal(conf.code, 0, conf.stderr);
    appendFileSync(join(sb.dir, "master.cf"), `127.0.0.1:${sb.base + 146} inet n - n - - rogue-passer\n`);
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("IMAP: answers commands pipelined after LOGIN and keeps serving once imap-login is killed", async () => {
    const c = await LineClient.open(sb.base + 143);
    assert.match(await c.line(), /^\* OK /);
    c.send(`a LOGIN ${USER} ${PW}\r\nb NOOP\r\nc SELECT INBOX\r\n`);
    assert.match(await c.line(), /^a OK \[CAPABILITY .*\] Logged in$/);
    assert.match(await c.line(), /^b OK /);
    assert.match((await c.until(/^c /)).at(-1) ?? "", /^c OK \[READ-WRITE\]/);
    const login = await sb.waitLog(
      /imap-login: Login: user=<carol>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=(\d+), session=</,
    );
    const mpid = Number(login[1]);
    assert.ok(daemonPids(sb.dir, "imap").includes(mpid), `mpid ${mpid} is an imap process`);
    const logins = daemonPids(sb.dir, "imap-login");
    assert.ok(logins.length > 0);
    killAll(logins);
    await sb.waitLog(/process \S*imap-login\S* pid \d+ killed by signal 9/);
    c.send("d NOOP\r\n");
    assert.match(await c.line(), /^d OK /);
    c.send("e LOGOUT\r\n");
    assert.deepEqual(await c.until(/^e /), ["* BYE Logging out", "e OK Logout completed."]);
    await sb.waitLog(/imap\(carol\)<\d+><\S+>: Disconnected: Logged out in=\d+ out=\d+/);
  });

  it("IMAP: with STARTTLS imap-login stays in the path (killing it ends the session)", async () => {
    const plain = await LineClient.open(sb.base + 143);
    await plain.line();
    plain.send("a STARTTLS\r\n");
    assert.match(await plain.line(), /^a OK /);
    const c = await startTls(plain.sock, cert);
    c.send(`b LOGIN ${USER} ${PW}\r\nc NOOP\r\n`);
    assert.match(await c.line(), /^b OK .*Logged in$/);
    assert.match(await c.line(), /^c OK /);
    await sb.waitLog(/imap-login: Login: user=<carol>, method=PLAIN, .*mpid=\d+, TLS, session=</);
    killAll(daemonPids(sb.dir, "imap-login"));
    assert.ok(await c.waitClosed(), "the TLS session ends with its proxy");
  });

  it("POP3: answers commands pipelined after PASS and keeps serving once pop3-login is killed", async () => {
    const c = await LineClient.open(sb.base + 110);
    assert.match(await c.line(), /^\+OK /);
    c.send(`USER ${USER}\r\nPASS ${PW}\r\nSTAT\r\n`);
    assert.match(await c.line(), /^\+OK/);
    assert.match(await c.line(), /^\+OK Logged in\.$/);
    assert.match(await c.line(), /^\+OK \d+ \d+$/);
    const login = await sb.waitLog(
      /pop3-login: Login: user=<carol>, method=PLAIN, rip=127\.0\.0\.1, lip=127\.0\.0\.1, mpid=(\d+), session=</,
    );
    assert.ok(daemonPids(sb.dir, "pop3").includes(Number(login[1])), "mpid is a pop3 process");
    killAll(daemonPids(sb.dir, "pop3-login"));
    await sb.waitLog(/process \S*pop3-login\S* pid \d+ killed by signal 9/);
    c.send("NOOP\r\n");
    assert.match(await c.line(), /^\+OK/);
    c.send("QUIT\r\n");
    assert.match(await c.line(), /^\+OK/);
    await sb.waitLog(/pop3\(carol\)<\d+><\S+>: Disconnected: Logged out top=0\/0, retr=0\/0, del=0\/\d+/);
  });

  it("answers a command the client sends while its socket is on its way to the mail process", async () => {
    // Sent 0-8 ms after PASS/LOGIN, without waiting for the answer (PIPELINING): the command
    // arrives while pop3-login, master and the mail process pass the descriptor along. Before
    // the login process and master stopped reading the socket they hand on, about one such
    // command in seven was read by one of them and lost, and the client waited for ever.
    const spin = (ms: number) => {
      const t = performance.now();
      while (performance.now() - t < ms);
    };
    const later = (c: LineClient, ms: number, text: string) =>
      setTimeout(() => {
        spin(ms);
        c.send(text);
      }, 0);
    for (let k = 0; k < 17; k++) {
      const c = await LineClient.open(sb.base + 110);
      assert.match(await c.line(), /^\+OK /);
      assert.match(await c.cmd(`USER ${USER}`), /^\+OK/);
      c.send(`PASS ${PW}\r\n`);
      later(c, k * 0.5, "STAT\r\n");
      assert.match(await c.line(), /^\+OK Logged in\.$/);
      assert.match(await c.line(), /^\+OK \d+ \d+$/, `STAT sent ${k * 0.5} ms after PASS`);
      assert.match(await c.cmd("QUIT"), /^\+OK/);
      c.sock.destroy();
    }
    for (let k = 0; k < 17; k++) {
      const c = await LineClient.open(sb.base + 143);
      assert.match(await c.line(), /^\* OK /);
      c.send(`a LOGIN ${USER} ${PW}\r\n`);
      later(c, k * 0.5, "b NOOP\r\n");
      assert.match(await c.line(), /^a OK /);
      assert.match(await c.line(), /^b OK /, `NOOP sent ${k * 0.5} ms after LOGIN`);
      c.sock.destroy();
    }
  });

  it("POP3: with STLS pop3-login stays in the path (killing it ends the session)", async () => {
    const plain = await LineClient.open(sb.base + 110);
    await plain.line();
    plain.send("STLS\r\n");
    assert.match(await plain.line(), /^\+OK/);
    const c = await startTls(plain.sock, cert);
    c.send(`USER ${USER}\r\nPASS ${PW}\r\n`);
    assert.match(await c.line(), /^\+OK/);
    assert.match(await c.line(), /^\+OK Logged in\.$/);
    killAll(daemonPids(sb.dir, "pop3-login"));
    assert.ok(await c.waitClosed(), "the TLS session ends with its proxy");
  });

  it("a passed session ends the login worker's share (max_use) but keeps its per-IP slot until it ends", async () => {
    const port = sb.base + 145;
    const c = await LineClient.open(port);
    assert.match(await c.line(), /^\* OK /);
    const worker = await sb.waitFor(
      () =>
        daemonPids(sb.dir, "imap-login").find((pid) =>
          readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`127.0.0.1:${port}`),
        ),
      "the imap-login worker of the one-connection service",
    );
    c.send(`a LOGIN ${USER} ${PW}\r\n`);
    assert.match(await c.line(), /^a OK .*Logged in$/);
    await sb.waitFor(() => !existsSync(`/proc/${worker}`), "the login worker retiring after max_use=1");
    const refused = await LineClient.open(port);
    assert.match(await refused.line(), /^\* BYE \[UNAVAILABLE\] Too many connections from 127\.0\.0\.1/);
    refused.sock.destroy();
    c.send("b NOOP\r\n");
    assert.match(await c.line(), /^b OK /);
    c.send("z LOGOUT\r\n");
    await c.until(/^z OK/);
    let greeting = "";
    for (let i = 0; i < 50 && !greeting.startsWith("* OK"); i++) {
      await sleep(100);
      const next = await LineClient.open(port);
      greeting = await next.line();
      next.sock.destroy();
    }
    assert.match(greeting, /^\* OK /, "the slot is free again once the mail session ended");
  });

  it("master refuses a socket passed by a worker that is not a login process", async () => {
    const c = await LineClient.open(sb.base + 146);
    assert.ok(await c.waitClosed(), "the connection is closed");
    await sb.waitLog(/warning: 127\.0\.0\.1:\d+\/inet: refusing to pass a connection to service imap/);
    await sb.waitLog(/rogue-passer: refused: not allowed/);
    assert.doesNotMatch(sb.maillog(), /rogue-passer: passed|imap\(carol\)<\d+><rogue>/);
  });
});

describe("a plaintext session whose mail service is missing", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    const pw = await sb.cli(["user", "passwd", USER], { input: `${PW}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    const cf = join(sb.dir, "master.cf");
    writeFileSync(cf, readFileSync(cf, "utf8").replace(/^imap\s+unix\s.*\n(?:[ \t]+.*\n)*/m, ""));
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("gets the socket back from master and is answered NO [UNAVAILABLE] by imap-login", async () => {
    const c = await LineClient.open(sb.base + 143);
    assert.match(await c.line(), /^\* OK /);
    c.send(`a LOGIN ${USER} ${PW}\r\n`);
    assert.match(await c.line(), /^a NO \[UNAVAILABLE\] Internal error occurred\. Refer to server log/);
    assert.ok(await c.waitClosed());
    await sb.waitLog(
      /imap-login: cannot hand session to the imap service: master could not pass the connection: no private unix service imap in master\.cf, user=<carol>/,
    );
  });
});
