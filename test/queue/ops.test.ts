import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  markCorrupt,
  moveQueueFile,
  QUEUE_DIRS,
  QueueFileWriter,
  queuePath,
  readQueueFile,
  removeQueueFile,
  removeStaleTemps,
  scanQueue,
} from "../../lib/queue/index.js";
import { withQueueDir } from "./helpers.js";

const envelope = { sender: "a@b", recipients: [{ address: "c@d" }], arrivalTime: 1, attrs: {} };

async function ids(dir: string, queue: "incoming" | "active" | "corrupt" | "maildrop"): Promise<string[]> {
  const out: string[] = [];
  for await (const id of scanQueue(dir, queue)) out.push(id);
  return out.sort();
}

test("ensureQueueDirs creates every queue directory with its mode: private, except maildrop (sticky, setgid, writable by all, not listable) and public", () => {
  const { dir, cleanup } = withQueueDir();
  try {
    assert.deepEqual(readdirSync(dir).sort(), [...QUEUE_DIRS].sort());
    const mode = (name: string) => statSync(join(dir, name)).mode & 0o7777;
    assert.equal(mode("incoming"), 0o700);
    assert.equal(mode("maildrop"), 0o3733);
    assert.equal(mode("public"), 0o711);
  } finally {
    cleanup();
  }
});

test("scanQueue lists committed files and skips temporary and foreign ones", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const pending = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    const done = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    await done.write(Buffer.from("x\n"));
    const id = await done.commit();
    writeFileSync(join(dir, "incoming", "README"), "not a queue file");
    assert.deepEqual(await ids(dir, "incoming"), [id]);
    await pending.abort();
    assert.deepEqual(readdirSync(join(dir, "incoming")).sort(), ["README", id].sort());
  } finally {
    cleanup();
  }
});

test("maildrop files are written into maildrop", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const writer = await QueueFileWriter.create(dir, { queue: "maildrop", envelope });
    const id = await writer.commit();
    assert.deepEqual(await ids(dir, "maildrop"), [id]);
  } finally {
    cleanup();
  }
});

test("moveQueueFile moves a file and is idempotent when repeated", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const id = await (await QueueFileWriter.create(dir, { queue: "incoming", envelope })).commit();
    await moveQueueFile(dir, id, "incoming", "active");
    await moveQueueFile(dir, id, "incoming", "active");
    assert.deepEqual(await ids(dir, "incoming"), []);
    assert.deepEqual(await ids(dir, "active"), [id]);
    assert.equal((await readQueueFile(queuePath(dir, "active", id))).queue, "active");
    await assert.rejects(moveQueueFile(dir, id, "incoming", "hold"), { code: "ENOENT" });
  } finally {
    cleanup();
  }
});

test("markCorrupt moves a file to corrupt/ and removeQueueFile tolerates a missing file", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const id = await (await QueueFileWriter.create(dir, { queue: "incoming", envelope })).commit();
    await markCorrupt(dir, "incoming", id);
    assert.deepEqual(await ids(dir, "corrupt"), [id]);
    await removeQueueFile(dir, id, "corrupt");
    await removeQueueFile(dir, id, "corrupt");
    assert.equal(existsSync(queuePath(dir, "corrupt", id)), false);
  } finally {
    cleanup();
  }
});

test("removeQueueFile with blocking removes the file at once and tolerates a missing one", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const id = await (await QueueFileWriter.create(dir, { queue: "incoming", envelope })).commit();
    const removal = removeQueueFile(dir, id, "incoming", { blocking: true });
    // Gone before the promise is even awaited: no thread-pool job.
    assert.equal(existsSync(queuePath(dir, "incoming", id)), false);
    await removal;
    await removeQueueFile(dir, id, "incoming", { blocking: true });
    await assert.rejects(removeQueueFile(dir, "../x", "incoming", { blocking: true }), RangeError);
  } finally {
    cleanup();
  }
});

test("queuePath refuses names that are not queue IDs", () => {
  assert.throws(() => queuePath("/q", "incoming", "../../etc/passwd"), RangeError);
});

test("abort removes the temporary file and concurrent commits all land", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const aborted = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    await aborted.write(Buffer.from("x"));
    await aborted.abort();
    await aborted.abort();
    const writers = await Promise.all(
      Array.from({ length: 50 }, () => QueueFileWriter.create(dir, { queue: "incoming", envelope })),
    );
    const committed = await Promise.all(writers.map((w) => w.commit()));
    assert.deepEqual(await ids(dir, "incoming"), committed.sort());
    assert.equal(readdirSync(join(dir, "incoming")).length, 50);
  } finally {
    cleanup();
  }
});

test("removeStaleTemps removes only old temporary files", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const fresh = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    const stale = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    const stalePath = join(dir, "incoming", `.${stale.id}.tmp`);
    utimesSync(stalePath, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    const kept = await (await QueueFileWriter.create(dir, { queue: "incoming", envelope })).commit();
    utimesSync(queuePath(dir, "incoming", kept), new Date(0), new Date(0));
    assert.equal(await removeStaleTemps(dir, "incoming", 3600_000), 1);
    assert.deepEqual(readdirSync(join(dir, "incoming")).sort(), [`.${fresh.id}.tmp`, kept].sort());
    await fresh.abort();
    await stale.abort();
  } finally {
    cleanup();
  }
});
