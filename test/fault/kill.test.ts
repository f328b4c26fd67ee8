/*
 * kill — kill -9 of every process kind under SMTP load, through a real master: smtpd,
 * cleanup, qmgr, local, smtp and pickup in turn while mail flows to a local Maildir and to
 * a remote destination (a loopback sink behind relayhost), then master itself, then
 * `postern start` again. Afterwards every message that got a 250 is delivered exactly once
 * (local) or at least once (remote: a delivery in flight when smtp or master died may be
 * resent, as with Postfix), the queue drains and nothing lands in corrupt/. And a remote 250
 * that arrives just as qmgr dies is not sent again: the smtp agent recorded it.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { daemonPids, FAST_RETRIES, processesOf, Sandbox, sleep } from "../helpers/sandbox.js";
import { maildirMessages, seqCounts, smtpLoad } from "../helpers/smtp.js";
import { type FakeServer, startFakeServer } from "../smtp-client/fake-server.js";

const USER = "carol";
const KINDS = ["smtpd", "cleanup", "qmgr", "local", "smtp", "pickup"] as const;

function queueCount(dir: string, q: string): number {
  const d = join(dir, "spool", q);
  return existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith(".")).length : 0;
}

function drained(dir: string): boolean {
  return ["incoming", "active", "deferred", "maildrop"].every((q) => queueCount(dir, q) === 0);
}

function killAll(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
      n++;
    } catch {
      /* already gone */
    }
  }
  return n;
}

/** A started sandbox whose remote mail goes to the loopback sink (relayhost), retried quickly. */
async function startRelaying(sink: FakeServer, extra: string[] = []): Promise<Sandbox> {
  return Sandbox.started({ user: USER }, [
    `relayhost = [127.0.0.1]:${sink.port}`,
    "smtp_tls_security_level = none",
    "queue_run_delay = 1s",
    ...extra,
  ]);
}

describe("fault: kill -9 of each process kind under load", () => {
  let sb: Sandbox;
  let sink: FakeServer;

  before(async () => {
    sink = await startFakeServer();
    sb = await startRelaying(sink, ["minimal_backoff_time = 1s", "maximal_backoff_time = 2s"]);
  });
  after(async () => {
    await sb.destroy();
    await sink.close();
  });

  it("delivers every accepted message across kills of every kind, master included", async () => {
    const total = 500;
    const local = smtpLoad(sb.smtpPort, {
      total,
      conns: 5,
      rcpt: `${USER}@localhost`,
      tag: "kl",
      deadlineS: 40,
    });
    const remote = smtpLoad(sb.smtpPort, {
      total,
      conns: 5,
      rcpt: "far@remote.example",
      tag: "kr",
      deadlineS: 40,
    });
    const killed: string[] = [];
    for (const kind of KINDS) {
      // each kind runs on demand: wait (bounded) until one is there, then kill it
      for (let tries = 0; tries < 40 && daemonPids(sb.dir, kind).length === 0; tries++) await sleep(50);
      if (killAll(daemonPids(sb.dir, kind)) > 0) killed.push(kind);
      await sleep(250);
    }
    const [l, r] = await Promise.all([local, remote]);
    assert.ok(killed.length >= 5, `killed kinds: ${killed.join(" ")}`);
    assert.ok(l.accepted.length > 0 && r.accepted.length > 0);

    // master last: everything dies with it or is orphaned; start again and let it recover
    killAll(daemonPids(sb.dir, "master"));
    await sleep(300);
    killAll(processesOf(sb.dir));
    await sb.start();

    const maildir = join(sb.dir, "mail", USER, "Maildir");
    await sb.waitFor(() => drained(sb.dir), "the queue to drain", 45_000);
    const localCounts = seqCounts(maildirMessages(maildir));
    const lost = l.accepted.filter((i) => localCounts.get(`kl-${i}`) !== 1);
    assert.deepEqual(
      lost.map((i) => `kl-${i}:${localCounts.get(`kl-${i}`) ?? 0}`),
      [],
      "local: exactly once",
    );
    const remoteCounts = seqCounts(sink.messages);
    const missing = r.accepted.filter((i) => (remoteCounts.get(`kr-${i}`) ?? 0) < 1);
    assert.deepEqual(missing, [], "remote: every accepted message reached the sink");
    const duplicated = r.accepted.filter((i) => (remoteCounts.get(`kr-${i}`) ?? 0) > 1);
    // The smtp agent records a remote 250 in the queue file before it tells qmgr, so a qmgr
    // death does not resend (the next test makes sure of it). Left: an smtp agent or master
    // killed between the remote 250 and that record, at most the deliveries in flight then
    // (two kills times the default per-destination concurrency, 20).
    assert.ok(
      duplicated.length <= 2 * 20,
      `remote duplicates beyond deliveries in flight: ${duplicated.length}`,
    );
    assert.equal(queueCount(sb.dir, "corrupt"), 0, "nothing in corrupt/");
  });
});

describe("fault: qmgr dies while the remote server says 250", () => {
  let sb: Sandbox;
  let sink: FakeServer;

  before(async () => {
    // The sink kills qmgr as it sends the first 250 for the message data: the smtp agent's
    // reply to qmgr can only be lost, and the new qmgr must find the recipient done.
    sink = await startFakeServer({
      replies: {
        DOT: (n) => {
          if (n === 1) killAll(daemonPids(sb.dir, "qmgr"));
          return `250 2.0.0 Ok: queued as SINK${n}`;
        },
      },
    });
    sb = await startRelaying(sink);
  });
  after(async () => {
    await sb.destroy();
    await sink.close();
  });

  it("the message reaches the remote server once, and the queue drains", async () => {
    const r = await smtpLoad(sb.smtpPort, {
      total: 1,
      conns: 1,
      rcpt: "far@remote.example",
      tag: "q",
      deadlineS: 20,
    });
    assert.equal(r.accepted.length, 1);
    await sb.waitLog(/qmgr.*killed by signal 9/);
    await sb.waitFor(() => sink.messages.length >= 1 || undefined, "the remote delivery");
    await sb.waitFor(() => drained(sb.dir) || undefined, "the queue to drain", 20_000);
    await sleep(2000); // a resend, if any, would come within queue_run_delay
    assert.equal(sink.messages.length, 1, `remote copies: ${sink.messages.length}`);
    assert.match(sb.maillog(), /postern\/smtp\[\d+\]: \w+: to=<far@remote\.example>.*status=sent/);
  });
});

describe("fault: a delivery agent dies before it takes the connection master handed it", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.started({ user: USER }, FAST_RETRIES);
  });
  after(async () => {
    await sb.destroy();
  });

  it("qmgr sees the connection close, defers, and the next local delivers", async () => {
    const maildir = join(sb.dir, "mail", USER, "Maildir");
    const activations = () => sb.maillog().match(/nrcpt=1 \(queue active\)/g)?.length ?? 0;
    const first = await smtpLoad(sb.smtpPort, { total: 1, conns: 1, rcpt: `${USER}@localhost`, tag: "h1" });
    assert.equal(first.accepted.length, 1);
    await sb.waitLog(/relay=local, .*status=sent/);
    // A new qmgr, so the next delivery needs a new connection to private/local (the old
    // qmgr's idle one goes with it): master hands that one to the running local worker.
    killAll(daemonPids(sb.dir, "qmgr"));
    await sb.waitFor(() => daemonPids(sb.dir, "qmgr").length > 0 || undefined, "a new qmgr");
    const locals = daemonPids(sb.dir, "local");
    assert.ok(locals.length > 0, "a local worker is running");
    // Stopped, the worker does not read master's IPC channel: of the two connections master
    // sends it (two messages, local_destination_concurrency_limit 2), the first is written
    // but never received nor acknowledged when the worker dies, and Node queues the second
    // behind that acknowledgement.
    for (const pid of locals) process.kill(pid, "SIGSTOP");
    try {
      const more = await smtpLoad(sb.smtpPort, {
        total: 2,
        conns: 2,
        rcpt: `${USER}@localhost`,
        tag: "h2",
      });
      assert.equal(more.accepted.length, 2);
      await sb.waitFor(() => activations() >= 3 || undefined, "qmgr to activate both messages");
      await sleep(500); // qmgr connects, master hands the connections to the stopped worker
    } finally {
      killAll(locals);
    }
    await sb.waitLog(/local\.js pid \d+ killed by signal 9/);
    // ipc_timeout (3600 s) is what qmgr would wait for a reply if master still held its copy.
    await sb.waitFor(() => drained(sb.dir) || undefined, "the queue to drain", 20_000);
    const counts = seqCounts(maildirMessages(maildir));
    assert.equal(counts.get("h1-0"), 1);
    assert.equal(counts.get("h2-0"), 1);
    assert.equal(counts.get("h2-1"), 1);
    assert.match(sb.maillog(), /status=deferred \(unknown mail transport error/);
  });
});
