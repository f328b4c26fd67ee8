import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, afterEach, before, describe, it } from "node:test";
import { SessionCache } from "../../lib/smtp-client/cache.js";
import { deliverSmtp, type SmtpDeliveryDeps } from "../../lib/smtp-client/deliver.js";
import { createResolver } from "../../lib/smtp-client/nexthop.js";
import type { OutboundMessage, TlsLevel } from "../../lib/smtp-client/session.js";
import { type DnsServer, startDnsServer } from "./dns-server.js";
import { type FakeOptions, type FakeServer, startFakeServer } from "./fake-server.js";

const BODY = "Subject: hi\n\n.leading dot\nbody\n";

function message(over: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    sender: "alice@here.test",
    recipient: "bob@there.test",
    size: Buffer.byteLength(BODY),
    needsSmtputf8: false,
    eightBit: false,
    open: () => Readable.from([Buffer.from(BODY)]),
    ...over,
  };
}

let dns: DnsServer;
const servers: FakeServer[] = [];
const caches: SessionCache[] = [];

function deps(
  port: number,
  over: { relayhost?: string; tls?: TlsLevel; helo?: number; cacheMs?: number } = {},
): SmtpDeliveryDeps {
  const ms = 2000;
  const cache = new SessionCache(over.cacheMs ?? 0, 100);
  caches.push(cache);
  return {
    nexthop: {
      transportMaps: [],
      relayhost: over.relayhost ?? `[127.0.0.1]:${port}`,
      hostLookup: ["dns"],
      inetProtocols: ["ipv4"],
      defaultPort: port,
    },
    resolver: createResolver([dns.address], 1000),
    session: {
      heloName: "client.test",
      tlsLevel: over.tls ?? "none",
      timeouts: {
        connect: ms,
        helo: over.helo ?? ms,
        mail: ms,
        rcpt: ms,
        dataInit: ms,
        dataXfer: ms,
        dataDone: ms,
        rset: ms,
        quit: ms,
      },
    },
    cache,
  };
}

async function fake(opts: FakeOptions = {}): Promise<FakeServer> {
  const s = await startFakeServer(opts);
  servers.push(s);
  return s;
}

before(async () => {
  dns = await startDnsServer({
    "there.test": {
      mx: [
        [10, "dead.there.test"],
        [20, "live.there.test"],
      ],
    },
    "dead.there.test": { a: ["127.0.0.2"] },
    "live.there.test": { a: ["127.0.0.1"] },
  });
});
afterEach(async () => {
  for (const c of caches.splice(0)) await c.closeAll();
  for (const s of servers.splice(0)) await s.close();
});
after(() => dns.close());

describe("deliverSmtp", () => {
  it("delivers through relayhost with CRLF, dot-stuffed content and reports the server's reply", async () => {
    const s = await fake();
    const { reply, connectedAt } = await deliverSmtp(message(), deps(s.port));
    assert.deepEqual(reply, {
      status: "sent",
      dsn: "2.0.0",
      relay: `127.0.0.1[127.0.0.1]:${s.port}`,
      text: "250 2.0.0 Ok: queued as FAKE1",
    });
    assert.ok(connectedAt);
    assert.equal(s.messages[0], "Subject: hi\r\n\r\n..leading dot\r\nbody\r\n");
    assert.deepEqual(s.sessions[0]?.slice(0, 4), [
      "EHLO client.test",
      `MAIL FROM:<alice@here.test> SIZE=${Buffer.byteLength(BODY)}`,
      "RCPT TO:<bob@there.test>",
      "DATA",
    ]);
  });

  it("works without PIPELINING, one command at a time", async () => {
    const s = await fake({ ehlo: ["8BITMIME"] });
    const { reply } = await deliverSmtp(message({ eightBit: true }), deps(s.port));
    assert.equal(reply.status, "sent");
    assert.equal(s.sessions[0]?.[1], "MAIL FROM:<alice@here.test> BODY=8BITMIME");
  });

  it("falls back to HELO when EHLO is refused", async () => {
    const s = await fake({ replies: { EHLO: "502 5.5.2 no EHLO here" } });
    const { reply } = await deliverSmtp(message(), deps(s.port));
    assert.equal(reply.status, "sent");
    assert.deepEqual(s.sessions[0]?.slice(0, 3), [
      "EHLO client.test",
      "HELO client.test",
      "MAIL FROM:<alice@here.test>",
    ]);
  });

  const rejections: [string, Record<string, string>, string, string, string][] = [
    [
      "bounces a 5xx reply to RCPT TO",
      { RCPT: "550 5.1.1 no such user" },
      "bounced",
      "5.1.1",
      "550 5.1.1 no such user (in reply to RCPT TO command)",
    ],
    [
      "defers a 4xx reply to RCPT TO",
      { RCPT: "451 4.3.0 try later" },
      "deferred",
      "4.3.0",
      "451 4.3.0 try later (in reply to RCPT TO command)",
    ],
    [
      "bounces a 5xx reply to MAIL FROM",
      { MAIL: "553 5.7.1 sender refused" },
      "bounced",
      "5.7.1",
      "553 5.7.1 sender refused (in reply to MAIL FROM command)",
    ],
    [
      "defers a 4xx reply to DATA",
      { DATA: "451 no data now" },
      "deferred",
      "4.0.0",
      "451 no data now (in reply to DATA command)",
    ],
    [
      "bounces a 5xx reply after the content",
      { DOT: "554 5.7.1 spam" },
      "bounced",
      "5.7.1",
      "554 5.7.1 spam (in reply to end of DATA command)",
    ],
  ];
  for (const [name, replies, status, dsn, said] of rejections)
    it(name, async () => {
      const s = await fake({ replies });
      const { reply } = await deliverSmtp(message(), deps(s.port));
      assert.deepEqual(reply, {
        status,
        dsn,
        relay: `127.0.0.1[127.0.0.1]:${s.port}`,
        text: `host 127.0.0.1[127.0.0.1] said: ${said}`,
      });
    });

  it("defers with Postfix's text when the connection is refused", async () => {
    const s = await fake();
    const port = s.port;
    await s.close();
    servers.length = 0;
    const { reply } = await deliverSmtp(message(), deps(port));
    assert.deepEqual(reply, {
      status: "deferred",
      dsn: "4.4.1",
      relay: "none",
      text: `connect to 127.0.0.1[127.0.0.1]:${port}: Connection refused`,
    });
  });

  it("tries the next MX host when the first refuses the connection", async () => {
    const s = await fake();
    const { reply } = await deliverSmtp(message(), deps(s.port, { relayhost: `there.test:${s.port}` }));
    assert.equal(reply.status, "sent");
    assert.equal(reply.relay, `live.there.test[127.0.0.1]:${s.port}`);
  });

  it("tries the next MX host after a 4xx greeting", async () => {
    const s = await fake({ greeting: "421 4.3.2 busy" });
    const { reply } = await deliverSmtp(message(), deps(s.port, { relayhost: `there.test:${s.port}` }));
    assert.equal(reply.status, "deferred");
    assert.equal(reply.text, "host live.there.test[127.0.0.1] refused to talk to me: 421 4.3.2 busy");
  });

  it("defers when the server says nothing within the greeting time limit", async () => {
    const s = await fake({ silent: true });
    const { reply } = await deliverSmtp(message(), deps(s.port, { helo: 150 }));
    assert.equal(reply.status, "deferred");
    assert.equal(reply.dsn, "4.4.2");
    assert.equal(
      reply.text,
      "conversation with 127.0.0.1[127.0.0.1] timed out while receiving the initial server greeting",
    );
  });

  it("bounces a message needing SMTPUTF8 when the server does not offer it", async () => {
    const s = await fake();
    const { reply } = await deliverSmtp(
      message({ recipient: "jörg@there.test", needsSmtputf8: true }),
      deps(s.port),
    );
    assert.equal(reply.status, "bounced");
    assert.equal(reply.dsn, "5.6.7");
    assert.equal(reply.text, "SMTPUTF8 is required, but was not offered by host 127.0.0.1[127.0.0.1]");
  });

  it("sends SMTPUTF8 and UTF-8 addresses when the server offers it", async () => {
    const s = await fake({ ehlo: ["PIPELINING", "SMTPUTF8"] });
    const { reply } = await deliverSmtp(
      message({ recipient: "jörg@there.test", needsSmtputf8: true }),
      deps(s.port),
    );
    assert.equal(reply.status, "sent");
    assert.equal(
      Buffer.from(s.sessions[0]?.[2] ?? "", "latin1").toString("utf8"),
      "RCPT TO:<jörg@there.test>",
    );
    assert.match(s.sessions[0]?.[1] ?? "", / SMTPUTF8$/);
  });

  it("bounces a message larger than the server's SIZE limit", async () => {
    const s = await fake({ ehlo: ["SIZE 10"] });
    const { reply } = await deliverSmtp(message(), deps(s.port));
    assert.equal(reply.status, "bounced");
    assert.equal(reply.dsn, "5.3.4");
    assert.equal(
      reply.text,
      `message size ${Buffer.byteLength(BODY)} exceeds size limit 10 of server 127.0.0.1[127.0.0.1]`,
    );
  });

  it("passes DSN parameters through when the server offers DSN", async () => {
    const s = await fake({ ehlo: ["DSN"] });
    const msg = message({
      notify: "SUCCESS,FAILURE",
      orcpt: "rfc822;Bob+2B1@there.test",
      ret: "HDRS",
      envid: "QQ1",
    });
    await deliverSmtp(msg, deps(s.port));
    assert.deepEqual(s.sessions[0]?.slice(1, 3), [
      "MAIL FROM:<alice@here.test> RET=HDRS ENVID=QQ1",
      "RCPT TO:<bob@there.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+2B1@there.test",
    ]);
  });

  it("leaves DSN parameters out when the server does not offer DSN", async () => {
    const s = await fake({ ehlo: [] });
    await deliverSmtp(message({ notify: "NEVER", ret: "FULL" }), deps(s.port));
    assert.deepEqual(s.sessions[0]?.slice(1, 3), ["MAIL FROM:<alice@here.test>", "RCPT TO:<bob@there.test>"]);
  });

  it("reuses a cached connection for the next message, after RSET", async () => {
    const s = await fake();
    const d = deps(s.port, { cacheMs: 2000 });
    assert.equal((await deliverSmtp(message(), d)).reply.status, "sent");
    assert.equal(d.cache.size, 1);
    assert.equal((await deliverSmtp(message({ recipient: "carol@there.test" }), d)).reply.status, "sent");
    assert.equal(s.sessions.length, 1);
    assert.ok(s.sessions[0]?.includes("RSET"));
    assert.equal(s.messages.length, 2);
  });

  it("defers when TLS is required and the server does not offer STARTTLS", async () => {
    const s = await fake();
    const { reply } = await deliverSmtp(message(), deps(s.port, { tls: "encrypt" }));
    assert.equal(reply.status, "deferred");
    assert.equal(reply.dsn, "4.7.4");
    assert.equal(reply.text, "TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]");
  });
});

describe("deliverSmtp with STARTTLS", () => {
  let key: string;
  let cert: string;
  before(() => {
    const dir = mkdtempSync(join(tmpdir(), "postern-smtp-tls-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=fake.test",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    key = readFileSync(join(dir, "key.pem"), "utf8");
    cert = readFileSync(join(dir, "cert.pem"), "utf8");
    rmSync(dir, { recursive: true, force: true });
  });

  for (const level of ["may", "encrypt"] as const)
    it(`upgrades to TLS at level ${level} and says EHLO again`, async () => {
      const s = await fake({ ehlo: ["PIPELINING", "STARTTLS"], tls: { key, cert } });
      const { reply } = await deliverSmtp(message(), deps(s.port, { tls: level }));
      assert.equal(reply.status, "sent");
      assert.deepEqual(s.sessions[0]?.slice(0, 3), ["EHLO client.test", "STARTTLS", "EHLO client.test"]);
      assert.equal(s.messages.length, 1);
    });

  it("stays in plain text at level none even when STARTTLS is offered", async () => {
    const s = await fake({ ehlo: ["STARTTLS"], tls: { key, cert } });
    await deliverSmtp(message(), deps(s.port, { tls: "none" }));
    assert.ok(!s.sessions[0]?.includes("STARTTLS"));
  });
});
