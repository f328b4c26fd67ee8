/*
 * The foundation end to end: a real master in a sandbox, real workers on loopback ports.
 * start → status → a worker serves a connection → kill -9 of the worker is logged and a
 * new one serves → reload adds and removes a listener → a second start and a taken port
 * fail cleanly → stop leaves no process and no socket.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pidsWith, processesOf, Sandbox, sleep } from "../helpers/sandbox.js";

function fetchBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    let data = "";
    s.on("data", (d) => (data += d));
    s.on("end", () => resolve(data));
    s.on("error", reject);
    setTimeout(() => {
      s.destroy();
      resolve(data);
    }, 5000).unref();
  });
}

/** An SMTP connection that has had its greeting, left open. */
function openSmtp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.on("error", reject);
    s.once("data", (d) => (String(d).startsWith("220") ? resolve(s) : reject(new Error(String(d)))));
  });
}

/** Workers whose command line has every one of the words (program, service name). */
const workerPids = pidsWith;

describe("master end to end", () => {
  let sb: Sandbox;
  let showqPort: number;
  let usedUpPort: number;
  let oneUsePort: number;
  let oneConnPort: number;

  before(async () => {
    sb = await Sandbox.create();
    showqPort = sb.base + 99;
    usedUpPort = sb.base + 97;
    oneUsePort = sb.base + 96;
    oneConnPort = sb.base + 95;
    appendFileSync(
      join(sb.dir, "master.cf"),
      [
        `127.0.0.1:${showqPort} inet n - n - - showq`,
        `127.0.0.1:${usedUpPort} inet n - n - - showq\n  -o max_use=10`,
        `127.0.0.1:${oneUsePort} inet n - n - - smtpd\n  -o max_use=1`,
        `127.0.0.1:${oneConnPort} inet n - n - - smtpd\n  -o worker_connection_limit=1`,
        "",
      ].join("\n"),
    );
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("status reports the running master's pid", async () => {
    const r = await sb.cli(["status"]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /is running: PID: \d+/);
    assert.match(sb.maillog(), /postern\/master\[\d+\]: daemon started -- version/);
  });

  it("a worker started on demand serves a connection on its inet port", async () => {
    assert.equal(
      workerPids(sb.dir, "showq.js", `127.0.0.1:${showqPort}\0`).length,
      0,
      "no showq worker before the first connection",
    );
    assert.equal(await fetchBanner(showqPort), "Mail queue is empty\n");
    assert.equal(workerPids(sb.dir, "showq.js", `127.0.0.1:${showqPort}\0`).length, 1);
  });

  it("a worker killed with signal 9 is logged and replaced", async () => {
    const [pid] = workerPids(sb.dir, "showq.js", `127.0.0.1:${showqPort}\0`);
    assert.ok(pid);
    process.kill(pid, "SIGKILL");
    await sb.waitLog(new RegExp(`warning: process \\S+showq\\.js pid ${pid} killed by signal 9`));
    assert.equal(await fetchBanner(showqPort), "Mail queue is empty\n");
    const now = workerPids(sb.dir, "showq.js", `127.0.0.1:${showqPort}\0`);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], pid);
  });

  it("a worker used up by max_use is replaced before it retires, so no client waits for a start", async () => {
    const pids = () => workerPids(sb.dir, "showq.js", `127.0.0.1:${usedUpPort}\0`);
    assert.equal(await fetchBanner(usedUpPort), "Mail queue is empty\n");
    const [first] = pids();
    assert.ok(first);
    for (let i = 2; i <= 10; i++) assert.equal(await fetchBanner(usedUpPort), "Mail queue is empty\n");
    // No eleventh connection yet: the successor was started at the ninth, and the used-up
    // worker has exited (before, the pool was empty until the next client came).
    const successor = await sb.waitFor(() => {
      const now = pids();
      return now.length === 1 && now[0] !== first ? now[0] : undefined;
    }, "a ready successor alone in the pool");
    assert.equal(await fetchBanner(usedUpPort), "Mail queue is empty\n");
    assert.deepEqual(pids(), [successor]);
  });

  it("a service's -o max_use and -o worker_connection_limit bound what master gives one worker", async () => {
    for (const port of [oneUsePort, oneConnPort]) {
      const a = await openSmtp(port);
      const b = await openSmtp(port);
      const workers = workerPids(sb.dir, "smtpd.js", `127.0.0.1:${port}\0`);
      a.destroy();
      b.destroy();
      // Two clients at once: two workers (a root POP3/IMAP process serves one user only),
      // and with max_use 1 a third started ahead for the next client.
      const expected = port === oneUsePort ? 3 : 2;
      assert.equal(workers.length, expected, `port ${port}: ${workers.length} workers`);
    }
  });

  it("a one-session service (max_use 1) has the next worker started before the next client comes", async () => {
    const port = oneUsePort;
    const pids = () => workerPids(sb.dir, "smtpd.js", `127.0.0.1:${port}\0`);
    const first = await openSmtp(port);
    first.destroy();
    // The sessions above are over: what is left is the worker started ahead, ready and idle.
    const ready = await sb.waitFor(() => {
      const now = pids();
      return now.length === 1 ? now : undefined;
    }, "one idle worker left, started ahead");
    const before = sb.maillog().length;
    const next = await openSmtp(port);
    const served = await sb.waitFor(() => {
      const m = /postern\/smtpd\[(\d+)\]: connect from/.exec(sb.maillog().slice(before));
      return m ? Number(m[1]) : undefined;
    }, "the next client's connect line");
    next.destroy();
    assert.ok(ready.includes(served), `served by ${served}, which was running before it came (${ready})`);
  });

  it("reload adds and then removes a listener", async () => {
    const extra = sb.base + 98;
    const cf = join(sb.dir, "master.cf");
    const original = readFileSync(cf, "utf8");
    writeFileSync(cf, `${original}127.0.0.1:${extra} inet n - n - - showq\n`);
    assert.equal((await sb.cli(["reload"])).code, 0);
    await sb.waitLog(/reload -- version/);
    let banner = "";
    for (let i = 0; i < 100 && banner === ""; i++) {
      banner = await fetchBanner(extra).catch(() => "");
      if (banner === "") await sleep(50);
    }
    assert.equal(banner, "Mail queue is empty\n");
    writeFileSync(cf, original);
    assert.equal((await sb.cli(["reload"])).code, 0);
    let refused = false;
    for (let i = 0; i < 100 && !refused; i++) {
      refused = await fetchBanner(extra).then(
        () => false,
        (e: NodeJS.ErrnoException) => e.code === "ECONNREFUSED",
      );
      if (!refused) await sleep(50);
    }
    assert.ok(refused, "the removed listener no longer accepts");
    assert.equal(await fetchBanner(showqPort), "Mail queue is empty\n");
  });

  it("a second start on the same configuration fails with a clear message", async () => {
    const r = await sb.cli(["start"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /postern: fatal: the Postern mail system is already running/);
  });

  it("stop leaves no process and no socket", async () => {
    const stopped = await sb.cli(["stop"]);
    assert.equal(stopped.code, 0, `stop: ${stopped.stderr}\n${sb.maillog().slice(-2500)}`);
    assert.deepEqual(processesOf(sb.dir), []);
    for (const sub of ["private", "public"]) {
      const left = readdirSync(join(sb.dir, "spool", sub));
      assert.deepEqual(left, [], `${sub}/ is empty`);
    }
    assert.equal(
      existsSync(join(sb.dir, "spool", "pid", "master.pid")),
      false,
      `master.pid left behind; maillog:\n${sb.maillog().slice(-1500)}`,
    );
    assert.equal((await sb.cli(["status"])).code, 1);
  });

  it("a port that cannot be bound stops startup cleanly", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(showqPort, "127.0.0.1", () => r()));
    try {
      const r = await sb.cli(["start"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`fatal: bind 127\\.0\\.0\\.1 port ${showqPort}: Address already in use`),
      );
      await sleep(200);
      assert.deepEqual(processesOf(sb.dir), []);
      assert.equal((await sb.cli(["status"])).code, 1);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
