import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { syncDirectory, syncDirectoryNow } from "../../lib/queue/dirs.js";
import { checkedRecord } from "../../lib/queue/format.js";
import {
  appendDeferral,
  appendOutcome,
  appendWarning,
  openContent,
  type QueueEnvelope,
  QueueFileError,
  QueueFileWriter,
  queuePath,
  readQueueFile,
} from "../../lib/queue/index.js";
import { collect, withQueueDir } from "./helpers.js";

const envelope: QueueEnvelope = {
  sender: "alice@example.org",
  recipients: [
    { address: "bob@example.net", orcpt: "rfc822;bob@example.net", notify: "SUCCESS,FAILURE" },
    { address: "carol@example.net" },
    { address: "dave@example.net", notify: "NEVER" },
  ],
  arrivalTime: 1795860000123,
  attrs: { client_address: "192.0.2.1", helo_name: "odd\tname \u00e9\r=%", origin: "smtpd" },
};

async function writeMessage(dir: string, content: Buffer[], env: QueueEnvelope = envelope): Promise<string> {
  const writer = await QueueFileWriter.create(dir, { queue: "incoming", envelope: env });
  for (const chunk of content) await writer.write(chunk);
  return writer.commit({ message_id: "<x@y>" });
}

test("a committed queue file reads back with its envelope and content", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const content = Buffer.from("Subject: hi\n\nline one\nline two without newline");
    const id = await writeMessage(dir, [content.subarray(0, 5), content.subarray(5)]);
    const info = await readQueueFile(queuePath(dir, "incoming", id));
    assert.equal(info.id, id);
    assert.equal(info.queue, "incoming");
    assert.deepEqual(info.envelope, { ...envelope, attrs: { ...envelope.attrs, message_id: "<x@y>" } });
    assert.equal(info.contentLength, content.length);
    assert.deepEqual(await collect(openContent(info)), content);
    assert.equal(info.done.size, 0);
    assert.equal(info.attempts, 0);
    assert.equal(info.warned, false);
  } finally {
    cleanup();
  }
});

test("an empty message and a null sender round-trip", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const id = await writeMessage(dir, [], { ...envelope, sender: "", recipients: [] });
    const info = await readQueueFile(queuePath(dir, "incoming", id));
    assert.equal(info.envelope.sender, "");
    assert.equal(info.contentLength, 0);
    assert.deepEqual(await collect(openContent(info)), Buffer.alloc(0));
  } finally {
    cleanup();
  }
});

test("20 MB of content is streamed in and out intact", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const writer = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    const expected = createHash("sha256");
    const block = Buffer.alloc(100_000);
    for (let i = 0; i < 200; i++) {
      block.fill(`block ${i} of the big message\n`);
      expected.update(block);
      await writer.write(block);
    }
    const id = await writer.commit();
    const info = await readQueueFile(queuePath(dir, "incoming", id));
    assert.equal(info.contentLength, 20_000_000);
    const actual = createHash("sha256");
    for await (const chunk of openContent(info)) actual.update(chunk as Buffer);
    assert.equal(actual.digest("hex"), expected.digest("hex"));
  } finally {
    cleanup();
  }
});

test("arbitrary content in arbitrary chunks round-trips byte for byte", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), async (chunks) => {
        const buffers = chunks.map((c) => Buffer.from(c));
        const id = await writeMessage(dir, buffers);
        const info = await readQueueFile(queuePath(dir, "incoming", id));
        assert.deepEqual(await collect(openContent(info)), Buffer.concat(buffers));
      }),
      { seed: 4242, numRuns: 30 },
    );
  } finally {
    cleanup();
  }
});

test("outcomes, deferrals and warnings appended are read back", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const path = queuePath(dir, "incoming", await writeMessage(dir, [Buffer.from("x\n")]));
    const fail = {
      dsn: "4.4.1",
      relay: "mx.example.net[198.51.100.1]:25",
      text: "connection refused",
      time: 10,
    };
    await appendDeferral(
      path,
      [
        { index: 0, ...fail },
        { index: 1, ...fail },
      ],
      1000,
    );
    await appendDeferral(path, [{ index: 1, ...fail, time: 20 }], 2000);
    await appendOutcome(path, {
      index: 0,
      status: "sent",
      dsn: "2.0.0",
      relay: "local",
      text: "delivered",
      time: 30,
    });
    await appendWarning(path, 40);
    const info = await readQueueFile(path);
    assert.equal(info.attempts, 2);
    assert.equal(info.nextAttempt, 2000);
    assert.deepEqual([...info.deferred.keys()], [1]);
    assert.equal(info.deferred.get(1)?.time, 20);
    assert.equal(info.done.get(0)?.status, "sent");
    assert.equal(info.warned, true);
  } finally {
    cleanup();
  }
});

test("a torn last record is ignored at every byte offset, and later appends still count", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const path = queuePath(dir, "incoming", await writeMessage(dir, [Buffer.from("body\n")]));
    await appendOutcome(path, {
      index: 0,
      status: "sent",
      dsn: "2.0.0",
      relay: "local",
      text: "ok",
      time: 1,
    });
    const base = readFileSync(path);
    const torn = {
      index: 1,
      status: "bounced" as const,
      dsn: "5.1.1",
      relay: "local",
      text: "unknown user",
      time: 2,
    };
    const record = checkedRecord("O", torn);
    for (let cut = 0; cut < record.length; cut++) {
      writeFileSync(path, Buffer.concat([base, record.subarray(0, cut)]));
      const info = await readQueueFile(path);
      assert.deepEqual([...info.done.keys()], [0], `cut at ${cut}`);
    }
    // Torn mid-record: the next append starts a fresh line and is not swallowed.
    writeFileSync(path, Buffer.concat([base, record.subarray(0, record.length >> 1)]));
    await appendOutcome(path, { ...torn, index: 2 });
    assert.deepEqual([...(await readQueueFile(path)).done.keys()].sort(), [0, 2]);
    // Torn just before its newline: the record itself was whole, so once terminated it counts.
    writeFileSync(path, Buffer.concat([base, record.subarray(0, record.length - 1)]));
    await appendOutcome(path, { ...torn, index: 2 });
    assert.deepEqual([...(await readQueueFile(path)).done.keys()].sort(), [0, 1, 2]);
  } finally {
    cleanup();
  }
});

test("a record with a bad checksum or an out-of-range recipient is ignored", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const path = queuePath(dir, "incoming", await writeMessage(dir, [Buffer.from("body\n")]));
    const good = checkedRecord("O", {
      index: 1,
      status: "sent",
      dsn: "2.0.0",
      relay: "r",
      text: "t",
      time: 1,
    });
    const flipped = Buffer.from(good);
    flipped[10] = flipped[10]! ^ 1;
    writeFileSync(path, Buffer.concat([readFileSync(path), flipped]));
    await appendOutcome(path, { index: 7, status: "sent", dsn: "2.0.0", relay: "r", text: "t", time: 1 });
    assert.equal((await readQueueFile(path)).done.size, 0);
  } finally {
    cleanup();
  }
});

test("a file truncated anywhere before its end record is a QueueFileError", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const path = queuePath(dir, "incoming", await writeMessage(dir, [Buffer.from("Subject: t\n\nbody\n")]));
    const full = readFileSync(path);
    for (let length = 0; length < full.length; length++) {
      writeFileSync(path, full.subarray(0, length));
      await assert.rejects(readQueueFile(path), QueueFileError, `length ${length}`);
    }
  } finally {
    cleanup();
  }
});

test("damaged envelopes are QueueFileErrors with a reason", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const path = queuePath(dir, "incoming", await writeMessage(dir, [Buffer.from("x")]));
    const full = readFileSync(path).toString("latin1");
    const cases: [string, string, RegExp][] = [
      ["bad magic", full.replace("POSTERN-QUEUE 1", "POSTFIX-QUEUE 1"), /not a queue file/],
      ["newer version", full.replace("POSTERN-QUEUE 1", "POSTERN-QUEUE 2"), /unsupported format/],
      ["length never patched", full.replace(/L \d{20}/, `L ${"-".repeat(20)}`), /content length not set/],
      ["wrong length", full.replace(/L \d{20}/, `L ${"3".padStart(20, "0")}`), /missing end record/],
      ["unknown record", full.replace("\nM\n", "\nZ what\nM\n"), /unexpected envelope record/],
      ["broken JSON", full.replace('S "alice', 'S "\\alice'), /malformed sender/],
    ];
    for (const [name, text, reason] of cases) {
      writeFileSync(path, Buffer.from(text, "latin1"));
      await assert.rejects(readQueueFile(path), (err: unknown) => {
        assert.ok(err instanceof QueueFileError, name);
        assert.match(err.reason, reason, name);
        return true;
      });
    }
  } finally {
    cleanup();
  }
});

test("the writer copies what it buffers, so callers may reuse their buffers", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const writer = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    const scratch = Buffer.alloc(10);
    const expected: Buffer[] = [];
    for (let i = 0; i < 1000; i++) {
      scratch.fill(`${i % 10}`);
      expected.push(Buffer.from(scratch));
      await writer.write(scratch);
    }
    const info = await readQueueFile(queuePath(dir, "incoming", await writer.commit()));
    assert.deepEqual(await collect(openContent(info)), Buffer.concat(expected));
  } finally {
    cleanup();
  }
});

test("status records are found whether the file fits the first read or not: big content, big envelope", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const manyRecipients: QueueEnvelope = {
      ...envelope,
      recipients: Array.from({ length: 2000 }, (_, i) => ({ address: `recipient-number-${i}@example.net` })),
    };
    const cases: [string, Buffer[], QueueEnvelope][] = [
      ["small", [Buffer.from("Subject: s\n\nsmall\n")], envelope],
      ["200 KiB of content", [Buffer.alloc(200 * 1024, "c\n")], envelope],
      ["an envelope over 64 KiB", [Buffer.from("Subject: s\n\nsmall\n")], manyRecipients],
    ];
    for (const [name, content, env] of cases) {
      const path = queuePath(dir, "incoming", await writeMessage(dir, content, env));
      await appendOutcome(path, { index: 1, status: "sent", dsn: "2.0.0", relay: "r", text: "t", time: 5 });
      const info = await readQueueFile(path);
      assert.equal(info.envelope.recipients.length, env.recipients.length, name);
      assert.equal(info.envelope.attrs["message_id"], "<x@y>", name);
      assert.equal(info.contentLength, Buffer.concat(content).length, name);
      assert.deepEqual([...info.done.keys()], [1], name);
      assert.deepEqual(await collect(openContent(info)), Buffer.concat(content), name);
    }
  } finally {
    cleanup();
  }
});

test("a queue file committed alone (blocking fsyncs) and several committed together (thread pool) are all durable and named", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const alone = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    await alone.write(Buffer.from("Subject: alone\n\nx\n"));
    const ids = [await alone.commit()];
    const together = await Promise.all(
      Array.from({ length: 5 }, () => QueueFileWriter.create(dir, { queue: "incoming", envelope })),
    );
    for (const w of together) await w.write(Buffer.from("Subject: together\n\nx\n"));
    ids.push(...(await Promise.all(together.map((w) => w.commit()))));
    const aborted = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    await aborted.abort();
    // After an abort the count of open files is back to zero: the next commit is alone again.
    const last = await QueueFileWriter.create(dir, { queue: "incoming", envelope });
    ids.push(await last.commit());
    assert.deepEqual(readdirSync(join(dir, "incoming")).sort(), [...ids].sort());
    for (const id of ids) assert.equal((await readQueueFile(queuePath(dir, "incoming", id))).id, id);
  } finally {
    cleanup();
  }
});

test("syncDirectoryNow fsyncs at once unless a grouped fsync of the directory is in flight", async () => {
  const { dir, cleanup } = withQueueDir();
  try {
    const incoming = join(dir, "incoming");
    assert.equal(syncDirectoryNow(incoming), true);
    const grouped = syncDirectory(incoming);
    assert.equal(syncDirectoryNow(incoming), false, "a waiter of the grouped fsync keeps its order");
    await grouped;
    assert.equal(syncDirectoryNow(incoming), true);
  } finally {
    cleanup();
  }
});
