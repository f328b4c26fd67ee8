import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { SmtpAuthResult } from "../../lib/smtp/engine-types.js";
import { reply } from "../../lib/smtp/reply.js";
import { harness } from "./harness.js";

const TRANSACTION =
  "EHLO c.example\r\nMAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<e@f.example> NOTIFY=NEVER\r\n" +
  "DATA\r\nSubject: hi\r\n\r\n..body\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<g@h>\r\nBDAT 3 LAST\r\nxyzVRFY x\r\nBOGUS\r\nRSET\r\nQUIT\r\n";

test("a pipelined session gives identical replies and content whole, byte by byte, and across event-loop turns", async () => {
  const whole = harness();
  await whole.send(TRANSACTION);
  const bytes = harness();
  await bytes.send(TRANSACTION, "bytes");
  const slow = harness({ hooks: { rcptTo: () => new Promise((r) => setImmediate(() => r(null))) } });
  for (const b of Buffer.from(TRANSACTION)) {
    slow.engine.feed(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  await slow.engine.idle();
  assert.equal(bytes.transcript(), whole.transcript());
  assert.equal(slow.transcript(), whole.transcript());
  assert.deepEqual(
    bytes.sinks.map((s) => s.content),
    whole.sinks.map((s) => s.content),
  );
  assert.equal(whole.lines().filter((l) => l.startsWith("250 2.0.0 Ok: queued")).length, 2);
  assert.equal(whole.lines().at(-1), "221 2.0.0 Bye");
});

test("replies to a pipelined burst are coalesced into one reply event", async () => {
  const h = harness();
  await h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@d>\r\n");
  assert.equal(h.events.filter((e) => e.type === "reply").length, 2); // greeting + the burst
});

test("10,000 pipelined NOOPs in one feed are all answered without recursion", async () => {
  const h = harness({ opts: { hardErrorLimit: 0 } });
  await h.send("NOOP\r\n".repeat(10_000));
  const lines = h.lines().slice(1);
  assert.equal(lines.length, 10_000);
  assert.ok(lines.every((l) => l === "250 2.0.0 Ok"));
  assert.equal(h.engine.stats.get("noop")?.ok, 10_000);
});

test("a flood of pipelined commands pauses and later resumes the transport", async () => {
  let release: (v: null) => void = () => {};
  const h = harness({
    opts: { hardErrorLimit: 0 }, // NOOPs beyond smtpd_junk_command_limit count as errors
    hooks: { helo: () => new Promise((r) => (release = r)) },
  });
  h.engine.feed(Buffer.from("HELO c\r\n"));
  h.engine.feed(Buffer.from("NOOP\r\n".repeat(60_000)));
  assert.deepEqual(h.events.filter((e) => e.type === "pause").length, 1);
  await new Promise((r) => setImmediate(r));
  release(null);
  await h.engine.idle();
  assert.deepEqual(h.events.filter((e) => e.type === "resume").length, 1);
  assert.equal(h.lines().length, 60_002);
});

// ── STARTTLS ────────────────────────────────────────────────────────────────────

function tlsHarness(startTls: () => Promise<void>) {
  return harness({
    opts: {
      heloRequired: true,
      extensions: { starttls: true, auth: null, dsn: true, chunking: true, smtputf8: true, pipelining: true },
    },
    hooks: { startTls },
  });
}

test("STARTTLS discards input pipelined behind it and requires a new EHLO", async () => {
  let upgrades = 0;
  const h = tlsHarness(async () => void upgrades++);
  await h.send("EHLO c\r\nSTARTTLS\r\nMAIL FROM:<injected@x>\r\nRCPT TO:<v@d>\r\n");
  const lines = h.lines().slice(1);
  assert.ok(lines.includes("250-STARTTLS"));
  assert.equal(lines.at(-1), "220 2.0.0 Ready to start TLS");
  assert.equal(upgrades, 1);
  await h.send("MAIL FROM:<a@b>\r\nEHLO c\r\nSTARTTLS\r\n");
  const after = h.lines().slice(lines.length + 1);
  assert.equal(after[0], "503 5.5.1 Error: send HELO/EHLO first");
  assert.equal(after.includes("250-STARTTLS"), false);
  assert.equal(after.at(-1), "554 5.5.1 Error: TLS already active");
});

test("bytes fed while the TLS handshake is pending are discarded", async () => {
  let finish: () => void = () => {};
  const h = tlsHarness(() => new Promise((r) => (finish = r)));
  h.engine.feed(Buffer.from("EHLO c\r\nSTARTTLS\r\n"));
  await new Promise((r) => setImmediate(r));
  h.engine.feed(Buffer.from("NOOP\r\n"));
  finish();
  await h.engine.idle();
  await h.send("NOOP\r\n");
  assert.deepEqual(h.lines().slice(-2), ["220 2.0.0 Ready to start TLS", "250 2.0.0 Ok"]);
});

test("a failed TLS upgrade closes the connection", async () => {
  const h = tlsHarness(async () => {
    throw new Error("handshake failed");
  });
  await h.send("EHLO c\r\nSTARTTLS\r\n");
  assert.ok(h.closed());
  assert.ok(h.events.some((e) => e.type === "protocol-error" && e.detail.includes("handshake failed")));
});

// ── AUTH ────────────────────────────────────────────────────────────────────────

function authHarness() {
  return harness({
    opts: {
      extensions: {
        starttls: false,
        auth: ["PLAIN", "LOGIN"],
        dsn: true,
        chunking: true,
        smtputf8: true,
        pipelining: true,
      },
    },
    hooks: {
      auth: async (_s, mechanism, initial, io): Promise<SmtpAuthResult> => {
        if (mechanism === "PLAIN") {
          const response = initial ?? (await io.challenge(""));
          if (response === null) return reply(501, "5.7.0", "Authentication aborted");
          const [, user, pass] = Buffer.from(response, "base64").toString().split("\0");
          return pass === "secret" && user
            ? { user }
            : reply(535, "5.7.8", "Error: authentication failed: authentication failure");
        }
        const user = await io.challenge(Buffer.from("Username:").toString("base64"));
        const pass = user === null ? null : await io.challenge(Buffer.from("Password:").toString("base64"));
        if (user === null || pass === null) return reply(501, "5.7.0", "Authentication aborted");
        return Buffer.from(pass, "base64").toString() === "secret"
          ? { user: Buffer.from(user, "base64").toString() }
          : reply(535, "5.7.8", "Error: authentication failed: authentication failure");
      },
    },
  });
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("AUTH PLAIN with an initial response authenticates once", async () => {
  const h = authHarness();
  await h.send(
    `EHLO c\r\nAUTH PLAIN ${b64("\0bob\0wrong")}\r\nAUTH PLAIN ${b64("\0bob\0secret")}\r\nAUTH PLAIN x\r\n`,
  );
  assert.ok(h.lines().includes("250-AUTH PLAIN LOGIN"));
  assert.deepEqual(h.lines().slice(-3), [
    "535 5.7.8 Error: authentication failed: authentication failure",
    "235 2.7.0 Authentication successful",
    "503 5.5.1 Error: already authenticated",
  ]);
  assert.equal(h.engine.info.authUser, "bob");
});

test("AUTH LOGIN runs a challenge exchange, also byte by byte", async () => {
  for (const split of ["whole", "bytes"] as const) {
    const h = authHarness();
    await h.send(`EHLO c\r\nAUTH LOGIN\r\n${b64("alice")}\r\n${b64("secret")}\r\nNOOP\r\n`, split);
    assert.deepEqual(h.lines().slice(-4), [
      "334 VXNlcm5hbWU6",
      "334 UGFzc3dvcmQ6",
      "235 2.7.0 Authentication successful",
      "250 2.0.0 Ok",
    ]);
  }
});

test("AUTH is aborted by '*', refused before EHLO, during a transaction and for unknown mechanisms", async () => {
  const h = authHarness();
  await h.send(
    `AUTH PLAIN\r\nEHLO c\r\nAUTH LOGIN\r\n*\r\nAUTH CRAM-MD5\r\nMAIL FROM:<a@b>\r\nAUTH PLAIN\r\n`,
  );
  const lines = h
    .lines()
    .slice(1)
    .filter((l) => !l.startsWith("250-") && l !== "250 CHUNKING");
  assert.deepEqual(lines, [
    "503 5.5.1 Error: send HELO/EHLO first",
    "334 VXNlcm5hbWU6",
    "501 5.7.0 Authentication aborted",
    "535 5.7.8 Error: authentication failed: Invalid authentication mechanism",
    "250 2.1.0 Ok",
    "503 5.5.1 Error: MAIL transaction in progress",
  ]);
});

test("EOF during an AUTH exchange ends the session as lost after AUTH", async () => {
  const h = authHarness();
  await h.send("EHLO c\r\nAUTH LOGIN\r\n");
  h.engine.end();
  await h.engine.idle();
  assert.deepEqual(
    h.events.find((e) => e.type === "lost"),
    { type: "lost", after: "AUTH" },
  );
});

// ── robustness ──────────────────────────────────────────────────────────────────

const fragments = fc.constantFrom(
  "EHLO c\r\n",
  "HELO c\r\n",
  "MAIL FROM:<a@b>\r\n",
  "RCPT TO:<c@d>\r\n",
  "DATA\r\n",
  "BDAT 3\r\n",
  "BDAT 2 LAST\r\n",
  "RSET\r\n",
  "NOOP\r\n",
  "QUIT\r\n",
  "VRFY x\r\n",
  "STARTTLS\r\n",
  "AUTH PLAIN\r\n",
  ".\r\n",
  "\r\n",
  "\n",
  "\r",
  ".",
  "..",
  "x",
  "\u00e9",
  "\u0000",
  "GET /",
  "MAIL FROM:<a@b> SIZE=x\r\n",
);
const hostile = fc
  .tuple(fc.array(fragments, { maxLength: 30 }), fc.uint8Array({ maxLength: 20 }))
  .map(([parts, raw]) => Buffer.concat([Buffer.from(parts.join("")), Buffer.from(raw)]));

test("property: arbitrary bytes in random splits never throw, replies end with CRLF, and splitting changes nothing", async () => {
  await fc.assert(
    fc.asyncProperty(hostile, fc.array(fc.nat({ max: 200 }), { maxLength: 10 }), async (input, cuts) => {
      const whole = harness({
        opts: {
          extensions: {
            starttls: false,
            auth: ["PLAIN"],
            dsn: true,
            chunking: true,
            smtputf8: true,
            pipelining: true,
          },
        },
        hooks: { auth: async () => reply(535, "5.7.8", "no") },
      });
      await whole.send(input);
      whole.engine.end();
      await whole.engine.idle();
      const split = harness({
        opts: {
          extensions: {
            starttls: false,
            auth: ["PLAIN"],
            dsn: true,
            chunking: true,
            smtputf8: true,
            pipelining: true,
          },
        },
        hooks: { auth: async () => reply(535, "5.7.8", "no") },
      });
      await split.send(input, cuts);
      split.engine.end();
      await split.engine.idle();
      for (const e of whole.events) {
        if (e.type === "reply") assert.match(e.bytes.toString("utf8"), /^([2-5][0-9]{2}[ -][^\r\n]*\r\n)+$/);
      }
      assert.equal(split.transcript(), whole.transcript());
      assert.ok(whole.closed());
    }),
    { seed: 20240101, numRuns: 150 },
  );
});
