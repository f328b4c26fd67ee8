/*
 * fuzz-smtp — hostile input against the SMTP server engine (lib/smtp/server-engine.ts),
 * in memory: arbitrary bytes and grammar-shaped sessions, fed at once, byte by byte and in
 * random chunkings. The engine must never let an exception escape, never hang, answer
 * every malformed command with a 4xx/5xx reply, never put a client's CR, LF or other
 * control character into a reply, keep memory bounded for endless lines, and never let a
 * message boundary be smuggled (only CRLF.CRLF ends DATA).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { SmtpHooks } from "../../lib/smtp/engine-types.js";
import { type Harness, harness } from "../smtp/harness.js";
import { budget, bytewise, chunked, cutPoints, hostileText, within } from "./fuzz-budget.js";

/** A reply line: code, separator, text without any control character. */
const REPLY_LINE = /^[2-5]\d\d(?:[ -][^\x00-\x1f\x7f]*)?$/;

function replyLines(h: Harness): string[] {
  const t = h.transcript();
  assert.ok(t === "" || t.endsWith("\r\n"), "the transcript ends at a line end");
  const lines = t.split("\r\n").slice(0, -1);
  for (const line of lines) assert.match(line, REPLY_LINE, "every reply line is well formed");
  return lines;
}

function assertNoInternalError(h: Harness): void {
  for (const e of h.events)
    if (e.type === "protocol-error") assert.doesNotMatch(e.detail, /internal error/, e.detail);
}

/** Hooks that fail the way a broken policy service would, for addresses that ask for it. */
const throwingHooks: Partial<SmtpHooks> = {
  rcptTo: async (_s, _env, rcpt) => {
    if (rcpt.address.includes("%")) throw new Error("policy service crashed");
    return null;
  },
  helo: async (_s, name) => {
    if (name.includes("!")) throw new TypeError("helo hook bug");
    return null;
  },
};

async function run(pieces: Buffer[], hooks: Partial<SmtpHooks> = throwingHooks): Promise<Harness> {
  const h = harness({ hooks });
  for (const piece of pieces) h.engine.feed(piece);
  h.engine.end();
  await within(2000, "SMTP engine", h.engine.idle());
  return h;
}

/** Arbitrary bytes, often cut into lines, sometimes after a valid greeting. */
const arbitraryLines = fc
  .tuple(
    fc.constantFrom("", "EHLO c\r\n", "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
    fc.array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constant(new Uint8Array([13, 10]))), {
      maxLength: 20,
    }),
  )
  .map(([prefix, parts]) => Buffer.concat([Buffer.from(prefix), ...parts.map((p) => Buffer.from(p))]));

const verbs = fc.constantFrom(
  "HELO",
  "EHLO",
  "MAIL FROM:",
  "RCPT TO:",
  "DATA",
  "BDAT",
  "RSET",
  "NOOP",
  "VRFY",
  "HELP",
  "STARTTLS",
  "AUTH",
  "QUIT",
  "mail from:<",
  "rcpt to:<",
  "GET /",
  "",
);

const hostileCommand = fc
  .tuple(verbs, fc.constantFrom("", " "), hostileText(12))
  .map(([verb, sep, arg]) => `${verb}${sep}${arg}`);

const session = fc.array(hostileCommand, { minLength: 1, maxLength: 25 }).map((cmds) => cmds.join("\r\n"));

test("arbitrary bytes in random chunks never raise, hang or produce malformed replies", async () => {
  await fc.assert(
    fc.asyncProperty(arbitraryLines, cutPoints, async (bytes, cuts) => {
      const h = await run(chunked(bytes, cuts));
      replyLines(h);
      assertNoInternalError(h);
      assert.ok(h.closed(), "the session ends after the client's end of input");
    }),
    budget(150),
  );
});

test("grammar-shaped hostile sessions give the same replies whole, chunked and byte by byte", async () => {
  await fc.assert(
    fc.asyncProperty(session, cutPoints, async (text, cuts) => {
      const input = Buffer.from(`${text}\r\n`, "utf8");
      const whole = await run([input]);
      const lines = replyLines(whole);
      assertNoInternalError(whole);
      assert.deepEqual(replyLines(await run(chunked(input, cuts))), lines);
      if (input.length < 600) assert.deepEqual(replyLines(await run(bytewise(input))), lines);
    }),
    budget(120),
  );
});

test("every command line that is not SMTP gets a 5xx reply, up to the hard error limit", async () => {
  const junkVerb = fc
    .stringMatching(/^[A-Z]{1,8}$/)
    .filter(
      (v) =>
        !/^(HELO|EHLO|MAIL|RCPT|DATA|BDAT|RSET|NOOP|VRFY|HELP|STARTTLS|AUTH|QUIT|GET|POST|CONNECT)$/.test(v),
    );
  const junk = fc.tuple(junkVerb, hostileText(6)).map(([v, arg]) => `${v} ${arg}`.replace(/[\r\n]/g, ""));
  await fc.assert(
    fc.asyncProperty(fc.array(junk, { minLength: 1, maxLength: 30 }), async (lines) => {
      const h = await run([Buffer.from(`${lines.join("\r\n")}\r\n`, "utf8")]);
      const replies = replyLines(h).slice(1);
      const answered = Math.min(lines.length, 20);
      for (const r of replies.slice(0, answered)) assert.match(r, /^5\d\d /, `reply ${r}`);
      if (lines.length > 20) assert.match(replies[20] ?? "", /^421 4\.7\.0 .*too many errors/);
    }),
    budget(100),
  );
});

test("an endless line is discarded as it arrives: no backpressure build-up, then 500 line too long", async () => {
  const h = harness();
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  for (let i = 0; i < 160; i++) {
    h.engine.feed(chunk); // 10 MiB without a line end, one socket read at a time
    await h.engine.idle();
  }
  h.engine.feed(Buffer.from("\r\nNOOP\r\n"));
  await within(2000, "SMTP engine", h.engine.idle());
  assert.equal(h.events.filter((e) => e.type === "pause").length, 0, "nothing was held");
  assert.deepEqual(replyLines(h).slice(1), ["500 5.5.0 Error: line too long", "250 2.0.0 Ok"]);
});

const contentPiece = fc.oneof(
  fc.constantFrom(
    "\n.\n",
    "\r.\n",
    "\n.\r\n",
    "\r\n.\r",
    "\r.\r\n",
    "\r\n.\n",
    ".\0\r\n",
    "\0",
    "\r\n..\r\n",
  ),
  fc.constantFrom(
    "\r\nMAIL FROM:<ceo@example.org>\r\n",
    "\r\nRCPT TO:<victim@example.org>\r\n",
    "\r\nDATA\r\n",
  ),
  fc.string({ maxLength: 20 }).map((s) => s.replace(/\r\n\.\r\n/g, "")),
);

test("no hostile line-ending variant inside DATA ends the message early (SMTP smuggling)", async () => {
  const body = fc
    .array(contentPiece, { maxLength: 30 })
    .map((p) => p.join(""))
    .filter((b) => {
      const stream = `\r\n${b}\r\n.\r\n`; // only the final terminator may be there
      return stream.indexOf("\r\n.\r\n") === stream.length - 5;
    });
  await fc.assert(
    fc.asyncProperty(body, cutPoints, async (content, cuts) => {
      const input = Buffer.from(
        `EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n${content}\r\n.\r\nQUIT\r\n`,
        "utf8",
      );
      const h = await run(chunked(input, cuts), {});
      const codes = replyLines(h)
        .filter((l) => l[3] !== "-")
        .map((l) => l.slice(0, 3));
      assert.deepEqual(codes, ["220", "250", "250", "250", "354", "250", "221"]);
      assert.equal(h.sinks.length, 1, "exactly one message");
      assert.equal(h.events.filter((e) => e.type === "queued").length, 1);
    }),
    budget(200),
  );
});

test("pipelined input behind STARTTLS never reaches the command loop", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(hostileCommand, { minLength: 1, maxLength: 6 }), async (injected) => {
      let upgraded = 0;
      const h = harness({
        opts: {
          extensions: {
            starttls: true,
            auth: null,
            dsn: true,
            chunking: true,
            smtputf8: true,
            pipelining: true,
          },
        },
        hooks: {
          startTls: async () => {
            upgraded++;
          },
        },
      });
      h.engine.feed(Buffer.from(`EHLO c\r\nSTARTTLS\r\n${injected.join("\r\n")}\r\n`, "utf8"));
      await within(2000, "SMTP engine", h.engine.idle());
      assert.equal(upgraded, 1);
      const codes = replyLines(h)
        .filter((l) => l[3] !== "-")
        .map((l) => l.slice(0, 3));
      assert.deepEqual(codes, ["220", "250", "220"], "nothing after STARTTLS was answered");
    }),
    budget(60),
  );
});
