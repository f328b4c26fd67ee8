import assert from "node:assert/strict";
import { test } from "node:test";
import type { MessageSink } from "../../lib/smtp/engine-types.js";
import { reply } from "../../lib/smtp/reply.js";
import { harness } from "./harness.js";

const ENVELOPE = "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n";
const OK3 = ["250 2.1.0 Ok", "250 2.1.5 Ok"];
const QUEUED = "250 2.0.0 Ok: queued as 4QxYz1ABC";
const START = "354 End data with <CR><LF>.<CR><LF>";

/** Reply lines after the greeting and the EHLO reply. */
function after(lines: string[]): string[] {
  return lines.slice(1).filter((l) => !l.startsWith("250-") && l !== "250 CHUNKING");
}

for (const split of ["whole", "bytes"] as const) {
  test(`DATA delivers the un-dot-stuffed content and resets the envelope (${split})`, async () => {
    const h = harness();
    await h.send(
      `${ENVELOPE}DATA\r\nSubject: t\r\n\r\n..leading dot\r\nx..y\r\n.\r\nRCPT TO:<c@d>\r\n`,
      split,
    );
    assert.deepEqual(after(h.lines()), [...OK3, START, QUEUED, "503 5.5.1 Error: need MAIL command"]);
    assert.equal(h.sinks.length, 1);
    assert.equal(h.sinks[0]?.content, "Subject: t\r\n\r\n.leading dot\r\nx..y\r\n");
    assert.equal(h.sinks[0]?.ended, true);
    assert.deepEqual(
      h.events.filter((e) => e.type === "queued"),
      [{ type: "queued", queueId: "4QxYz1ABC" }],
    );
  });
}

const SMUGGLE =
  "MAIL FROM:<admin@bank.example>\r\nRCPT TO:<victim@d.example>\r\nDATA\r\nFrom: admin@bank.example\r\n\r\nforged\r\n";
for (const fake of ["\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r\n"]) {
  test(`a fake terminator ${JSON.stringify(fake)} cannot smuggle a second message`, async () => {
    for (const split of ["whole", "bytes"] as const) {
      const h = harness();
      await h.send(`${ENVELOPE}DATA\r\nSubject: real\r\n\r\nbody${fake}${SMUGGLE}.\r\n`, split);
      assert.deepEqual(after(h.lines()), [...OK3, START, QUEUED]);
      assert.equal(h.sinks.length, 1);
      assert.ok(h.sinks[0]?.content.includes("MAIL FROM:<admin@bank.example>"));
    }
  });
}

test("a message of just the terminator is empty", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}DATA\r\n.\r\n`);
  assert.deepEqual(after(h.lines()), [...OK3, START, QUEUED]);
  assert.equal(h.sinks[0]?.content, "");
});

test("under reject a bare LF in DATA is refused after the end of data, the message discarded and the client disconnected", async () => {
  const h = harness({ opts: { forbidBareNewline: "reject" } });
  await h.send(`${ENVELOPE}DATA\r\nline one\nline two\r\n.\r\nNOOP\r\n`);
  assert.deepEqual(after(h.lines()), [...OK3, START, "550 5.5.2 Error: bare <LF> received"]);
  assert.equal(h.sinks[0]?.aborted, "bare <LF> received");
  assert.ok(h.events.some((e) => e.type === "protocol-error" && e.detail === "bare <LF> received"));
  assert.ok(h.events.some((e) => e.type === "reject" && e.stage === "END-OF-MESSAGE"));
  assert.ok(h.closed());
});

test("content over the size limit is read to the end, aborted and answered 552, in sync", async () => {
  const h = harness({ opts: { messageSizeLimit: 100 } });
  await h.send(`${ENVELOPE}DATA\r\n${"x".repeat(80)}\r\n${"y".repeat(80)}\r\n.\r\nNOOP\r\n`, [300, 333]);
  assert.deepEqual(after(h.lines()), [
    ...OK3,
    START,
    "552 5.3.4 Error: message file too big",
    "250 2.0.0 Ok",
  ]);
  assert.equal(h.sinks[0]?.aborted, "message size limit exceeded");
  assert.equal(h.sinks[0]?.ended, false);
});

test("EOF in the middle of DATA aborts the message and reports a lost connection", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}DATA\r\npartial content`);
  h.engine.end();
  await h.engine.idle();
  assert.equal(h.sinks[0]?.aborted, "lost connection");
  assert.deepEqual(
    h.events.find((e) => e.type === "lost"),
    { type: "lost", after: "DATA (15 bytes)" },
  );
  assert.ok(h.closed());
});

test("EOF after complete commands processes them first", async () => {
  const h = harness();
  h.engine.feed(Buffer.from("NOOP\r\nQUIT\r\n"));
  h.engine.end();
  await h.engine.idle();
  assert.deepEqual(h.lines().slice(1), ["250 2.0.0 Ok", "221 2.0.0 Bye"]);
  assert.equal(
    h.events.some((e) => e.type === "lost"),
    false,
  );
});

test("EOF between commands is a lost connection after the last command", async () => {
  const h = harness();
  await h.send("EHLO c\r\nMAIL FROM:<a@b>\r\n");
  h.engine.end();
  await h.engine.idle();
  assert.deepEqual(
    h.events.find((e) => e.type === "lost"),
    { type: "lost", after: "MAIL" },
  );
});

test("a timeout in DATA answers 421 4.4.2, aborts the message and closes", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}DATA\r\nabc`);
  h.engine.timeout();
  assert.equal(h.lines().at(-1), "421 4.4.2 mx.example.org Error: timeout exceeded");
  assert.equal(h.sinks[0]?.aborted, "timeout");
  assert.deepEqual(
    h.events.find((e) => e.type === "lost"),
    { type: "lost", after: "DATA (3 bytes)", timedOut: true },
  );
  assert.ok(h.closed());
});

test("the sink's refusal at end of data is sent and reported", async () => {
  const h = harness({ sinkReply: reply(451, "4.3.0", "Error: queue file write error") });
  await h.send(`${ENVELOPE}DATA\r\nx\r\n.\r\n`);
  assert.deepEqual(after(h.lines()), [...OK3, START, "451 4.3.0 Error: queue file write error"]);
  assert.equal(
    h.events.some((e) => e.type === "queued"),
    false,
  );
});

test("a throwing sink or openMessage becomes 451 4.3.0 queue file write error", async () => {
  const broken: MessageSink = {
    write: async () => {},
    end: async () => {
      throw new Error("disk full");
    },
    abort: () => {},
  };
  const h1 = harness({ hooks: { openMessage: async () => broken } });
  await h1.send(`${ENVELOPE}DATA\r\nx\r\n.\r\n`);
  assert.equal(h1.lines().at(-1), "451 4.3.0 Error: queue file write error");
  const h2 = harness({
    hooks: {
      openMessage: async () => {
        throw new Error("cleanup unreachable");
      },
    },
  });
  await h2.send(`${ENVELOPE}DATA\r\nNOOP\r\n`);
  assert.deepEqual(after(h2.lines()), [...OK3, "451 4.3.0 Error: queue file write error", "250 2.0.0 Ok"]);
});

test("the data hook may refuse DATA before 354", async () => {
  const h = harness({ hooks: { data: async () => reply(554, "5.5.1", "Error: no valid recipients") } });
  await h.send(`${ENVELOPE}DATA\r\n`);
  assert.deepEqual(after(h.lines()), [...OK3, "554 5.5.1 Error: no valid recipients"]);
  assert.equal(h.events.find((e) => e.type === "reject")?.type, "reject");
  assert.equal(h.sinks.length, 0);
});

test("DATA with BODY=BINARYMIME is refused", async () => {
  const h = harness();
  await h.send("MAIL FROM:<a@b> BODY=BINARYMIME\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  assert.deepEqual(h.lines().slice(1), [...OK3, "503 5.5.1 Error: BINARYMIME requires BDAT"]);
});

test("a 1 MB line streams through DATA intact", async () => {
  const h = harness();
  const line = "z".repeat(1 << 20);
  await h.send(`${ENVELOPE}DATA\r\n${line}\r\n.\r\n`, [100_000, 500_000]);
  assert.equal(h.sinks[0]?.content, `${line}\r\n`);
  assert.ok((h.sinks[0]?.chunks.length ?? 0) > 1);
});

test("a slow sink pauses the transport above 256 KiB and resumes after", async () => {
  let release: () => void = () => {};
  const writes: number[] = [];
  const slow: MessageSink = {
    write: (c) => {
      writes.push(c.length);
      return writes.length === 1 ? new Promise((r) => (release = r)) : Promise.resolve();
    },
    end: async () => reply(250, "2.0.0", "Ok: queued as X"),
    abort: () => {},
  };
  const h = harness({ hooks: { openMessage: async () => slow } });
  await h.send(`${ENVELOPE}DATA\r\n`);
  for (let i = 0; i < 40; i++) h.engine.feed(Buffer.alloc(10_000, 0x61));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.events.filter((e) => e.type === "pause").length, 1);
  release();
  h.engine.feed(Buffer.from("\r\n.\r\n"));
  await h.engine.idle();
  assert.deepEqual(h.events.filter((e) => e.type === "resume").length, 1);
  assert.equal(h.lines().at(-1), "250 2.0.0 Ok: queued as X");
});

// ── BDAT ───────────────────────────────────────────────────────────────────────

for (const split of ["whole", "bytes"] as const) {
  test(`pipelined BDAT chunks with LAST are delivered byte-exact (${split})`, async () => {
    const h = harness();
    const binary = Buffer.from([0, 1, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a, 0xff, 0x0a, 0x2e, 0x2e]);
    const input = Buffer.concat([
      Buffer.from(`${ENVELOPE}BDAT 5\r\nhelloBDAT ${binary.length}\r\n`),
      binary,
      Buffer.from("BDAT 0 LAST\r\nNOOP\r\n"),
    ]);
    await h.send(input, split);
    assert.deepEqual(after(h.lines()), [
      ...OK3,
      "250 2.0.0 Ok: 5 bytes",
      `250 2.0.0 Ok: ${binary.length} bytes`,
      QUEUED,
      "250 2.0.0 Ok",
    ]);
    assert.deepEqual(Buffer.concat(h.sinks[0]?.chunks ?? []), Buffer.concat([Buffer.from("hello"), binary]));
    assert.equal(h.engine.stats.get("bdat")?.ok, 3);
  });
}

test("BDAT 0 LAST alone queues an empty message; BDAT 0 without LAST is a null request", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}BDAT 0\r\nBDAT 0 LAST\r\n`);
  assert.deepEqual(after(h.lines()), [...OK3, "551 5.7.1 Null BDAT request", QUEUED]);
  assert.equal(h.sinks[0]?.content, "");
});

test("DATA, MAIL and RCPT after BDAT are refused", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}BDAT 2\r\nabDATA\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\nBDAT 1 LAST\r\nc`);
  assert.deepEqual(after(h.lines()), [
    ...OK3,
    "250 2.0.0 Ok: 2 bytes",
    "503 5.5.1 Error: DATA after BDAT",
    "503 5.5.1 Error: MAIL after BDAT",
    "503 5.5.1 Error: RCPT after BDAT",
    QUEUED,
  ]);
  assert.equal(h.sinks[0]?.content, "abc");
});

test("BDAT without a transaction consumes its bytes and stays in sync", async () => {
  const h = harness();
  await h.send("BDAT 6 LAST\r\nNOOP\r\nNOOP\r\n");
  assert.deepEqual(h.lines().slice(1), ["503 5.5.1 Error: need RCPT command", "250 2.0.0 Ok"]);
});

test("a BDAT chunk beyond the size limit is consumed and refused, and so is the rest of the transaction", async () => {
  const h = harness({ opts: { messageSizeLimit: 10 } });
  await h.send(`${ENVELOPE}BDAT 8\r\n12345678BDAT 8\r\n12345678BDAT 1 LAST\r\nxMAIL FROM:<a@b>\r\n`);
  assert.deepEqual(after(h.lines()), [
    ...OK3,
    "250 2.0.0 Ok: 8 bytes",
    "552 5.3.4 Chunk exceeds message size limit",
    "552 5.3.4 Chunk exceeds message size limit",
    "250 2.1.0 Ok",
  ]);
  assert.equal(h.sinks[0]?.aborted, "message size limit exceeded");
});

test("BDAT with a bad count hangs up; with a bad keyword it skips the chunk", async () => {
  const h1 = harness();
  await h1.send("BDAT x\r\nNOOP\r\n");
  assert.deepEqual(h1.lines().slice(1), ["521 5.5.4 Syntax: BDAT count [LAST]"]);
  assert.ok(h1.closed());
  const h2 = harness();
  await h2.send("BDAT 4 FIRST\r\nNOOPNOOP\r\n");
  assert.deepEqual(h2.lines().slice(1), ["501 5.5.4 Syntax: BDAT count [LAST]", "250 2.0.0 Ok"]);
});

test("BDAT when CHUNKING is off hangs up", async () => {
  const h = harness({
    opts: {
      extensions: {
        chunking: false,
        starttls: false,
        auth: null,
        dsn: true,
        smtputf8: true,
        pipelining: true,
      },
    },
  });
  await h.send("BDAT 4\r\nNOOP\r\n");
  assert.deepEqual(h.lines().slice(1), ["521 5.5.1 Error: command not implemented"]);
  assert.ok(h.closed());
});

test("RSET during a BDAT transaction aborts the message", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}BDAT 3\r\nabcRSET\r\nRCPT TO:<c@d>\r\n`);
  assert.deepEqual(after(h.lines()), [
    ...OK3,
    "250 2.0.0 Ok: 3 bytes",
    "250 2.0.0 Ok",
    "503 5.5.1 Error: need MAIL command",
  ]);
  assert.equal(h.sinks[0]?.aborted, "RSET");
});

test("EOF in the middle of a BDAT chunk aborts the message", async () => {
  const h = harness();
  await h.send(`${ENVELOPE}BDAT 100\r\nabc`);
  h.engine.end();
  await h.engine.idle();
  assert.equal(h.sinks[0]?.aborted, "lost connection");
  assert.deepEqual(
    h.events.find((e) => e.type === "lost"),
    { type: "lost", after: "BDAT (3 bytes)" },
  );
});
