/*
 * Master's protections, end to end: the per-client connection limit holds across all of a
 * service's workers (master counts, as Postfix's anvil does), and a daemon that keeps dying
 * at start is throttled instead of respawned in a storm.
 */
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sandbox, sleep } from "../helpers/sandbox.js";

function open(port: number): Promise<{ socket: Socket; greeting: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("data", (d) => resolve({ socket, greeting: d.toString() }));
    socket.once("error", reject);
  });
}

describe("master protections", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.create({ user: "lim" });
    // Two smtpd workers at most one connection each, so the limit must hold across workers.
    const r = await sb.cli([
      "conf",
      "-e",
      "smtpd_client_connection_count_limit = 2",
      "smtpd_client_event_limit_exceptions =",
      "worker_connection_limit = 1",
      "service_throttle_time = 2s",
      "login_client_connection_count_limit = 1",
    ]);
    assert.equal(r.code, 0, r.stderr);
    appendFileSync(
      join(sb.dir, "master.cf"),
      `127.0.0.1:${sb.base + 97} inet n - n - - smtpd\n  -o smtpd_recipient_restrictions=no_such_restriction\n` +
        `127.0.0.1:${sb.base + 95} inet n - n - - smtpd\n  -o smtpd_recipient_restrictions=no_such_restriction\n` +
        `127.0.0.1:${sb.base + 96} inet n - n - - smtpd\n  -o smtpd_client_event_limit_exceptions=127.0.0.0/8\n`,
    );
    await sb.start();
  });
  after(async () => {
    await sb.destroy();
  });

  it("refuses a client's connection beyond smtpd_client_connection_count_limit across workers", async () => {
    const a = await open(sb.smtpPort);
    const b = await open(sb.smtpPort);
    assert.match(a.greeting, /^220 /);
    assert.match(b.greeting, /^220 /);
    const c = await open(sb.smtpPort);
    assert.match(c.greeting, /^421 4\.7\.0 \S+ Error: too many connections from 127\.0\.0\.1/);
    await sb.waitLog(
      /warning: Connection concurrency limit exceeded: 3 from 127\.0\.0\.1 for service 127\.0\.0\.1:\d+/,
    );
    a.socket.end("QUIT\r\n");
    await sb.waitLog(/disconnect from \S+\[127\.0\.0\.1\]/);
    await sleep(200);
    const d = await open(sb.smtpPort);
    assert.match(d.greeting, /^220 /, "a slot is free again once a session ended");
    for (const s of [b, c, d]) s.socket.destroy();
  });

  it("exempts smtpd_client_event_limit_exceptions clients (Postfix's default: $mynetworks)", async () => {
    const d = await sb.cli(["conf", "-d", "smtpd_client_event_limit_exceptions"]);
    assert.equal(d.stdout.trim(), "smtpd_client_event_limit_exceptions = $mynetworks");
    const conns = [];
    for (let i = 0; i < 3; i++) conns.push(await open(sb.base + 96));
    for (const c of conns) assert.match(c.greeting, /^220 /);
    for (const c of conns) c.socket.destroy();
  });

  it("limits a client's concurrent POP3 connections with a POP3 refusal", async () => {
    const a = await open(sb.base + 110);
    assert.match(a.greeting, /^\+OK /);
    const b = await open(sb.base + 110);
    assert.match(b.greeting, /^-ERR \[SYS\/TEMP\] Too many connections from 127\.0\.0\.1/);
    a.socket.destroy();
    b.socket.destroy();
  });

  it("throttles a daemon that keeps dying at start", async () => {
    for (let i = 0; i < 3; i++) {
      const s = connect(sb.base + 97, "127.0.0.1");
      s.on("error", () => undefined);
      await sleep(700);
      s.destroy();
    }
    await sb.waitLog(/fatal: .*no_such_restriction/);
    await sb.waitLog(/warning: \S+smtpd\.js: bad command startup -- throttling/);
    const ok = await open(sb.smtpPort);
    assert.match(ok.greeting, /^220 /, "other services are unaffected");
    ok.socket.destroy();
  });

  it("counts a connection once while it waits for a worker of a throttled service", async () => {
    // Two connections (the limit is 2) to a service whose workers die at start: they wait
    // while it is throttled and are placed again after each death, and must not be admitted
    // (counted) anew each time. A service of their own, so no other test's client counts.
    const port = sb.base + 95;
    const received: string[] = ["", ""];
    const sockets = received.map((_, i) => {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => undefined);
      s.on("data", (d) => (received[i] += d.toString("latin1")));
      return s;
    });
    await sleep(5000); // two deaths, throttled for service_throttle_time (2s), placed again
    for (const s of sockets) s.destroy();
    assert.deepEqual(received, ["", ""], "no refusal for a client within its limit");
    assert.doesNotMatch(
      sb.maillog(),
      new RegExp(`limit exceeded: \\d+ from 127\\.0\\.0\\.1 for service 127\\.0\\.0\\.1:${port}`),
    );
  });
});
