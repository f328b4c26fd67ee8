import assert from "node:assert/strict";
import { statSync, utimesSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { queueCommand } from "../../lib/cli/queue.js";
import { newQueueId, type QueueName, removeQueueFile, scanQueue } from "../../lib/queue/index.js";
import { placeMessage, runTool, type ToolSandbox, toolSandbox } from "./helpers.js";

let sb: ToolSandbox;
const FUTURE = Date.now() / 1000 + 86_400;

before(async () => {
  sb = await toolSandbox();
});
after(() => sb.remove());

beforeEach(async () => {
  for (const q of ["incoming", "deferred", "hold", "active"] as QueueName[])
    for await (const id of scanQueue(sb.queueDir, q)) await removeQueueFile(sb.queueDir, id, q);
});

/** A stand-in for qmgr's public/qmgr trigger socket that records the request letters. */
async function fakeQmgr(): Promise<{ requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((s) => {
    let data = "";
    s.on("data", (d) => {
      data += d.toString();
    });
    s.on("end", () => {
      requests.push(data);
      s.end();
    });
  });
  await new Promise<void>((r) => server.listen(join(sb.queueDir, "public", "qmgr"), r));
  return { requests, close: () => new Promise((r) => server.close(() => r())) };
}

const mtime = (path: string) => statSync(path).mtimeMs;

test("queue -p says the queue is empty when it is", async () => {
  const r = await runTool(queueCommand, sb.dir, ["-p"]);
  assert.deepEqual(r, { code: 0, out: "Mail queue is empty\n", err: "" });
});

test("queue -p lists deferred and held mail in mailq's format", async () => {
  const d = await placeMessage(sb.queueDir, "deferred", { deferText: "connect to mx: Connection refused" });
  const h = await placeMessage(sb.queueDir, "hold");
  const r = await runTool(queueCommand, sb.dir, ["-p"]);
  assert.equal(r.code, 0);
  assert.match(r.out, /^-Queue ID- {2}--Size-- ----Arrival Time---- -Sender\/Recipient-------\n/);
  assert.match(
    r.out,
    new RegExp(`^${d.id}  +\\d+ \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d  alice@example\\.org$`, "m"),
  );
  assert.match(r.out, /^ {20}\(connect to mx: Connection refused\)\n {42}bob@example\.net$/m);
  assert.match(r.out, new RegExp(`^${h.id}!`, "m"));
  assert.match(r.out, /-- 1 Kbytes in 2 Requests\.\n$/);
});

test("queue -j prints one postqueue -j object per message, pending recipients only", async () => {
  const d = await placeMessage(sb.queueDir, "deferred", {
    envelope: { recipients: [{ address: "bob@example.net" }, { address: "carol@example.net" }] },
    bounced: [1],
    deferText: "try again",
  });
  const r = await runTool(queueCommand, sb.dir, ["-j"]);
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0] ?? ""), {
    queue_name: "deferred",
    queue_id: d.id,
    arrival_time: Date.UTC(2026, 0, 2, 3, 4, 5) / 1000,
    message_size: 51,
    forced_expire: false,
    sender: "alice@example.org",
    recipients: [{ address: "bob@example.net", delay_reason: "try again" }],
  });
});

test("queue -f makes every deferred message due and triggers qmgr with F", async () => {
  const a = await placeMessage(sb.queueDir, "deferred");
  const b = await placeMessage(sb.queueDir, "deferred");
  for (const m of [a, b]) utimesSync(m.path, FUTURE, FUTURE);
  const qmgr = await fakeQmgr();
  try {
    const r = await runTool(queueCommand, sb.dir, ["-f"]);
    assert.deepEqual(r, { code: 0, out: "", err: "" });
    for (const m of [a, b]) assert.ok(mtime(m.path) <= Date.now());
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(qmgr.requests, ["F"]);
  } finally {
    await qmgr.close();
  }
});

test("queue -f without a running mail system says so and exits 1", async () => {
  const r = await runTool(queueCommand, sb.dir, ["-f"]);
  assert.equal(r.code, 1);
  assert.equal(r.err, "postern: fatal: Cannot flush mail queue - mail system is down\n");
});

test("queue -i flushes just that message and -s just the mail for a domain", async () => {
  const one = await placeMessage(sb.queueDir, "deferred");
  const other = await placeMessage(sb.queueDir, "deferred", {
    envelope: { recipients: [{ address: "dave@Other.Example" }] },
  });
  for (const m of [one, other]) utimesSync(m.path, FUTURE, FUTURE);
  const qmgr = await fakeQmgr();
  try {
    assert.equal((await runTool(queueCommand, sb.dir, ["-i", one.id])).code, 0);
    assert.ok(mtime(one.path) <= Date.now());
    assert.ok(mtime(other.path) > Date.now());
    utimesSync(one.path, FUTURE, FUTURE);
    assert.equal((await runTool(queueCommand, sb.dir, ["-s", "other.example"])).code, 0);
    assert.ok(mtime(other.path) <= Date.now());
    assert.ok(mtime(one.path) > Date.now());
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(qmgr.requests, ["D", "D"]);
  } finally {
    await qmgr.close();
  }
});

test("queue refuses bad and unknown queue IDs clearly", async () => {
  const cases: [string[], number, string][] = [
    [["-i", "../etc/passwd"], 1, "postern: fatal: invalid queue ID: ../etc/passwd\n"],
    [["-i", newQueueId()], 1, "no such message"],
    [[], 2, "give exactly one of"],
    [["-p", "-j"], 2, "give exactly one of"],
  ];
  for (const [args, code, text] of cases) {
    const r = await runTool(queueCommand, sb.dir, args);
    assert.equal(r.code, code, args.join(" "));
    assert.ok(r.err.includes(text), r.err);
  }
});
