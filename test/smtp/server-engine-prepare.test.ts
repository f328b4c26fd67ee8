/*
 * The engine's early open (hooks.prepareMessage, Postfix's smtpd_delay_open_until_valid_rcpt):
 * prepared at the first accepted RCPT only, opened at DATA/BDAT with the complete envelope,
 * aborted whenever the transaction ends without content, used once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { MessageSink, PreparedMessage, SmtpEnvelope } from "../../lib/smtp/engine-types.js";
import { harness, MemorySink } from "./harness.js";

interface Prepared {
  env: SmtpEnvelope;
  opened: SmtpEnvelope | null;
  aborted: string | null;
  sink: MemorySink;
}

function preparing(opts: { fail?: boolean } = {}) {
  const prepared: Prepared[] = [];
  const opened: MemorySink[] = [];
  const hooks = {
    openMessage: async (): Promise<MessageSink> => {
      const sink = new MemorySink();
      opened.push(sink);
      return sink;
    },
    prepareMessage: (_s: unknown, env: SmtpEnvelope): PreparedMessage => {
      const p: Prepared = {
        env: { ...env, recipients: [...env.recipients] },
        opened: null,
        aborted: null,
        sink: new MemorySink(),
      };
      prepared.push(p);
      return {
        open: async (full) => {
          p.opened = full;
          if (opts.fail) throw new Error("cleanup unavailable");
          return p.sink;
        },
        abort: (reason) => {
          p.aborted = reason;
        },
      };
    },
  };
  return { prepared, opened, hooks };
}

const START = "EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n";

test("prepared at the first accepted RCPT, opened at DATA with every recipient", async () => {
  const p = preparing();
  const h = harness({
    hooks: {
      ...p.hooks,
      rcptTo: async (_s, _e, r) =>
        r.address === "bad@d.example" ? { code: 550, enhanced: "5.1.1", text: "unknown" } : null,
    },
  });
  await h.send(`${START}RCPT TO:<bad@d.example>\r\n`);
  assert.equal(p.prepared.length, 0, "a rejected recipient opens nothing");
  await h.send("RCPT TO:<c@d.example>\r\nRCPT TO:<e@d.example>\r\n");
  assert.equal(p.prepared.length, 1);
  assert.deepEqual(
    p.prepared[0]?.env.recipients.map((r) => r.address),
    ["c@d.example"],
  );
  await h.send("DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\n");
  const [first] = p.prepared;
  assert.deepEqual(
    first?.opened?.recipients.map((r) => r.address),
    ["c@d.example", "e@d.example"],
  );
  assert.equal(first?.sink.ended, true);
  assert.equal(first?.aborted, null);
  assert.equal(p.opened.length, 0, "openMessage is not used");
  assert.match(h.transcript(), /354 .*\r\n250 2\.0\.0 Ok: queued as/);
});

for (const [name, input, closeAfter] of [
  ["RSET", "RSET\r\n", false],
  ["HELO", "HELO again.example\r\n", false],
  ["QUIT", "QUIT\r\n", false],
  ["a lost connection", "", true],
] as const) {
  test(`${name} after RCPT aborts the prepared message`, async () => {
    const p = preparing();
    const h = harness({ hooks: p.hooks });
    await h.send(`${START}RCPT TO:<c@d.example>\r\n${input}`);
    if (closeAfter) {
      h.engine.end();
      await h.engine.idle();
    }
    assert.equal(p.prepared.length, 1);
    assert.notEqual(p.prepared[0]?.aborted, null);
    assert.equal(p.prepared[0]?.opened, null);
  });
}

test("a timeout after RCPT aborts the prepared message", async () => {
  const p = preparing();
  const h = harness({ hooks: p.hooks });
  await h.send(`${START}RCPT TO:<c@d.example>\r\n`);
  h.engine.timeout();
  assert.equal(p.prepared[0]?.aborted, "timeout");
});

test("a refused DATA keeps the prepared message for the transaction; RSET then aborts it", async () => {
  const p = preparing();
  const h = harness({
    hooks: { ...p.hooks, data: async () => ({ code: 554, enhanced: "5.5.1", text: "no" }) },
  });
  await h.send(`${START}RCPT TO:<c@d.example>\r\nDATA\r\n`);
  assert.equal(p.prepared[0]?.aborted, null);
  await h.send("RSET\r\n");
  assert.equal(p.prepared[0]?.aborted, "RSET");
});

test("a failed early open gives DATA 451 4.3.0, and the next DATA opens anew", async () => {
  const p = preparing({ fail: true });
  const h = harness({ hooks: p.hooks });
  await h.send(`${START}RCPT TO:<c@d.example>\r\nDATA\r\n`);
  assert.match(h.lines().at(-1) ?? "", /^451 4\.3\.0 /);
  assert.ok(h.events.some((e) => e.type === "protocol-error" && /cleanup unavailable/.test(e.detail)));
  await h.send("DATA\r\nSubject: t\r\n\r\nbody\r\n.\r\n");
  assert.equal(p.opened.length, 1);
  assert.equal(p.opened[0]?.ended, true);
  assert.equal(p.prepared.length, 1, "prepared once per transaction");
});

test("BDAT takes the prepared message too, and a second transaction prepares its own", async () => {
  const p = preparing();
  const h = harness({ hooks: p.hooks });
  await h.send(`${START}RCPT TO:<c@d.example>\r\nBDAT 6 LAST\r\nhello\n`);
  assert.equal(p.prepared[0]?.sink.content, "hello\n");
  assert.equal(p.prepared[0]?.sink.ended, true);
  await h.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@d.example>\r\nQUIT\r\n");
  assert.equal(p.prepared.length, 2);
  assert.equal(p.prepared[0]?.aborted, null);
  assert.notEqual(p.prepared[1]?.aborted, null);
});
