/*
 * Tests for pickup: maildrop files reach cleanup with a trusted envelope and are removed
 * only afterwards; untrustworthy files go to corrupt/; a cleanup outage leaves the file
 * queued; files left claimed by a crash are submitted once, or dropped if already queued.
 * Cleanup is a recording stand-in here; test/e2e/sendmail.test.ts uses the real one.
 */
import assert from "node:assert/strict";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { CleanupError, type CleanupHandle } from "../../lib/cleanup/client.js";
import type { CleanupBegin } from "../../lib/cleanup/protocol.js";
import { Logger } from "../../lib/log/index.js";
import { claimDirectory } from "../../lib/pickup/claim.js";
import { Pickup } from "../../lib/pickup/pickup.js";
import { ensureQueueDirs, newQueueId, QueueFileWriter } from "../../lib/queue/index.js";
import { parseSendmailArgs } from "../../lib/sendmail/args.js";
import { submitMessage } from "../../lib/sendmail/submit.js";

const UID = process.getuid?.() ?? 0;

interface Received {
  begin: Omit<CleanupBegin, "op">;
  content: string;
}

class FakeCleanup {
  readonly received: Received[] = [];
  failure: CleanupError | null = null;
  #n = 0;

  async open(begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle> {
    if (this.failure) throw this.failure;
    const chunks: Buffer[] = [];
    const id = `NEWID${String(++this.#n).padStart(11, "0")}`;
    return {
      id,
      write: async (chunk) => void chunks.push(Buffer.from(chunk)),
      finish: async () => {
        this.received.push({ begin, content: Buffer.concat(chunks).toString("utf8") });
        return { id, messageId: "", size: 0, nrcpt: begin.envelope.recipients.length };
      },
      abort: async () => undefined,
    };
  }
}

let root: string;
let queueDir: string;
let logFile: string;
let cleanup: FakeCleanup;

async function* oneChunk(text: string): AsyncIterable<Buffer> {
  yield Buffer.from(text);
}

async function drop(text: string, argv: string[], uid = UID): Promise<string> {
  const parsed = parseSendmailArgs(argv);
  if (!parsed.ok) throw new Error(parsed.error);
  const settings = {
    queueDir,
    myorigin: "example.org",
    headerSizeLimit: 102400,
    messageSizeLimit: 0,
    uid,
    userName: "ann",
  };
  const r = await submitMessage(settings, parsed.options, oneChunk(text));
  if (!r.ok) throw new Error(r.error);
  return r.id;
}

async function runPickup(): Promise<void> {
  const log = new Logger({ file: logFile, tag: "postern/pickup", host: "test" });
  let idle!: () => void;
  const done = new Promise<void>((r) => (idle = r));
  const pickup = new Pickup({ queueDir, log, cleanup, onIdle: idle });
  await pickup.start();
  await done;
  log.close();
}

const files = (queue: string): string[] => readdirSync(join(queueDir, queue));
const maillog = (): string => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");

describe("pickup", () => {
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "postern-pickup-"));
    queueDir = join(root, "spool");
    logFile = join(root, "maillog");
    ensureQueueDirs(queueDir);
    cleanup = new FakeCleanup();
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("hands a maildrop file to cleanup, logs uid and sender, and removes it", async () => {
    const id = await drop("Subject: hi\n\nhello\n", ["-F", "Ann", "-N", "never", "bob@x"]);
    await runPickup();
    assert.equal(cleanup.received.length, 1);
    const [got] = cleanup.received;
    assert.equal(got?.begin.inputIsCrlf, false);
    assert.equal(got?.begin.received, undefined);
    assert.equal(got?.begin.envelope.sender, "ann@example.org");
    assert.deepEqual(got?.begin.envelope.recipients, [{ address: "bob@x", notify: "NEVER" }]);
    assert.deepEqual(got?.begin.envelope.attrs, {
      origin: "sendmail",
      uid: String(UID),
      rewrite_context: "local",
      full_name: "Ann",
      maildrop_id: id,
    });
    assert.equal(got?.content, "Subject: hi\nFrom: Ann <ann@example.org>\n\nhello\n");
    assert.match(
      maillog(),
      new RegExp(`postern/pickup\\[\\d+\\]: NEWID0+1: uid=${UID} from=<ann@example\\.org>`),
    );
    assert.deepEqual(files("maildrop"), []);
    assert.deepEqual(readdirSync(claimDirectory(queueDir)), []);
  });

  it("takes every waiting file in one scan", async () => {
    for (let i = 0; i < 5; i++) await drop(`Subject: ${i}\n\nx\n`, ["z@z"]);
    await runPickup();
    assert.equal(cleanup.received.length, 5);
    assert.deepEqual(files("maildrop"), []);
  });

  // Another user's file claiming someone else's uid. (A file owned by pickup's own uid is a
  // requeued queue file: only postern itself can own a file in the sticky maildrop.)
  it("moves a file whose envelope claims another uid to corrupt", {
    skip: UID !== 0 && "needs root to own a file as another user",
  }, async () => {
    const other = 65534;
    const id = await drop("Subject: forged\n\nx\n", ["z@z"], 0);
    chownSync(join(queueDir, "maildrop", id), other, other);
    await runPickup();
    assert.equal(cleanup.received.length, 0);
    assert.deepEqual(files("corrupt"), [id]);
    assert.match(
      maillog(),
      new RegExp(
        `warning: maildrop/${id}: uid=${other}: file owned by uid ${other} claims uid 0; moved to corrupt`,
      ),
    );
  });

  it("takes a requeued queue file (owned by pickup's own uid) with its envelope and pending recipients", async () => {
    await drop("Subject: requeued\n\nx\n", ["z@z"], UID + 1);
    await runPickup();
    assert.equal(cleanup.received.length, 1);
    assert.equal(cleanup.received[0]?.begin.envelope.attrs["requeued"], "yes");
    assert.equal(cleanup.received[0]?.begin.envelope.attrs["uid"], String(UID + 1));
    assert.deepEqual(files("corrupt"), []);
  });

  it("never follows a symlink planted in maildrop", async () => {
    const target = join(queueDir, "incoming", newQueueId());
    writeFileSync(target, "secret");
    const id = newQueueId();
    symlinkSync(target, join(queueDir, "maildrop", id));
    await runPickup();
    assert.equal(cleanup.received.length, 0);
    assert.deepEqual(files("corrupt"), [id]);
    assert.equal(readFileSync(target, "utf8"), "secret");
    assert.match(maillog(), /not a regular file; moved to corrupt/);
  });

  it("moves a file that is not a queue file to corrupt", async () => {
    const id = newQueueId();
    writeFileSync(join(queueDir, "maildrop", id), "garbage\n");
    await runPickup();
    assert.deepEqual(files("corrupt"), [id]);
    assert.match(
      maillog(),
      new RegExp(`warning: maildrop/${id}: uid=${UID}: truncated envelope; moved to corrupt`),
    );
  });

  it("ignores temporary files of a sendmail still writing", async () => {
    const writer = await QueueFileWriter.create(queueDir, {
      queue: "maildrop",
      envelope: {
        sender: "",
        recipients: [{ address: "z@z" }],
        arrivalTime: Date.now(),
        attrs: { uid: String(UID) },
      },
    });
    await runPickup();
    assert.equal(cleanup.received.length, 0);
    assert.deepEqual(files("maildrop"), [`.${writer.id}.tmp`]);
    await writer.abort();
  });

  it("leaves the file in maildrop when cleanup is unavailable", async () => {
    const id = await drop("Subject: later\n\nx\n", ["z@z"]);
    cleanup.failure = new CleanupError(451, "4.3.0", "Error: queue file write error", "connect: ENOENT");
    await runPickup();
    assert.deepEqual(files("maildrop"), [id]);
    assert.match(maillog(), /cannot hand over to cleanup: .*; will try again/);
    cleanup.failure = null;
    await runPickup();
    assert.equal(cleanup.received.length, 1);
    assert.deepEqual(files("maildrop"), []);
  });

  it("moves a file cleanup refuses permanently to corrupt", async () => {
    const id = await drop("Subject: no\n\nx\n", ["z@z"]);
    cleanup.failure = new CleanupError(552, "5.3.4", "Error: message file too big");
    await runPickup();
    assert.deepEqual(files("corrupt"), [id]);
  });

  it("after a crash, submits a claimed file that never reached the queue", async () => {
    const id = await drop("Subject: crash\n\nx\n", ["z@z"]);
    await import("node:fs/promises").then((fs) => fs.mkdir(claimDirectory(queueDir), { recursive: true }));
    renameSync(join(queueDir, "maildrop", id), join(claimDirectory(queueDir), id));
    await runPickup();
    assert.equal(cleanup.received.length, 1);
    assert.deepEqual(readdirSync(claimDirectory(queueDir)), []);
  });

  it("after a crash, drops a claimed file whose copy is already queued", async () => {
    const id = await drop("Subject: crash\n\nx\n", ["z@z"]);
    await import("node:fs/promises").then((fs) => fs.mkdir(claimDirectory(queueDir), { recursive: true }));
    renameSync(join(queueDir, "maildrop", id), join(claimDirectory(queueDir), id));
    const copy = await QueueFileWriter.create(queueDir, {
      queue: "incoming",
      envelope: {
        sender: "",
        recipients: [{ address: "z@z" }],
        arrivalTime: Date.now(),
        attrs: { maildrop_id: id },
      },
    });
    const copyId = await copy.commit();
    await runPickup();
    assert.equal(cleanup.received.length, 0);
    assert.deepEqual(readdirSync(claimDirectory(queueDir)), []);
    assert.match(maillog(), new RegExp(`${copyId}: maildrop file ${id} was already queued; removed`));
  });
});
