/*
 * Mail out, end to end: real master, smtpd, cleanup, qmgr and smtp in a sandbox; mail is
 * submitted over SMTP and relayed to SMTP servers on loopback: a scripted sink in this
 * process (for 4xx/5xx on demand) and Postfix's smtp-sink. Next hops come from relayhost,
 * transport_maps and MX records served by a local DNS server (smtp_dns_servers).
 * Nothing leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sandbox, sleep } from "../helpers/sandbox.js";
import { smtpDialog } from "../helpers/smtp.js";
import { type DnsServer, startDnsServer } from "../smtp-client/dns-server.js";
import { type FakeServer, startFakeServer } from "../smtp-client/fake-server.js";

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function submit(sb: Sandbox, rcpt: string, seq: string): Promise<string> {
  const replies = await smtpDialog(sb.smtpPort, [
    "EHLO client.test\r\n",
    "MAIL FROM:<alice@localhost>\r\n",
    `RCPT TO:<${rcpt}>\r\n`,
    "DATA\r\n",
    `Subject: out ${seq}\r\nX-Seq: ${seq}\r\n\r\n..dot line\r\nbody\r\n.\r\n`,
    "QUIT\r\n",
  ]);
  const queued = replies[5]?.match(/^250 .*queued as (\w+)/);
  assert.ok(queued?.[1], `not queued: ${replies.join(" | ")}`);
  return queued[1];
}

const RELAY_RE = (id: string, rcpt: string, relay: string, dsn: string, status: string) =>
  new RegExp(
    `postern/smtp\\[\\d+\\]: ${id}: to=<${rcpt.replace(/\./g, "\\.")}>, relay=${relay.replace(/[.[\]]/g, "\\$&")}, delay=[\\d.]+, delays=[\\d.]+/[\\d.]+/[\\d.]+/[\\d.]+, dsn=${dsn.replace(/\./g, "\\.")}, status=${status} \\((.*)\\)`,
  );

describe("mail out: the smtp delivery agent", () => {
  let sb: Sandbox;
  let sink: FakeServer;
  let dns: DnsServer;
  let closedPort: number;
  let postfixSinkPort: number;
  let postfixSink: ReturnType<typeof spawn> | undefined;
  let retries = 0;

  before(async () => {
    sink = await startFakeServer({
      replies: {
        RCPT: (_n, line) => {
          if (line.includes("nosuch@"))
            return "550 5.1.1 <nosuch@relay.test>: Recipient address rejected: User unknown";
          if (line.includes("later@") && retries++ === 0) return "451 4.3.0 Try again later";
          return "250 2.1.5 Ok";
        },
      },
    });
    dns = await startDnsServer({
      "mx.test": { mx: [[10, "mail.mx.test"]] },
      "mail.mx.test": { a: ["127.0.0.1"] },
    });
    closedPort = await freePort();
    postfixSinkPort = await freePort();
    if (existsSync("/usr/sbin/smtp-sink")) {
      postfixSink = spawn("/usr/sbin/smtp-sink", ["-u", "root", `127.0.0.1:${postfixSinkPort}`, "10"], {
        stdio: "ignore",
      });
      await sleep(200);
    }
    sb = await Sandbox.create({ user: "alice" });
    const transport = `inline:{ mx.test=smtp:mx.test, refused.test=smtp:[127.0.0.1]:${closedPort}, sink.test=smtp:[127.0.0.1]:${postfixSinkPort} }`;
    const settings = [
      `relayhost = [127.0.0.1]:${sink.port}`,
      `transport_maps = ${transport}`,
      `smtp_dns_servers = ${dns.address}`,
      `smtp_tcp_port = ${sink.port}`,
      "smtp_tls_security_level = may",
      "minimal_backoff_time = 1s",
      "maximal_backoff_time = 2s",
      "queue_run_delay = 1s",
    ];
    const r = await sb.cli(["conf", "-e", ...settings]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(readFileSync(join(sb.dir, "master.cf"), "utf8"), /^smtp\s+unix\s/m);
    await sb.start();
  });

  after(async () => {
    await sb?.destroy();
    await sink?.close();
    await dns?.close();
    postfixSink?.kill();
  });

  it("relays through relayhost and logs Postfix's sent line", async () => {
    const id = await submit(sb, "bob@relay.test", "relay-1");
    const m = await sb.waitLog(
      RELAY_RE(id, "bob@relay.test", `127.0.0.1[127.0.0.1]:${sink.port}`, "2.0.0", "sent"),
    );
    assert.equal(m[1], "250 2.0.0 Ok: queued as FAKE1");
    const msg = sink.messages.find((x) => x.includes("X-Seq: relay-1"));
    assert.ok(msg, "the sink received the message");
    assert.match(msg, /\r\n\r\n\.\.dot line\r\nbody\r\n$/);
    assert.match(msg, /^Received: /m);
    await sb.waitLog(new RegExp(`postern/qmgr\\[\\d+\\]: ${id}: removed`));
  });

  it("finds the next hop by MX lookup through the injected DNS server", async () => {
    const id = await submit(sb, "carol@mx.test", "mx-1");
    await sb.waitLog(RELAY_RE(id, "carol@mx.test", `mail.mx.test[127.0.0.1]:${sink.port}`, "2.0.0", "sent"));
    assert.ok(dns.queries.includes("mx.test/15"));
  });

  it("defers on a 4xx reply and delivers on the next attempt", async () => {
    const id = await submit(sb, "later@relay.test", "later-1");
    const relay = `127.0.0.1[127.0.0.1]:${sink.port}`;
    const m = await sb.waitLog(RELAY_RE(id, "later@relay.test", relay, "4.3.0", "deferred"));
    assert.equal(
      m[1],
      "host 127.0.0.1[127.0.0.1] said: 451 4.3.0 Try again later (in reply to RCPT TO command)",
    );
    await sb.waitLog(RELAY_RE(id, "later@relay.test", relay, "2.0.0", "sent"), 20_000);
  });

  it("bounces on a 5xx reply", async () => {
    const id = await submit(sb, "nosuch@relay.test", "bounce-1");
    const m = await sb.waitLog(
      RELAY_RE(id, "nosuch@relay.test", `127.0.0.1[127.0.0.1]:${sink.port}`, "5.1.1", "bounced"),
    );
    assert.equal(
      m[1],
      "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <nosuch@relay.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
    );
  });

  it("defers when the next hop refuses the connection", async () => {
    const id = await submit(sb, "dave@refused.test", "refused-1");
    const m = await sb.waitLog(RELAY_RE(id, "dave@refused.test", "none", "4.4.1", "deferred"));
    assert.equal(m[1], `connect to 127.0.0.1[127.0.0.1]:${closedPort}: Connection refused`);
    const deferred = join(sb.dir, "spool", "deferred");
    await sb.waitFor(() => existsSync(deferred) && readdirSync(deferred).length > 0, "a file in deferred/");
  });

  it("delivers to Postfix's smtp-sink", { skip: !existsSync("/usr/sbin/smtp-sink") }, async () => {
    const id = await submit(sb, "erin@sink.test", "sink-1");
    await sb.waitLog(
      RELAY_RE(id, "erin@sink.test", `127.0.0.1[127.0.0.1]:${postfixSinkPort}`, "2.0.0", "sent"),
    );
  });
});
