import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type BounceReply, serveBounce } from "../../lib/bounce/service.js";
import { CleanupClient } from "../../lib/cleanup/client.js";
import { QmgrWaker, serveCleanup } from "../../lib/cleanup/service.js";
import { connectIpc } from "../../lib/ipc/index.js";
import { Logger } from "../../lib/log/index.js";
import {
  appendDeferral,
  appendOutcome,
  ensureQueueDirs,
  moveQueueFile,
  openContent,
  type QueueEnvelope,
  QueueFileWriter,
  queuePath,
  readQueueFile,
} from "../../lib/queue/index.js";

let root: string;
let queueDir: string;
let logFile: string;
const servers: Server[] = [];
let cleanup: CleanupClient;

function listen(path: string, serve: (s: import("node:net").Socket) => Promise<void>): Promise<void> {
  const server = createServer((socket) => void serve(socket).finally(() => socket.destroy()));
  servers.push(server);
  return new Promise((resolve) => server.listen(path, resolve));
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "postern-bounce-"));
  queueDir = join(root, "spool");
  logFile = join(root, "maillog");
  ensureQueueDirs(queueDir);
  const log = new Logger({ file: logFile, tag: "postern/test", host: "test" });
  const cleanupSettings = {
    queueDir,
    myhostname: "mail.example.org",
    myorigin: "example.org",
    mailName: "Postern",
    addMissing: true,
    headerSizeLimit: 102400,
    timeoutMs: 5000,
  };
  const waker = new QmgrWaker(join(queueDir, "public", "qmgr"));
  await listen(join(queueDir, "public", "cleanup"), (s) => serveCleanup(s, cleanupSettings, log, waker));
  cleanup = new CleanupClient(queueDir, 5000);
  const svc = {
    settings: {
      queueDir,
      myhostname: "mail.example.org",
      myorigin: "example.org",
      postmaster: "postmaster",
      maximalQueueLifetimeMs: 5 * 86_400_000,
      returnSizeLimit: 50_000,
      timeoutMs: 5000,
    },
    cleanup,
    log,
  };
  await listen(join(queueDir, "private", "bounce"), (s) => serveBounce(s, svc));
});

after(() => {
  cleanup.close();
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

const CONTENT = "From: alice@example.org\nSubject: original\n\nbody text\n";

async function queued(envelope: Partial<QueueEnvelope>): Promise<string> {
  const w = await QueueFileWriter.create(queueDir, {
    queue: "incoming",
    envelope: {
      sender: "alice@example.org",
      recipients: [{ address: "bob@example.net" }],
      arrivalTime: Date.now() - 3_600_000,
      attrs: {},
      ...envelope,
    },
  });
  await w.write(Buffer.from(CONTENT));
  const id = await w.commit();
  await moveQueueFile(queueDir, id, "incoming", "active");
  return id;
}

async function bounced(id: string, index = 0): Promise<void> {
  await appendOutcome(queuePath(queueDir, "active", id), {
    index,
    status: "bounced",
    dsn: "5.1.1",
    relay: "local",
    text: 'unknown user: "bob"',
    time: Date.now(),
  });
}

async function ask(kind: "failure" | "delay", id: string, path = queuePath(queueDir, "active", id)) {
  const conn = await connectIpc(join(queueDir, "private", "bounce"), { timeoutMs: 5000 });
  try {
    return await conn.request<BounceReply>({ op: "bounce", kind, queueId: id, path });
  } finally {
    conn.close();
  }
}

async function notice(id: string) {
  const info = await readQueueFile(queuePath(queueDir, "incoming", id));
  const parts: Buffer[] = [];
  for await (const c of openContent(info)) parts.push(c as Buffer);
  return { info, text: Buffer.concat(parts).toString() };
}

function logText(): string {
  return readFileSync(logFile, "utf8");
}

test("a bounced recipient gets a non-delivery notice from <> through cleanup, and is logged", async () => {
  const id = await queued({});
  await bounced(id);
  const reply = await ask("failure", id);
  assert.ok(reply.ok && reply.dsnId !== null, JSON.stringify(reply));
  const { info, text } = await notice(reply.dsnId);
  assert.equal(info.envelope.sender, "");
  assert.deepEqual(info.envelope.recipients, [{ address: "alice@example.org" }]);
  assert.match(text, /Subject: Undelivered Mail Returned to Sender/);
  assert.match(text, /Final-Recipient: rfc822; bob@example\.net\nAction: failed\nStatus: 5\.1\.1/);
  assert.match(
    text,
    /Content-Type: message\/rfc822\nContent-Transfer-Encoding: 8bit\n\nFrom: alice@example\.org\nSubject: original\n\nbody text\n/,
  );
  assert.match(logText(), new RegExp(`${id}: sender non-delivery notification: ${reply.dsnId}`));
});

test("asking twice reports each bounced recipient only once", async () => {
  const id = await queued({ recipients: [{ address: "bob@example.net" }, { address: "carol@example.net" }] });
  await bounced(id, 0);
  const first = await ask("failure", id);
  assert.ok(first.ok && first.dsnId !== null);
  assert.deepEqual(await ask("failure", id), { ok: true, dsnId: null });
  await bounced(id, 1);
  const third = await ask("failure", id);
  assert.ok(third.ok && third.dsnId !== null);
  const { text } = await notice(third.dsnId);
  assert.match(text, /carol@example\.net/);
  assert.doesNotMatch(text, /Final-Recipient: rfc822; bob@example\.net/);
});

test("NOTIFY=NEVER and NOTIFY=SUCCESS suppress the failure notice", async () => {
  for (const notify of ["NEVER", "SUCCESS"]) {
    const id = await queued({ recipients: [{ address: "bob@example.net", notify }] });
    await bounced(id);
    assert.deepEqual(await ask("failure", id), { ok: true, dsnId: null }, notify);
  }
});

test("a delay warning lists deferred recipients and is logged as a delay notification", async () => {
  const id = await queued({});
  await appendDeferral(
    queuePath(queueDir, "active", id),
    [{ index: 0, dsn: "4.4.1", relay: "none", text: "connect to mx: Connection refused", time: Date.now() }],
    Date.now() + 60_000,
  );
  const reply = await ask("delay", id);
  assert.ok(reply.ok && reply.dsnId !== null);
  const { text } = await notice(reply.dsnId);
  assert.match(text, /Subject: Delayed Mail \(still being retried\)/);
  assert.match(text, /Action: delayed\nStatus: 4\.4\.1/);
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.doesNotMatch(text, /body text/);
  assert.match(logText(), new RegExp(`${id}: sender delay notification: ${reply.dsnId}`));
});

test("a bounce that bounces goes to postmaster from double-bounce, and that one is discarded", async () => {
  const single = await queued({ sender: "" });
  await bounced(single);
  const reply = await ask("failure", single);
  assert.ok(reply.ok && reply.dsnId !== null);
  const { info, text } = await notice(reply.dsnId);
  assert.equal(info.envelope.sender, "double-bounce@example.org");
  assert.deepEqual(info.envelope.recipients, [{ address: "postmaster@example.org" }]);
  assert.match(text, /Subject: Postmaster Copy: Undelivered Mail/);
  assert.match(logText(), new RegExp(`${single}: postmaster non-delivery notification: ${reply.dsnId}`));

  const double = await queued({ sender: "double-bounce@example.org" });
  await bounced(double);
  assert.deepEqual(await ask("failure", double), { ok: true, dsnId: null });
  assert.match(logText(), new RegExp(`warning: ${double}: undeliverable postmaster notification discarded`));
});

test("the null sender never gets a delay warning", async () => {
  const id = await queued({ sender: "" });
  await appendDeferral(
    queuePath(queueDir, "active", id),
    [{ index: 0, dsn: "4.4.1", relay: "none", text: "later", time: Date.now() }],
    Date.now() + 60_000,
  );
  assert.deepEqual(await ask("delay", id), { ok: true, dsnId: null });
});

test("a path that is not the queue ID's queue file is refused", async () => {
  const id = await queued({});
  assert.deepEqual(await ask("failure", id, "/etc/passwd"), { ok: false, text: "bad request" });
  assert.deepEqual(await ask("failure", "../../etc", "/etc/passwd"), { ok: false, text: "bad request" });
});

test("a vanished queue file is an error reply, not a crash", async () => {
  const id = await queued({});
  const reply = await ask("failure", id, queuePath(queueDir, "deferred", id));
  assert.deepEqual(reply, { ok: false, text: "cannot read queue file" });
});
