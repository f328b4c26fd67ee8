/*
 * Lent listening sockets, end to end: a lone smtpd worker accepts on the service's socket
 * itself (it serves while master is stopped), applies the per-IP limit to those sessions,
 * hands the socket back when it is full so master starts another worker, and master takes
 * the socket back when the worker is killed or the configuration is reloaded. qmgr shares
 * public/qmgr, so once the processes' lasting connections exist, mail flows from smtpd to
 * the Maildir with master stopped. Whether a
 * worker holds the socket is read from /proc: one of its descriptors is the LISTEN socket.
 */
import assert from "node:assert/strict";
import { appendFileSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pidsWith, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, smtpDialog } from "../helpers/smtp.js";

/** The inodes of the LISTEN sockets on 127.0.0.1:port (/proc/net/tcp, state 0A). */
function listeningInodes(port: number): Set<string> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const out = new Set<string>();
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local && f[3] === "0A" && f[9] !== undefined) out.add(f[9]);
  }
  return out;
}

function holdsListener(pid: number, port: number): boolean {
  const inodes = listeningInodes(port);
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1] !== undefined && inodes.has(m[1])) return true;
    }
  } catch {
    /* gone */
  }
  return false;
}

function smtpdPids(dir: string, port: number): number[] {
  return pidsWith(dir, "/daemons/smtpd.js", `127.0.0.1:${port}\0`);
}

/** Connect and wait for the first reply (or "" when nothing comes within ms); text(): all so far. */
function greet(port: number, ms = 3000): Promise<{ socket: Socket; greeting: string; text: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let all = "";
    const text = () => all;
    socket.on("data", (d) => (all += d));
    const timer = setTimeout(() => resolve({ socket, greeting: "", text }), ms);
    socket.once("data", (d) => {
      clearTimeout(timer);
      resolve({ socket, greeting: d.toString(), text });
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** A whole SMTP dialogue without mail: EHLO and QUIT, each answered. */
async function ehloQuit(port: number): Promise<string> {
  const { socket, greeting } = await greet(port);
  assert.match(greeting, /^220 /);
  let text = "";
  socket.on("data", (d) => (text += d));
  socket.write("EHLO client.example\r\n");
  for (let i = 0; i < 100 && !/\r\n250 [^\r]*\r\n$/.test(text); i++) await sleep(20);
  socket.write("QUIT\r\n");
  await new Promise((r) => socket.once("close", r));
  return text;
}

describe("lent listening sockets", () => {
  let sb: Sandbox;
  let masterPid: number;
  let limitPort: number;
  let fullPort: number;

  /** One whole session through master, ended in the worker too (its disconnect is logged). */
  async function firstSession(port: number): Promise<number> {
    assert.match(await ehloQuit(port), /250 /);
    const pid = await lentWorker(port);
    await sb.waitLog(new RegExp(`postern/smtpd\\[${pid}\\]: disconnect from`));
    await sleep(100);
    return pid;
  }

  const lentWorker = (port: number) =>
    sb.waitFor(
      () => smtpdPids(sb.dir, port).find((pid) => holdsListener(pid, port)),
      `a worker on ${port} holding its socket`,
    );

  async function withMasterStopped<T>(fn: () => Promise<T>): Promise<T> {
    process.kill(masterPid, "SIGSTOP");
    try {
      return await fn();
    } finally {
      process.kill(masterPid, "SIGCONT");
    }
  }

  before(async () => {
    sb = await Sandbox.create({ user: "lend" });
    limitPort = sb.base + 94;
    fullPort = sb.base + 93;
    appendFileSync(
      join(sb.dir, "master.cf"),
      `127.0.0.1:${limitPort} inet n - n - - smtpd\n  -o smtpd_client_connection_count_limit=2\n  -o smtpd_client_event_limit_exceptions=\n` +
        `127.0.0.1:${fullPort} inet n - n - - smtpd\n  -o worker_connection_limit=2\n`,
    );
    await sb.start();
    const pid = Number(readFileSync(join(sb.dir, "spool", "pid", "master.pid"), "utf8").trim());
    assert.ok(pid > 0);
    masterPid = pid;
  });
  after(async () => {
    try {
      process.kill(masterPid, "SIGCONT");
    } catch {
      /* gone */
    }
    await sb.destroy();
  });

  it("a lone worker accepts on the service's socket itself: it serves while master is stopped", async () => {
    assert.match(await ehloQuit(sb.smtpPort), /250 /);
    const pid = await lentWorker(sb.smtpPort);
    const texts = await withMasterStopped(() => Promise.all([ehloQuit(sb.smtpPort), ehloQuit(sb.smtpPort)]));
    for (const t of texts) assert.match(t, /^250-\S+\r\n(250-.*\r\n)*250 .*\r\n221 /s);
    assert.deepEqual(smtpdPids(sb.dir, sb.smtpPort), [pid], "the same worker, no other started");
  });

  it("mail flows to the Maildir while master is stopped: smtpd accepts, cleanup wakes qmgr itself", async () => {
    const maildir = join(sb.dir, "mail", "lend", "Maildir");
    const send = (seq: string) =>
      smtpDialog(sb.smtpPort, [
        "EHLO client.example\r\n",
        "MAIL FROM:<sender@example.org>\r\n",
        "RCPT TO:<lend@localhost>\r\n",
        "DATA\r\n",
        `Subject: lent ${seq}\r\nX-Seq: ${seq}\r\n\r\nbody\r\n.\r\n`,
        "QUIT\r\n",
      ]);
    const delivered = (seq: string) => maildirMessages(maildir).some((m) => m.includes(`X-Seq: ${seq}\n`));
    // Warm up: the worker gets the socket; smtpd's cleanup, cleanup's qmgr and qmgr's local
    // connections are made (cleanup's to public/qmgr may need a second trigger to reach qmgr).
    for (const seq of ["w1", "w2", "w3"]) {
      const r = await send(seq);
      assert.match(r[5] ?? "", /^250 /, r.join(" | "));
      await sb.waitFor(() => delivered(seq), `warm-up message ${seq} delivered`);
    }
    await lentWorker(sb.smtpPort);
    await withMasterStopped(async () => {
      const r = await send("stopped");
      assert.match(r[5] ?? "", /^250 /, r.join(" | "));
      await sb.waitFor(() => delivered("stopped"), "the message delivered with master stopped", 10_000);
    });
  });

  it("applies the per-IP limit to the sessions it accepted itself", async () => {
    await firstSession(limitPort);
    const [a, b, c] = await withMasterStopped(async () => {
      const a = await greet(limitPort);
      const b = await greet(limitPort);
      const c = await greet(limitPort);
      return [a, b, c];
    });
    assert.match(a.greeting, /^220 /);
    assert.match(b.greeting, /^220 /);
    assert.match(c.greeting, /^421 4\.7\.0 \S+ Error: too many connections from 127\.0\.0\.1\r\n$/);
    await sb.waitLog(
      new RegExp(
        `postern/smtpd\\[\\d+\\]: warning: Connection concurrency limit exceeded: 3 from 127\\.0\\.0\\.1 for service 127\\.0\\.0\\.1:${limitPort}`,
      ),
    );
    a.socket.end("QUIT\r\n");
    await new Promise((r) => a.socket.once("close", r));
    await sb.waitLog(/postern\/smtpd\[\d+\]: disconnect from \S+ quit=1 commands=1$/m);
    await sleep(100);
    const d = await withMasterStopped(() => greet(limitPort));
    assert.match(d.greeting, /^220 /, "a slot is free again once a session ended");
    for (const s of [b, c, d]) s.socket.destroy();
  });

  it("a full worker hands the socket back, and master starts another for the next client", async () => {
    const first = await firstSession(fullPort);
    const a = await greet(fullPort);
    const b = await greet(fullPort);
    assert.match(a.greeting, /^220 /);
    assert.match(b.greeting, /^220 /);
    await sb.waitFor(() => !holdsListener(first, fullPort), "the full worker giving the socket back");
    // Nobody but master accepts now: with master stopped, a third client waits in the queue.
    const c = await withMasterStopped(() => greet(fullPort, 500));
    assert.equal(c.greeting, "", "not served while master is stopped");
    await sb.waitFor(() => /^220 /.test(c.text()), "the waiting client's greeting, once master runs");
    const pids = smtpdPids(sb.dir, fullPort);
    assert.equal(pids.length, 2, `a second worker serves it: ${pids.join(" ")}`);
    for (const s of [a, b, c]) s.socket.destroy();
  });

  it("master takes the socket back from a killed worker; a client arriving meanwhile is served", async () => {
    const pid = await lentWorker(sb.smtpPort);
    process.kill(pid, "SIGKILL");
    const { socket, greeting } = await greet(sb.smtpPort, 10_000);
    assert.match(greeting, /^220 /);
    socket.destroy();
    await sb.waitLog(new RegExp(`warning: process \\S+smtpd\\.js pid ${pid} killed by signal 9`));
    const next = await lentWorker(sb.smtpPort);
    assert.notEqual(next, pid);
  });

  it("after a reload the new worker gets the socket and the old one lets it go", async () => {
    const old = await lentWorker(sb.smtpPort);
    const r = await sb.cli(["reload"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(await ehloQuit(sb.smtpPort), /250 /);
    await sb.waitFor(() => !smtpdPids(sb.dir, sb.smtpPort).includes(old), "the old worker's exit");
    const fresh = await lentWorker(sb.smtpPort);
    assert.notEqual(fresh, old);
  });
});
