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
