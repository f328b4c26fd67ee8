/*
 * Tests for the mbox POP3 store and its parser: mailboxes are written by the real local
 * delivery writer (lib/delivery/mbox.ts), so reading is checked as its exact inverse.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { MboxQuoter } from "../../lib/delivery/content.js";
import { deliverToMbox } from "../../lib/delivery/mbox.js";
import { DeliveryError } from "../../lib/delivery/status.js";
import { MailError } from "../../lib/mailbox/errors.js";
import { MboxUnquoter, scanMbox } from "../../lib/pop3d/mbox-parse.js";
import { MboxPop3Store } from "../../lib/pop3d/mbox-store.js";

const MESSAGES = [
  "Subject: one\nX-Seq: 1\n\nFrom the start\n>From quoted once\n>>From twice\nend\n",
  "Subject: two\nX-Seq: 2\n\nno final newline",
  "Subject: three\r\nX-Seq: 3\r\n\r\nalready CRLF\r\n\r\n",
];

function crlf(text: string): string {
  return text.replace(/\r?\n/g, "\r\n");
}

async function collect(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString("latin1");
}

async function deliver(path: string, text: string, opts: { lockTimeoutMs?: number } = {}): Promise<void> {
  await deliverToMbox(path, Readable.from([Buffer.from(text, "latin1")]), {
    sender: "sender@example.org",
    arrival: new Date(2026, 0, 2, 3, 4, 5),
    prepend: "Return-Path: <sender@example.org>\n",
    ...opts,
  });
}

/** An mbox entry exactly as the writer makes it, built in memory. */
function entryOf(text: string): Buffer {
  const q = new MboxQuoter();
  const body = Buffer.concat([q.push(Buffer.from(text, "latin1")), q.end()]);
  const tail = q.endsWithNewline ? "\n" : "\n\n";
  return Buffer.concat([Buffer.from("From a@b  Fri Jan  2 03:04:05 2026\n"), body, Buffer.from(tail)]);
}

describe("mbox parsing", () => {
  it("un-quotes exactly one > from >From lines and leaves other lines alone", () => {
    const u = new MboxUnquoter();
    const input = ">From a\n>>From b\n> From c\n>Fromage\nFrom d\n>\n";
    const out = Buffer.concat([u.push(Buffer.from(input)), u.end()]).toString();
    assert.equal(out, "From a\n>From b\n> From c\n>Fromage\nFrom d\n>\n");
  });

  it("gives the same entries fed byte by byte as all at once", () => {
    const file = Buffer.concat(MESSAGES.map(entryOf));
    const whole = scanMbox([file]);
    const bytes = scanMbox([...file].map((b) => Buffer.from([b])));
    assert.equal(whole.length, 3);
    assert.deepEqual(bytes, whole);
  });

  it("round-trips any message through the writer's quoting (property)", () => {
    const line = fc.constantFrom("From x", ">From y", ">>From z", "", "text", "\r", "Fro", ">", "a\r");
    const message = fc.array(line, { maxLength: 8 }).map((ls) => `H: v\n\n${ls.join("\n")}\n`);
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 7 }),
        (msgs, step) => {
          const file = Buffer.concat(msgs.map(entryOf));
          const chunks: Buffer[] = [];
          for (let i = 0; i < file.length; i += step) chunks.push(file.subarray(i, i + step));
          const entries = scanMbox(chunks);
          assert.equal(entries.length, msgs.length);
          entries.forEach((e, i) => {
            const u = new MboxUnquoter();
            const raw = file.subarray(e.bodyStart, e.contentEnd);
            const text = Buffer.concat([u.push(raw), u.end()]).toString("latin1");
            assert.equal(text, msgs[i]);
            assert.equal(e.crlfSize, Buffer.byteLength(crlf(text), "latin1"));
          });
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  it("keeps bytes before the first From_ line out of every message", () => {
    const entries = scanMbox([Buffer.from("garbage\n"), entryOf("A: b\n\nbody\n")]);
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.entryStart, 8);
  });
});

describe("MboxPop3Store", () => {
  let dir: string;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "postern-mbox-store-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function freshMbox(): Promise<string> {
    const path = join(dir, `mbox${++n}`);
    for (const m of MESSAGES) await deliver(path, m);
    return path;
  }

  it("lists CRLF sizes that equal what RETR sends, with the writer's quoting undone", async () => {
    const store = await MboxPop3Store.open(await freshMbox());
    try {
      const list = await store.list();
      assert.equal(list.length, 3);
      for (const [i, m] of list.entries()) {
        const text = await collect(await store.retrieve(i + 1));
        assert.equal(text.length, m.size);
        const original = crlf(MESSAGES[i] ?? "");
        assert.equal(text, `Return-Path: <sender@example.org>\r\n${original}${i === 1 ? "\r\n" : ""}`);
      }
      assert.match(
        await collect(await store.retrieve(1)),
        /\r\nFrom the start\r\n>From quoted once\r\n>>From twice\r\n/,
      );
      assert.equal(store.stats.retr, 4);
    } finally {
      await store.close();
    }
  });

  it("answers TOP with the header, the blank line and N body lines", async () => {
    const store = await MboxPop3Store.open(await freshMbox());
    try {
      const top = await collect(await store.top(1, 1));
      assert.equal(
        top,
        "Return-Path: <sender@example.org>\r\nSubject: one\r\nX-Seq: 1\r\n\r\nFrom the start\r\n",
      );
    } finally {
      await store.close();
    }
  });

  it("deletes nothing when the session ends without QUIT", async () => {
    const path = await freshMbox();
    const before = readFileSync(path);
    const store = await MboxPop3Store.open(path);
    await store.close();
    assert.deepEqual(readFileSync(path), before);
  });

  it("applies DELE at QUIT, keeping the other UIDLs, the mode and the bytes of kept entries", async () => {
    const path = await freshMbox();
    chmodSync(path, 0o620);
    const first = await MboxPop3Store.open(path);
    const uidls = (await first.list()).map((m) => m.uidl);
    assert.equal(new Set(uidls).size, 3);
    await first.commitDeletes([2]);
    await first.close();
    assert.equal(statSync(path).mode & 0o777, 0o620);
    const second = await MboxPop3Store.open(path);
    try {
      assert.deepEqual(
        (await second.list()).map((m) => m.uidl),
        [uidls[0], uidls[2]],
      );
      assert.match(await collect(await second.retrieve(2)), /X-Seq: 3/);
    } finally {
      await second.close();
    }
    assert.doesNotMatch(readFileSync(path, "latin1"), /X-Seq: 2/);
  });

  it("leaves the original mailbox and no temporary file when the rewrite fails", async () => {
    const path = await freshMbox();
    const before = readFileSync(path);
    const store = await MboxPop3Store.open(path, {
      beforeReplace: async () => {
        throw new Error("simulated crash before rename");
      },
    });
    await assert.rejects(store.commitDeletes([1, 3]), /simulated crash/);
    await store.close();
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes(".pop3.")),
      [],
    );
  });

  it("gives identical entries distinct UIDLs", async () => {
    const path = join(dir, `twins${++n}`);
    await deliver(path, "Subject: same\n\nsame\n");
    await deliver(path, "Subject: same\n\nsame\n");
    const store = await MboxPop3Store.open(path);
    try {
      const [a, b] = (await store.list()).map((m) => m.uidl);
      assert.notEqual(a, b);
      assert.equal(b, `${a}-2`);
    } finally {
      await store.close();
    }
  });

  it("refuses a second session with in-use and lets a delivery wait for QUIT", async () => {
    const path = await freshMbox();
    const store = await MboxPop3Store.open(path);
    await assert.rejects(MboxPop3Store.open(path, { lockTimeoutMs: 100 }), (e: unknown) => {
      return e instanceof MailError && e.kind === "in-use";
    });
    await assert.rejects(deliver(path, "Subject: late\n\nx\n", { lockTimeoutMs: 100 }), (e: unknown) => {
      return e instanceof DeliveryError && e.temporary;
    });
    const waiting = deliver(path, "Subject: after quit\n\nx\n", { lockTimeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 150));
    await store.commitDeletes([1]);
    await store.close();
    await waiting;
    const again = await MboxPop3Store.open(path);
    try {
      assert.equal((await again.list()).length, 3);
      assert.match(await collect(await again.retrieve(3)), /Subject: after quit/);
    } finally {
      await again.close();
    }
  });

  it("serves an empty list when the mbox does not exist yet", async () => {
    const store = await MboxPop3Store.open(join(dir, "missing", "mbox"));
    assert.deepEqual(await store.list(), []);
    await store.close();
  });

  it("keeps a preamble that is no message", async () => {
    const path = join(dir, `pre${++n}`);
    writeFileSync(
      path,
      Buffer.concat([Buffer.from("junk\n"), entryOf("A: 1\n\none\n"), entryOf("A: 2\n\ntwo\n")]),
    );
    const store = await MboxPop3Store.open(path);
    await store.commitDeletes([1]);
    await store.close();
    assert.match(readFileSync(path, "latin1"), /^junk\nFrom a@b {2}.*\nA: 2\n\ntwo\n\n$/);
  });
});
