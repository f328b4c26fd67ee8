import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { superCommand } from "../../lib/cli/super.js";
import { newQueueId, type QueueName, queuePath, removeQueueFile, scanQueue } from "../../lib/queue/index.js";
import { placeMessage, runTool, type ToolSandbox, toolSandbox } from "./helpers.js";

let sb: ToolSandbox;
const QUEUES: QueueName[] = ["maildrop", "incoming", "active", "deferred", "hold", "corrupt"];

before(async () => {
  sb = await toolSandbox();
});
after(() => sb.remove());

beforeEach(async () => {
  for (const q of QUEUES)
    for await (const id of scanQueue(sb.queueDir, q)) await removeQueueFile(sb.queueDir, id, q);
});

async function where(id: string): Promise<QueueName[]> {
  return QUEUES.filter((q) => existsSync(queuePath(sb.queueDir, q, id)));
}

test("super -d removes one message and says so as postsuper does", async () => {
  const m = await placeMessage(sb.queueDir, "deferred");
  writeFileSync(join(sb.queueDir, "bounce", m.id), "0\n");
  const r = await runTool(superCommand, sb.dir, ["-d", m.id]);
  assert.deepEqual(r, {
    code: 0,
    out: "",
    err: `postsuper: ${m.id}: removed\npostsuper: Deleted: 1 message\n`,
  });
  assert.deepEqual(await where(m.id), []);
  assert.equal(existsSync(join(sb.queueDir, "bounce", m.id)), false);
  assert.match(
    readFileSync(join(sb.dir, "maillog"), "utf8"),
    new RegExp(`postern/postsuper\\[\\d+\\]: ${m.id}: removed`),
  );
});

test("super -d ALL limited to a queue leaves the other queues alone", async () => {
  const held = await placeMessage(sb.queueDir, "hold");
  const d1 = await placeMessage(sb.queueDir, "deferred");
  const d2 = await placeMessage(sb.queueDir, "deferred");
  const r = await runTool(superCommand, sb.dir, ["-d", "ALL", "deferred"]);
  assert.equal(r.code, 0);
  assert.match(r.err, /Deleted: 2 messages/);
  assert.deepEqual(await where(d1.id), []);
  assert.deepEqual(await where(d2.id), []);
  assert.deepEqual(await where(held.id), ["hold"]);
});

test("super -h holds, -H releases as due deferred mail, -r requeues to maildrop", async () => {
  const m = await placeMessage(sb.queueDir, "deferred");
  const held = await runTool(superCommand, sb.dir, ["-h", m.id]);
  assert.equal(held.err, `postsuper: ${m.id}: placed on hold\npostsuper: Placed on hold: 1 message\n`);
  assert.deepEqual(await where(m.id), ["hold"]);
  const future = Date.now() / 1000 + 86_400;
  utimesSync(queuePath(sb.queueDir, "hold", m.id), future, future);
  const released = await runTool(superCommand, sb.dir, ["-H", m.id]);
  assert.equal(
    released.err,
    `postsuper: ${m.id}: released from hold\npostsuper: Released from hold: 1 message\n`,
  );
  assert.deepEqual(await where(m.id), ["deferred"]);
  assert.ok(statSync(queuePath(sb.queueDir, "deferred", m.id)).mtimeMs <= Date.now());
  const requeued = await runTool(superCommand, sb.dir, ["-r", "ALL"]);
  assert.equal(requeued.err, `postsuper: ${m.id}: requeued\npostsuper: Requeued: 1 message\n`);
  assert.deepEqual(await where(m.id), ["maildrop"]);
});

test("super -d - and -h - read queue IDs from stdin", async () => {
  const a = await placeMessage(sb.queueDir, "deferred");
  const b = await placeMessage(sb.queueDir, "incoming");
  const r = await runTool(superCommand, sb.dir, ["-h", "-"], `${a.id}\n${b.id}\n`);
  assert.equal(r.code, 0);
  assert.deepEqual(await where(a.id), ["hold"]);
  assert.deepEqual(await where(b.id), ["hold"]);
  const d = await runTool(superCommand, sb.dir, ["-d", "-"], `${a.id} ${b.id}`);
  assert.match(d.err, /Deleted: 2 messages/);
});

test("super refuses an invalid ID before doing anything, and reports unknown ones", async () => {
  const m = await placeMessage(sb.queueDir, "deferred");
  const bad = await runTool(superCommand, sb.dir, ["-d", m.id, "-d", "x/../y"]);
  assert.deepEqual(bad, { code: 1, out: "", err: "postern: fatal: invalid queue ID: x/../y\n" });
  assert.deepEqual(await where(m.id), ["deferred"]);
  const ghost = newQueueId();
  const unknown = await runTool(superCommand, sb.dir, ["-d", ghost, "-d", m.id]);
  assert.equal(unknown.code, 1);
  assert.equal(
    unknown.err,
    `postern: warning: ${ghost}: no such message\npostsuper: ${m.id}: removed\npostsuper: Deleted: 1 message\n`,
  );
  const stdinBad = await runTool(superCommand, sb.dir, ["-d", "-"], "nonsense\n");
  assert.equal(stdinBad.err, "postern: fatal: invalid queue ID: nonsense\n");
  assert.equal((await runTool(superCommand, sb.dir, [])).code, 2);
  assert.equal((await runTool(superCommand, sb.dir, ["-d", "ALL", "nosuchqueue"])).code, 2);
});

test("super -s removes stale temp files, moves corrupt files aside and fixes modes", async () => {
  const good = await placeMessage(sb.queueDir, "deferred");
  chmodSync(good.path, 0o644);
  const brokenId = newQueueId();
  writeFileSync(queuePath(sb.queueDir, "deferred", brokenId), "POSTERN-QUEUE 1\ngarbage\n", { mode: 0o600 });
  const stale = join(sb.queueDir, "incoming", `.${newQueueId()}.tmp`);
  const fresh = join(sb.queueDir, "incoming", `.${newQueueId()}.tmp`);
  writeFileSync(stale, "x");
  writeFileSync(fresh, "x");
  const old = Date.now() / 1000 - 86_400;
  utimesSync(stale, old, old);
  const orphan = join(sb.queueDir, "bounce", newQueueId());
  writeFileSync(orphan, "0\n");
  const r = await runTool(superCommand, sb.dir, ["-s"]);
  assert.equal(r.code, 0);
  assert.match(
    r.err,
    new RegExp(`postern: warning: ${brokenId}: corrupt queue file \\(.*\\); moved to corrupt`),
  );
  assert.match(
    r.err,
    /postsuper: Repaired: 1 stale temporary file removed, 1 corrupt file moved to corrupt, 1 file mode fixed, 1 orphaned bounce log removed/,
  );
  assert.deepEqual(await where(brokenId), ["corrupt"]);
  assert.equal(statSync(good.path).mode & 0o777, 0o600);
  assert.equal(existsSync(stale), false);
  assert.equal(existsSync(fresh), true);
  assert.equal(existsSync(orphan), false);
});
