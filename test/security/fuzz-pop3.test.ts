/*
 * fuzz-pop3 — hostile input against the POP3 engines (lib/pop3/login-engine.ts before
 * authentication, lib/pop3/mail-engine.ts after), in memory: arbitrary bytes and
 * grammar-shaped commands, fed at once, byte by byte and in random chunkings. Nothing may
 * escape as an exception or hang; each command gets exactly one status line; malformed
 * ones get -ERR; no reply carries a client's control characters or a bare CR/LF; input
 * pipelined behind STLS is discarded; an endless line costs bounded memory.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type Pop3AuthVerdict,
  type Pop3Credentials,
  Pop3LoginEngine,
  type Pop3LoginEvent,
} from "../../lib/pop3/login-engine.js";
import { Pop3MailEngine } from "../../lib/pop3/mail-engine.js";
import { MemoryStore } from "../../lib/pop3/memory-store.js";
import { capture, LOGIN_DEFAULTS } from "../pop3/harness.js";
import { budget, bytewise, chunked, cutPoints, hostileText, within } from "./fuzz-budget.js";

const MESSAGES = ["Subject: one\r\n\r\nbody one\r\n", "Subject: two\r\n\r\nline\r\nline\r\n"];

/** Output must be CRLF lines without other control characters. */
function outputLines(text: string): string[] {
  assert.ok(text === "" || text.endsWith("\r\n"), "output ends at a line end");
  const lines = text.split("\r\n").slice(0, -1);
  for (const line of lines)
    assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, `control character in ${JSON.stringify(line)}`);
  return lines;
}

const statusLine = (l: string): boolean => l.startsWith("+OK") || l.startsWith("-ERR") || l.startsWith("+ ");

const loginVerbs = fc.constantFrom(
  "USER",
  "PASS",
  "APOP",
  "AUTH",
  "AUTH PLAIN",
  "AUTH LOGIN",
  "CAPA",
  "STLS",
  "QUIT",
  "NOOP",
  "RETR",
  "user",
  "",
);
const mailVerbs = fc.constantFrom(
  "STAT",
  "LIST",
  "UIDL",
  "RETR",
  "TOP",
  "DELE",
  "NOOP",
  "RSET",
  "CAPA",
  "list",
  "top",
  "XTND",
  "",
);
const numbers = fc.constantFrom(
  "0",
  "1",
  "2",
  "3",
  "-1",
  "+1",
  "01",
  "1.5",
  "4294967297",
  "99999999999999999999",
  "1e3",
  "0x1",
);

function command(verbs: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(verbs, fc.array(fc.oneof(numbers, hostileText(4)), { maxLength: 3 }))
    .map(([verb, args]) => [verb, ...args].join(" ").replace(/[\r\n]/g, ""));
}

async function runLogin(pieces: Buffer[], maxBadCommands = 50) {
  const { out, cap } = capture();
  const events: Pop3LoginEvent[] = [];
  const auth = {
    async verify(c: Pop3Credentials): Promise<Pop3AuthVerdict> {
      if (c.user?.includes("%")) throw new Error("auth service crashed");
      return c.type === "password" && c.user === "tim" && c.password === "secret"
        ? { ok: true, user: "tim" }
        : { ok: false };
    },
  };
  const engine = new Pop3LoginEngine({ ...LOGIN_DEFAULTS, maxBadCommands }, auth, out, (e) => events.push(e));
  engine.start();
  for (const p of pieces) {
    engine.push(p);
    await within(2000, "POP3 login engine", engine.idle());
  }
  return { engine, events, text: cap.text(), ended: cap.ended };
}

async function runMail(pieces: Buffer[]) {
  const { out, cap } = capture();
  const store = new MemoryStore(MESSAGES, { chunkSize: 7 });
  const engine = new Pop3MailEngine(async () => store, { user: "tim", maxBadCommands: 50 }, out);
  await within(2000, "POP3 mail engine", engine.start());
  for (const p of pieces) {
    engine.push(p);
    await within(2000, "POP3 mail engine", engine.idle());
  }
  return { store, text: cap.text(), ended: cap.ended };
}

test("the login engine answers every hostile command with one status line, the same in any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(command(loginVerbs), { minLength: 1, maxLength: 20 }),
      cutPoints,
      async (cmds, cuts) => {
        const input = Buffer.from(`${cmds.join("\r\n")}\r\n`, "latin1");
        const whole = await runLogin([input]);
        const lines = outputLines(whole.text);
        assert.ok(lines.filter(statusLine).length >= 1);
        assert.equal((await runLogin(chunked(input, cuts))).text, whole.text);
        if (input.length < 400) assert.equal((await runLogin(bytewise(input))).text, whole.text);
      },
    ),
    budget(120),
  );
});

test("the login engine survives arbitrary bytes", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), cutPoints, async (bytes, cuts) => {
      const r = await runLogin(chunked(Buffer.from(bytes), cuts));
      outputLines(r.text);
    }),
    budget(150),
  );
});

test("unknown login commands get -ERR each until the bad-command limit ends the session", async () => {
  const junk = fc
    .stringMatching(/^[A-Z]{1,6}$/)
    .filter((v) => !["USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT"].includes(v));
  await fc.assert(
    fc.asyncProperty(fc.array(junk, { minLength: 1, maxLength: 12 }), async (verbs) => {
      const r = await runLogin([Buffer.from(`${verbs.join("\r\n")}\r\n`)], 5);
      const replies = outputLines(r.text).slice(1);
      for (const line of replies) assert.match(line, /^-ERR /);
      assert.equal(replies.length, Math.min(verbs.length, 5));
      if (verbs.length >= 5) {
        assert.equal(replies[4], "-ERR Too many bad commands.");
        assert.ok(r.ended);
      }
    }),
    budget(100),
  );
});

test("commands pipelined after STLS are discarded, never authenticated in plaintext", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(command(loginVerbs), { maxLength: 5 }), async (extra) => {
      const injected = ["USER tim", "PASS secret", ...extra].join("\r\n");
      const r = await runLogin([Buffer.from(`CAPA\r\nSTLS\r\n${injected}\r\n`, "latin1")]);
      assert.ok(r.events.some((e) => e.type === "starttls"));
      r.engine.tlsStarted();
      r.engine.push(Buffer.from("NOOP\r\n"));
      await r.engine.idle();
      assert.equal(r.events.filter((e) => e.type === "authenticated").length, 0);
      assert.match(r.text, /\+OK Begin TLS negotiation now\.\r\n$/);
    }),
    budget(60),
  );
});

test("the mail engine answers every hostile command with exactly one status line, in any chunking", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(command(mailVerbs), { minLength: 1, maxLength: 20 }),
      cutPoints,
      async (cmds, cuts) => {
        const input = Buffer.from(`${cmds.join("\r\n")}\r\n`, "latin1");
        const whole = await runMail([input]);
        const lines = outputLines(whole.text);
        assert.equal(
          lines.filter(statusLine).length,
          1 + cmds.length,
          "greeting plus one status per command",
        );
        assert.deepEqual(whole.store.deletedUidls, [], "nothing deleted without QUIT");
        assert.equal((await runMail(chunked(input, cuts))).text, whole.text);
        if (input.length < 300) assert.equal((await runMail(bytewise(input))).text, whole.text);
      },
    ),
    budget(120),
  );
});

test("an endless POP3 line is discarded as it arrives and ends the session with -ERR", async () => {
  const chunk = Buffer.alloc(64 * 1024, 0x41);
  const pieces = Array.from({ length: 64 }, () => chunk);
  const before = process.memoryUsage().arrayBuffers;
  const r = await runMail([...pieces, Buffer.from("\r\nSTAT\r\n")]);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, "memory stays bounded");
  assert.deepEqual(outputLines(r.text), ["+OK Logged in.", "-ERR Input line too long."]);
  assert.ok(r.ended);
});
