/*
 * Connection floods and slowloris through the real master: one client address opening far
 * more connections than its per-IP limit on SMTP, POP3 and IMAP is refused beyond the limit
 * while a client from another address (127.0.0.2: all of 127/8 is loopback) is served in
 * full; connections that dribble a byte at a time only hold their own slots; silent
 * connections are closed at their timeouts (smtpd_timeout, login_timeout).
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { runProgram, Sandbox, sleep } from "../helpers/sandbox.js";

const LIMIT = 5;

interface Conn {
  socket: Socket;
  text: () => string;
  closed: () => boolean;
}

function open(port: number, from = "127.0.0.1"): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    let text = "";
    let closed = false;
    socket.on("data", (d: Buffer) => {
      text += d.toString("latin1");
    });
    socket.on("close", () => {
      closed = true;
    });
    socket.on("error", () => undefined);
    socket.once("connect", () => resolve({ socket, text: () => text, closed: () => closed }));
    socket.once("error", reject);
  });
}

async function until(what: string, probe: () => boolean, ms = 10_000): Promise<void> {
  for (let waited = 0; waited < ms; waited += 25) {
    if (probe()) return;
    await sleep(25);
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("floods and slowloris on every listener", () => {
  let sb: Sandbox;
  const held: Conn[] = [];

  before(async () => {
    sb = await Sandbox.create({ user: "flood" });
    const pw = await sb.cli(["user", "passwd", "flood"], { input: "flood-pw\n" });
    assert.equal(pw.code, 0, pw.stderr);
    const r = await sb.cli([
      "conf",
      "-e",
      `smtpd_client_connection_count_limit = ${LIMIT}`,
      "smtpd_client_event_limit_exceptions =",
      `login_client_connection_count_limit = ${LIMIT}`,
      "smtpd_timeout = 2s",
      "login_timeout = 2s",
    ]);
    assert.equal(r.code, 0, r.stderr);
    await sb.start();
  });
  after(async () => {
    for (const c of held) c.socket.destroy();
    await sb.destroy();
  });

  for (const [name, offset, refused] of [
    ["SMTP", 25, /^421 4\.7\.0 .*too many connections/],
    ["POP3", 110, /^-ERR \[SYS\/TEMP\]|^-ERR/],
    ["IMAP", 143, /^\* BYE/],
  ] as const) {
    it(`${name}: a flood from one address is cut at the per-IP limit, another address is served`, async () => {
      const port = sb.base + offset;
      const flood = await Promise.all(Array.from({ length: LIMIT * 4 }, () => open(port)));
      held.push(...flood);
      await until("every flood connection answered", () => flood.every((c) => c.text() !== "" || c.closed()));
      const served = flood.filter((c) => !refused.test(c.text()) && !c.closed());
      assert.ok(served.length <= LIMIT, `${served.length} flood connections served, limit ${LIMIT}`);
      assert.ok(
        flood.some((c) => refused.test(c.text()) || c.closed()),
        "the excess was refused",
      );
      const other = await open(port, "127.0.0.2");
      held.push(other);
      await until(`${name} greeting for 127.0.0.2`, () => other.text() !== "");
      assert.doesNotMatch(other.text(), refused);
      for (const c of flood) c.socket.destroy();
    });
  }

  it("a dribbling client holds only its own slot while others complete transactions", async () => {
    const drip = await open(sb.smtpPort);
    held.push(drip);
    const line = "EHLO slowloris.example\r\n";
    let i = 0;
    const timer = setInterval(() => {
      if (i < line.length && !drip.closed()) drip.socket.write(line[i++] ?? "");
    }, 100);
    try {
      const r = await runProgram(
        "swaks",
        [
          "--server",
          `127.0.0.1:${sb.smtpPort}`,
          "--local-interface",
          "127.0.0.2",
          "--to",
          "flood@localhost",
          "--from",
          "x@example.org",
        ],
        { timeoutMs: 30_000 },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /250 2\.0\.0 Ok: queued/);
    } finally {
      clearInterval(timer);
    }
  });

  it("logs a client that leaves before the greeting, and its session ends at once", async () => {
    const gone = await open(sb.smtpPort, "127.0.0.4");
    gone.socket.destroy();
    // Other sessions (the dribbling client timing out, master's warnings) may log in between.
    const m = await sb.waitLog(
      /smtpd\[(\d+)\]: lost connection after CONNECT from \S+\[127\.0\.0\.4\]\n(?:.*\n)*?.*smtpd\[\1\]: disconnect from \S+\[127\.0\.0\.4\]/,
    );
    assert.ok(m);
  });

  it("closes silent connections at smtpd_timeout and login_timeout", async () => {
    const smtp = await open(sb.smtpPort, "127.0.0.3");
    const pop = await open(sb.base + 110, "127.0.0.3");
    const imap = await open(sb.base + 143, "127.0.0.3");
    held.push(smtp, pop, imap);
    await until(
      "all three closed by the server",
      () => smtp.closed() && pop.closed() && imap.closed(),
      15_000,
    );
    assert.match(smtp.text(), /421 4\.4\.2 \S+ Error: timeout exceeded/);
    assert.match(imap.text(), /\* BYE Disconnected for inactivity/);
    assert.match(pop.text(), /-ERR Disconnected for inactivity/);
  });
});
