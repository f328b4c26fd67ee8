/*
 * Held bodies and corked output: small messages come from the store as chunks in memory
 * and pipelined replies are gathered into few writes; the bytes a client sees must be
 * exactly those of the streamed, write-per-reply path.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Pop3MailEngine } from "../../lib/pop3/mail-engine.js";
import { MemoryStore } from "../../lib/pop3/memory-store.js";
import type { Pop3Output } from "../../lib/pop3/protocol.js";
import { feed, MESSAGES, mail } from "./harness.js";

const SESSION = "STAT\r\nRETR 1\r\nTOP 2 1\r\nRETR 3\r\nLIST\r\nUIDL 2\r\nRETR 9\r\nRETR 2\r\nQUIT\r\n";

/** An output that records each write and what happened between cork() and uncork(). */
function corkingOutput() {
  const writes: Buffer[] = [];
  let corked = false;
  let held: Buffer[] = [];
  const out: Pop3Output = {
    write: (b) => void (corked ? held.push(b) : writes.push(b)),
    end: () => {
      if (held.length > 0) writes.push(Buffer.concat(held));
      held = [];
    },
    cork: () => {
      corked = true;
    },
    uncork: () => {
      corked = false;
      if (held.length > 0) writes.push(Buffer.concat(held));
      held = [];
    },
  };
  return { out, writes };
}

async function corkedSession(input: string, byteByByte: boolean, chunkSize: number) {
  const { out, writes } = corkingOutput();
  const store = new MemoryStore(MESSAGES, { held: true, chunkSize });
  const engine = new Pop3MailEngine(
    async () => store,
    { user: "tim" },
    out,
    () => undefined,
  );
  await engine.start();
  await feed(engine, input, byteByByte);
  return { writes, text: Buffer.concat(writes).toString("latin1") };
}

test("held bodies give the same bytes as streamed ones, whole and byte by byte", async () => {
  for (const byteByByte of [false, true]) {
    for (const chunkSize of [1, 7, 4096]) {
      const streamed = await mail(SESSION, byteByByte, { chunkSize });
      const held = await mail(SESSION, byteByByte, { chunkSize, held: true });
      assert.equal(held.text, streamed.text, `chunkSize ${chunkSize}`);
    }
  }
});

test("a corked output sees the same bytes, and pipelined commands become one write", async () => {
  const expected = (await mail(SESSION, false)).text;
  const whole = await corkedSession(SESSION, false, 4096);
  assert.equal(whole.text, expected);
  // The greeting, then one batch for all nine pipelined commands.
  assert.equal(whole.writes.length, 2);
  const bytewise = await corkedSession(SESSION, true, 5);
  assert.equal(bytewise.text, expected);
});

test("input that arrives while a batch is being flushed is answered afterwards", async () => {
  let release: () => void = () => undefined;
  const writes: Buffer[] = [];
  const out: Pop3Output = {
    write: (b) => void writes.push(b),
    end: () => undefined,
    cork: () => undefined,
    // The first flush waits (a slow client), the rest are immediate.
    uncork: () => (writes.length === 2 ? new Promise<void>((resolve) => (release = resolve)) : undefined),
  };
  const engine = new Pop3MailEngine(
    async () => new MemoryStore(MESSAGES),
    { user: "tim" },
    out,
    () => undefined,
  );
  await engine.start();
  engine.push(Buffer.from("NOOP\r\n"));
  await new Promise((r) => setImmediate(r));
  engine.push(Buffer.from("STAT\r\n"));
  release();
  await engine.idle();
  await engine.idle();
  assert.match(Buffer.concat(writes).toString("latin1"), /^\+OK Logged in\.\r\n\+OK\r\n\+OK 3 \d+\r\n$/);
});

/** A corking output that also offers slots in its batch, as the pop3 daemon's socket output does. */
function slottedOutput() {
  const writes: Buffer[] = [];
  let corked = false;
  let batch: Buffer[] = [];
  let slots = 0;
  const out: Pop3Output = {
    write: (b) => void (corked ? batch.push(Buffer.from(b)) : writes.push(b)),
    slot: (size) => {
      if (!corked) return undefined;
      const view = Buffer.alloc(size, 0x23);
      batch.push(view);
      slots++;
      return view;
    },
    end: () => {
      if (batch.length > 0) writes.push(Buffer.concat(batch));
      batch = [];
    },
    cork: () => {
      corked = true;
    },
    uncork: () => {
      corked = false;
      if (batch.length > 0) writes.push(Buffer.concat(batch));
      batch = [];
    },
  };
  return { out, writes, slots: () => slots };
}

test("RETR's synchronous path (retrieveNow, replies built in the output's slots) sends the same bytes", async () => {
  const input = `${SESSION.replace("QUIT\r\n", "")}DELE 2\r\nRETR 2\r\nRETR x\r\nRETR\r\nRETR 1 2\r\nRETR 1\r\nQUIT\r\n`;
  const expected = (await mail(input, false)).text;
  for (const byteByByte of [false, true]) {
    const { out, writes, slots } = slottedOutput();
    const engine = new Pop3MailEngine(
      async () => new MemoryStore(MESSAGES, { now: true }),
      { user: "tim", maxBadCommands: 5 },
      out,
    );
    await engine.start();
    await feed(engine, input, byteByByte);
    assert.equal(Buffer.concat(writes).toString("latin1"), expected);
    assert.ok(slots() >= 3, `RETRs built in place: ${slots()}`);
    if (!byteByByte) assert.equal(writes.length, 2);
  }
});

test("a store whose retrieveNow fails answers -ERR [SYS/TEMP] through the general path", async () => {
  const { out, writes } = slottedOutput();
  const events: string[] = [];
  const engine = new Pop3MailEngine(
    async () => new MemoryStore(MESSAGES, { now: true, failOn: "retrieve" }),
    { user: "tim" },
    out,
    (e) => void events.push(e.type),
  );
  await engine.start();
  await feed(engine, "RETR 1\r\n", false);
  assert.match(Buffer.concat(writes).toString("latin1"), /\r\n-ERR \[SYS\/TEMP\] Internal error/);
  assert.deepEqual(events, ["opened", "store-error", "closed"]);
});
