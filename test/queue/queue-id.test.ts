import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { isQueueId, newQueueId, QUEUE_ID_LENGTH, queueIdTime } from "../../lib/queue/index.js";

const run = promisify(execFile);

test("newQueueId returns fixed-length alphanumeric IDs, unique across 100k calls", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = newQueueId();
    assert.equal(id.length, QUEUE_ID_LENGTH);
    assert.match(id, /^[0-9A-Za-z]+$/);
    ids.add(id);
  }
  assert.equal(ids.size, 100_000);
});

test("newQueueId IDs sort as strings in creation order", () => {
  const ids = Array.from({ length: 5000 }, () => newQueueId());
  assert.deepEqual([...ids].sort(), ids);
});

test("queueIdTime recovers the creation time in milliseconds", () => {
  const before = Date.now();
  const id = newQueueId();
  const after = Date.now();
  const time = queueIdTime(id);
  // IDs follow the monotonic clock, which may drift from Date.now() by up to a second
  // before newQueueId falls back to the wall clock (2 ms was seen in CI).
  const drift = 1000;
  assert.ok(
    time >= before - drift && time <= after + drift,
    `${time} not in [${before}, ${after}] ± ${drift}`,
  );
});

test("queueIdTime rejects something that is not a queue ID", () => {
  assert.throws(() => queueIdTime("../etc/passwd"), RangeError);
  assert.equal(isQueueId(".0123456789abcde.tmp"), false);
});

test("two processes generating IDs at the same time never collide", async () => {
  const moduleUrl = new URL("../../lib/queue/queue-id.js", import.meta.url).href;
  const script = `import { newQueueId } from ${JSON.stringify(moduleUrl)};
    const ids = []; for (let i = 0; i < 20000; i++) ids.push(newQueueId());
    process.stdout.write(ids.join("\\n"));`;
  const child = run(process.execPath, ["--input-type=module", "-e", script], { maxBuffer: 1 << 24 });
  const mine = Array.from({ length: 20_000 }, () => newQueueId());
  const theirs = (await child).stdout.split("\n");
  assert.equal(theirs.length, 20_000);
  const all = new Set([...mine, ...theirs]);
  assert.equal(all.size, 40_000);
});
