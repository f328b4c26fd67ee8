/*
 * smtpd with a real cleanup service: the queue ID is made at the first accepted RCPT,
 * where Postfix opens its queue file (smtpd_delay_open_until_valid_rcpt), and cleanup
 * creates the file under it when the content comes. The finished file has every
 * recipient and the Received "for" rule, "ID: client=" is logged at RCPT, and RSET, QUIT, a lost connection or a new transaction leave nothing in incoming/.
 * A cleanup that cannot be reached gives DATA 451 4.3.0 and a maillog line. smtpd makes
 * the queue ID itself, so nothing waits for cleanup before the content: a slow cleanup does
 * not hold 354 back, and one that cannot create the file makes the end of data 451 4.3.0.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { CleanupClient } from "../../lib/cleanup/client.js";
import { QmgrWaker, serveCleanup } from "../../lib/cleanup/service.js";
import { connectIpc, IpcConnection } from "../../lib/ipc/index.js";
import { Logger } from "../../lib/log/index.js";
import { ensureQueueDirs, newQueueId, queuePath, readQueueFileSync } from "../../lib/queue/index.js";
import type { SmtpdPolicy } from "../../lib/smtpd/policy-hooks.js";
import { type SmtpdShared, serveSmtp } from "../../lib/smtpd/session.js";
import { smtpDialog } from "../helpers/smtp.js";
import { options } from "../smtp/harness.js";

let root = "";
let queueDir = "";
let logFile = "";
const servers: Server[] = [];
const clients: CleanupClient[] = [];

const policy: SmtpdPolicy = {
  helo: async () => null,
  mailFrom: async () => null,
  rcptTo: async (_s, _e, rcpt) =>
    rcpt.startsWith("nobody@") ? { code: 550, enhanced: "5.1.1", text: "User unknown" } : null,
  data: async () => null,
  prepare: async () => undefined,
};

function listen(server: Server, where: string | number): Promise<number> {
  servers.push(server);
  return new Promise((resolve) =>
    server.listen(where, () => {
      const a = server.address();
      resolve(typeof a === "object" && a !== null ? a.port : 0);
    }),
  );
}

/** An smtpd on a loopback port whose cleanup is at queueDir (or nowhere). */
async function smtpd(cleanupQueueDir: string): Promise<number> {
  const log = new Logger({ file: logFile, tag: "postern/smtpd", host: "test" });
  const cleanup = new CleanupClient(cleanupQueueDir, 5000);
  clients.push(cleanup);
  const shared: SmtpdShared = {
    settings: {
      engine: options(),
      hostname: "mx.example.org",
      timeoutMs: 30_000,
      peerLookup: false,
      tls: { context: undefined, level: "none", wrapper: false },
      sasl: { mechanisms: [], tlsOnly: false },
    },
    policy,
    cleanup,
    log,
    auth: undefined,
  };
  return listen(
    createServer({ pauseOnConnect: true }, (socket) => void serveSmtp(socket, shared)),
    0,
  );
}

let port = 0;
let brokenPort = 0;
let slowPort = 0;
let failingPort = 0;
/** When the slow proxy let each delayed answer through. */
const released: number[] = [];
const SLOW_MS = 300;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A cleanup whose every answer to an early open comes late: a proxy to the real one. */
async function slowCleanup(dir: string): Promise<void> {
  mkdirSync(join(dir, "public"), { recursive: true });
  await listen(
    createServer((client) => {
      const upstream = connect(join(queueDir, "public", "cleanup"));
      client.pipe(upstream);
      let chain = Promise.resolve();
      let first = true;
      upstream.on("data", (d: Buffer) => {
        const wait = first ? delay(SLOW_MS).then(() => void released.push(Date.now())) : undefined;
        first = false;
        chain = chain.then(() => wait).then(() => void client.write(d));
      });
      upstream.on("close", () => void chain.then(() => client.destroy()));
      client.on("close", () => upstream.destroy());
      client.on("error", () => undefined);
      upstream.on("error", () => undefined);
    }),
    join(dir, "public", "cleanup"),
  );
}

/** A cleanup that fails every request, late. */
async function failingCleanup(dir: string): Promise<void> {
  mkdirSync(join(dir, "public"), { recursive: true });
  const fail = { ok: false, code: 451, enhanced: "4.3.0", text: "Error: queue file write error" };
  await listen(
    createServer((socket) => {
      const conn = new IpcConnection(socket, { timeoutMs: 5000 });
      void conn.nextMessage<{ op: string }>().then(
        async (m) => {
          assert.equal(m.op, "begin");
          await delay(SLOW_MS);
          if (!conn.closed) conn.send(fail);
          socket.end();
        },
        () => socket.destroy(),
      );
    }),
    join(dir, "public", "cleanup"),
  );
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "postern-smtpd-open-"));
  queueDir = join(root, "spool");
  logFile = join(root, "maillog");
  ensureQueueDirs(queueDir);
  const log = new Logger({ file: logFile, tag: "postern/cleanup", host: "test" });
  const settings = {
    queueDir,
    myhostname: "mx.example.org",
    myorigin: "example.org",
    mailName: "Postern",
    addMissing: false,
    headerSizeLimit: 102400,
    timeoutMs: 5000,
  };
  const waker = new QmgrWaker(join(queueDir, "public", "qmgr"));
  await listen(
    createServer((s) => void serveCleanup(s, settings, log, waker).finally(() => s.destroy())),
    join(queueDir, "public", "cleanup"),
  );
  port = await smtpd(queueDir);
  brokenPort = await smtpd(join(root, "no-such-queue"));
  await slowCleanup(join(root, "slow"));
  slowPort = await smtpd(join(root, "slow"));
  await failingCleanup(join(root, "failing"));
  failingPort = await smtpd(join(root, "failing"));
});

after(() => {
  for (const c of clients) c.close();
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

/** Each command after the previous reply; resolves with the replies once the connection has closed. */
function dialog(
  p: number,
  commands: string[],
  hangUp = false,
  gate?: { afterReplies: number; wait: () => Promise<unknown> },
): Promise<string[]> {
  return smtpDialog(p, commands, { untilClose: true, hangUp, ...(gate ? { gate } : {}) });
}

function incoming(): string[] {
  return readdirSync(join(queueDir, "incoming"));
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until incoming/ is empty (the abort is asynchronous). */
async function nothingLeft(): Promise<void> {
  await waitFor("an empty incoming/", () => (incoming().length === 0 ? true : undefined));
}

function takeQueued(reply: string | undefined): { id: string; text: string; rcpts: string[] } {
  const id = /queued as (\w+)/.exec(reply ?? "")?.[1];
  assert.ok(id, `queued: ${reply}`);
  const path = queuePath(queueDir, "incoming", id);
  const q = readQueueFileSync(path);
  const text = readFileSync(path)
    .subarray(q.contentOffset, q.contentOffset + q.contentLength)
    .toString();
  rmSync(path);
  return { id, text, rcpts: q.envelope.recipients.map((r) => r.address) };
}

const MSG = "Subject: t\r\n\r\nbody\r\n.\r\n";

test("every recipient reaches the queue file; ID: client= is logged at the first RCPT", async () => {
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "RCPT TO:<nobody@example.net>\r\n",
    "RCPT TO:<carol@example.net>\r\n",
    "DATA\r\n",
    MSG,
    "QUIT\r\n",
  ]);
  assert.deepEqual(
    r.slice(2).map((l) => l.slice(0, 3)),
    ["250", "250", "550", "250", "354", "250", "221"],
  );
  const q = takeQueued(r[7]);
  assert.deepEqual(q.rcpts, ["bob@example.net", "carol@example.net"]);
  assert.match(
    q.text,
    /^Received: from c\.example \(unknown \[127\.0\.0\.1\]\)\n\tby mx\.example\.org \(Postern\) with ESMTP id \w+;/,
  );
  assert.doesNotMatch(q.text, /\tfor </, "no 'for' with two recipients");
  const log = readFileSync(logFile, "utf8");
  assert.match(log, new RegExp(`${q.id}: client=unknown\\[127\\.0\\.0\\.1\\]`));
});

test("one recipient: the Received header names it, as before", async () => {
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "DATA\r\n",
    MSG,
    "QUIT\r\n",
  ]);
  const q = takeQueued(r[5]);
  assert.deepEqual(q.rcpts, ["bob@example.net"]);
  assert.match(q.text, /with ESMTP id \w+\n\tfor <bob@example\.net>;/);
  assert.match(q.text, /\n\nbody\n$/);
});

test("RSET after RCPT leaves nothing in incoming/, and the next transaction is queued", async () => {
  // RSET may come before or after the early open completes: both must leave nothing.
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "RSET\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<carol@example.net>\r\n",
    "DATA\r\n",
    MSG,
    "QUIT\r\n",
  ]);
  assert.match(r[4] ?? "", /^250 /);
  const q = takeQueued(r[8]);
  assert.deepEqual(q.rcpts, ["carol@example.net"]);
  await nothingLeft();
});

for (const [name, tail, hangUp] of [
  ["QUIT", ["QUIT\r\n"], false],
  ["a lost connection", [], true],
  ["a second EHLO", ["EHLO again.example\r\n", "NOOP\r\n"], false],
] as const) {
  test(`${name} after RCPT leaves nothing in incoming/`, async () => {
    const before = readFileSync(logFile, "utf8").length;
    // Once the queue file exists (its client= line is logged), the rest of the session.
    const opened = () =>
      waitFor("the client= line", () =>
        /: client=unknown/.test(readFileSync(logFile, "utf8").slice(before)) ? true : undefined,
      );
    const r = await dialog(
      port,
      ["EHLO c.example\r\n", "MAIL FROM:<alice@example.org>\r\n", "RCPT TO:<bob@example.net>\r\n", ...tail],
      hangUp,
      { afterReplies: 4, wait: opened },
    );
    assert.match(r[3] ?? "", /^250 /);
    await nothingLeft();
  });
}

test("cleanup unreachable: RCPT is accepted, DATA answers 451 4.3.0, and it is logged", async () => {
  const before = readFileSync(logFile, "utf8").length;
  const r = await dialog(brokenPort, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "DATA\r\n",
    "QUIT\r\n",
  ]);
  assert.match(r[3] ?? "", /^250 /);
  assert.match(r[4] ?? "", /^451 4\.3\.0 /);
  const log = readFileSync(logFile, "utf8").slice(before);
  assert.match(log, /openMessage failed: connect to .*cleanup/);
});

test("a slow cleanup: 354 does not wait for it, the message is queued once", async () => {
  const before = released.length;
  let dataAnswered = 0;
  const r = await dialog(
    slowPort,
    [
      "EHLO c.example\r\n",
      "MAIL FROM:<alice@example.org>\r\n",
      "RCPT TO:<bob@example.net>\r\n",
      "RCPT TO:<carol@example.net>\r\n",
      "DATA\r\n",
      MSG,
      "QUIT\r\n",
    ],
    false,
    { afterReplies: 6, wait: async () => (dataAnswered = Date.now()) },
  );
  assert.match(r[5] ?? "", /^354 /);
  assert.ok(released.length > before);
  assert.ok(dataAnswered < (released[before] ?? 0), "354 before cleanup's first answer");
  const q = takeQueued(r[6]);
  assert.deepEqual(q.rcpts, ["bob@example.net", "carol@example.net"]);
  assert.match(q.text, /\nSubject: t\n\nbody\n$/);
  await nothingLeft();
});

test("a queue file cleanup cannot create: 451 4.3.0 at the end of data, nothing queued, the session goes on", async () => {
  const before = readFileSync(logFile, "utf8").length;
  const r = await dialog(failingPort, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "DATA\r\n",
    MSG,
    "NOOP\r\n",
    "QUIT\r\n",
  ]);
  assert.match(r[4] ?? "", /^354 /);
  assert.match(r[5] ?? "", /^451 4\.3\.0 /);
  assert.match(r[6] ?? "", /^250 /);
  assert.match(r[7] ?? "", /^221 /);
  const log = readFileSync(logFile, "utf8").slice(before);
  const id = /postern\/smtpd\[\d+\]: (\w+): client=unknown\[127\.0\.0\.1\]/.exec(log)?.[1];
  assert.ok(id, log);
  assert.match(
    log,
    new RegExp(`${id}: reject: END-OF-MESSAGE from unknown\\[127\\.0\\.0\\.1\\]: 451 4\\.3\\.0 `),
  );
  await nothingLeft();
});

test("a large message streams through the early-opened file (the envelope frame is not stuck behind it)", async () => {
  const line = `${"y".repeat(998)}\r\n`;
  const body = `Subject: big\r\n\r\n${line.repeat(1500)}.\r\n`;
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "RCPT TO:<carol@example.net>\r\n",
    "DATA\r\n",
    body,
    "QUIT\r\n",
  ]);
  const q = takeQueued(r[6]);
  assert.deepEqual(q.rcpts, ["bob@example.net", "carol@example.net"]);
  assert.equal(q.text.split(`${"y".repeat(998)}\n`).length - 1, 1500);
});

test("an empty message and BDAT work through the early-opened file", async () => {
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<bob@example.net>\r\n",
    "DATA\r\n",
    ".\r\n",
    "MAIL FROM:<alice@example.org>\r\n",
    "RCPT TO:<carol@example.net>\r\n",
    "BDAT 17 LAST\r\nSubject: b\r\n\r\nx\r\n",
    "QUIT\r\n",
  ]);
  assert.match(takeQueued(r[5]).text, /^Received: /);
  const b = takeQueued(r[8]);
  assert.deepEqual(b.rcpts, ["carol@example.net"]);
  assert.match(b.text, /\nSubject: b\n\nx\n$/);
  await nothingLeft();
});

test("RSET pipelined right behind RCPT: nothing is opened or left, and the session goes on", async () => {
  const r = await dialog(port, [
    "EHLO c.example\r\n",
    "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nRSET\r\nNOOP\r\n",
    "QUIT\r\n",
  ]);
  assert.match(r.at(-1) ?? "", /^221 /);
  await nothingLeft();
});

test("cleanup: begin with the client's queue ID is answered once, at the end, under that ID", async () => {
  const conn = await connectIpc(join(queueDir, "public", "cleanup"), { timeoutMs: 5000 });
  const envelope = { sender: "a@example.org", recipients: [{ address: "b@example.net" }], attrs: {} };
  const id = newQueueId();
  conn.send({ op: "begin", id, envelope, inputIsCrlf: false });
  conn.sendLastData(Buffer.from("Subject: x\n\nhi\n"));
  const done = await conn.nextMessage<{ ok: boolean; id: string; nrcpt: number }>();
  assert.equal(done.ok, true);
  assert.equal(done.id, id);
  assert.equal(takeQueued(`queued as ${done.id}`).id, id);
  // An abort after begin: one answer, the file gone, the connection still good.
  const second = newQueueId();
  conn.send({ op: "begin", id: second, envelope, inputIsCrlf: false });
  assert.deepEqual(await conn.request({ op: "abort" }), { ok: true, id: second });
  await nothingLeft();
  conn.close();

  // Not a queue ID (it would become a file name): the connection ends, nothing is created.
  const bad = await connectIpc(join(queueDir, "public", "cleanup"), { timeoutMs: 5000 });
  bad.send({ op: "begin", id: "../x", envelope, inputIsCrlf: false });
  await assert.rejects(bad.nextMessage(), /closed/);
  await nothingLeft();
});
