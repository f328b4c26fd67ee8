/*
 * writer-spare — QueueFileWriter's spare option (cleanup): a temporary file is made ahead
 * for the next message, used under its own temporary name but committed under the new
 * message's ID, replaced when older than maxAgeMs, and removed by discardSpareFiles().
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { discardSpareFiles, QueueFileWriter, readQueueFile } from "../../lib/queue/index.js";
import { withQueueDir } from "./helpers.js";

const envelope = { sender: "a@b", recipients: [{ address: "c@d" }], arrivalTime: 1, attrs: {} };

const temps = (dir: string) => readdirSync(join(dir, "incoming")).filter((n) => n.endsWith(".tmp"));

/**
 * Waits for check(), then a while more: a file is on disk before its open's callback has
 * run in this thread, which on a busy machine can take a few milliseconds.
 */
async function until(check: () => boolean): Promise<void> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  for (let i = 0; i < 400 && !check(); i++) await sleep(5);
  assert.ok(check(), "condition not reached in time");
  await sleep(200);
}

test("a spare temporary file is made for the next message, committed under that message's ID, and discarded at exit", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const spare = { maxAgeMs: 60_000 };
    const first = await QueueFileWriter.create(dir, { queue: "incoming", envelope, spare });
    await until(() => temps(dir).length === 2); // its own file and the spare
    const spareName = temps(dir).find((n) => n !== `.${first.id}.tmp`);
    const second = await QueueFileWriter.create(dir, { queue: "incoming", envelope, spare });
    assert.notEqual(spareName, `.${second.id}.tmp`);
    assert.ok(!readdirSync(join(dir, "incoming")).includes(`.${second.id}.tmp`), "second took the spare");
    await second.write(Buffer.from("Subject: s\n\nbody\n"));
    await second.commit();
    const q = await readQueueFile(join(dir, "incoming", second.id));
    assert.equal(q.envelope.sender, "a@b");
    assert.ok(!temps(dir).includes(spareName ?? ""), "the spare's name is gone after commit");
    await first.abort();
    await until(() => temps(dir).length === 1); // the next spare
    discardSpareFiles();
    assert.deepEqual(temps(dir), []);
  } finally {
    cleanup();
  }
});
