import assert from "node:assert/strict";
import { test } from "node:test";
import type { SmtpEngineOptions } from "../../lib/smtp/engine-types.js";
import { reply } from "../../lib/smtp/reply.js";
import { harness } from "./harness.js";

const EHLO_LINES = [
  "250-mx.example.org",
  "250-PIPELINING",
  "250-SIZE 10240000",
  "250-VRFY",
  "250-ENHANCEDSTATUSCODES",
  "250-8BITMIME",
  "250-DSN",
  "250-SMTPUTF8",
  "250 CHUNKING",
];

/** Runs the commands (one per array element) and returns the reply lines after the greeting. */
async function session(commands: string[], opts: Partial<SmtpEngineOptions> = {}): Promise<string[]> {
  const h = harness({ opts });
  await h.send(commands.map((c) => `${c}\r\n`).join(""));
  return h.lines().slice(1);
}

test("start sends the greeting without an enhanced code", async () => {
  const h = harness();
  assert.equal(h.transcript(), "220 mx.example.org ESMTP Postern\r\n");
});

test("EHLO lists the extensions in Postfix's order", async () => {
  assert.deepEqual(await session(["EHLO c.example"]), EHLO_LINES);
});

test("EHLO omits VRFY, DSN, SMTPUTF8, CHUNKING and PIPELINING when disabled and shows SIZE without a limit", async () => {
  const opts = {
    disableVrfy: true,
    messageSizeLimit: 0,
    extensions: {
      dsn: false,
      smtputf8: false,
      chunking: false,
      pipelining: false,
      starttls: false,
      auth: null,
    },
  };
  assert.deepEqual(await session(["EHLO c.example"], opts), [
    "250-mx.example.org",
    "250-SIZE",
    "250-ENHANCEDSTATUSCODES",
    "250 8BITMIME",
  ]);
});

test("HELO answers with the host name alone", async () => {
  assert.deepEqual(await session(["HELO c.example"]), ["250 mx.example.org"]);
});

const sequences: {
  name: string;
  commands: string[];
  replies: string[];
  opts?: Partial<SmtpEngineOptions>;
}[] = [
  {
    name: "MAIL without HELO is refused when HELO is required",
    commands: ["MAIL FROM:<a@b>"],
    replies: ["503 5.5.1 Error: send HELO/EHLO first"],
    opts: { heloRequired: true },
  },
  {
    name: "MAIL without HELO is accepted by default, as Postfix",
    commands: ["MAIL FROM:<a@b>"],
    replies: ["250 2.1.0 Ok"],
  },
  {
    name: "RCPT before MAIL is refused",
    commands: ["HELO c", "RCPT TO:<a@b>"],
    replies: ["250 mx.example.org", "503 5.5.1 Error: need MAIL command"],
  },
  {
    name: "a second MAIL is a nested MAIL",
    commands: ["HELO c", "MAIL FROM:<a@b>", "MAIL FROM:<a@b>"],
    replies: ["250 mx.example.org", "250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command"],
  },
  {
    name: "DATA without MAIL needs RCPT",
    commands: ["HELO c", "DATA"],
    replies: ["250 mx.example.org", "503 5.5.1 Error: need RCPT command"],
  },
  {
    name: "DATA without any recipient has no valid recipients",
    commands: ["HELO c", "MAIL FROM:<a@b>", "DATA"],
    replies: ["250 mx.example.org", "250 2.1.0 Ok", "554 5.5.1 Error: no valid recipients"],
  },
  {
    name: "an unknown command is not recognized",
    commands: ["EXPN x", "ETRN y"],
    replies: ["502 5.5.2 Error: command not recognized", "502 5.5.2 Error: command not recognized"],
  },
  { name: "an empty line is bad syntax", commands: [""], replies: ["500 5.5.2 Error: bad syntax"] },
  {
    name: "NOOP and RSET answer Ok anywhere",
    commands: ["NOOP", "RSET"],
    replies: ["250 2.0.0 Ok", "250 2.0.0 Ok"],
  },
  {
    name: "HELP answers 214",
    commands: ["HELP"],
    replies: ["214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT STARTTLS AUTH"],
  },
  { name: "VRFY answers 252 by default", commands: ["VRFY <u@d>"], replies: ["252 2.0.0 u@d"] },
  {
    name: "VRFY is refused when disabled",
    commands: ["VRFY u"],
    replies: ["502 5.5.1 VRFY command is disabled"],
    opts: { disableVrfy: true },
  },
  {
    name: "RSET clears the transaction so RCPT needs MAIL again",
    commands: ["MAIL FROM:<a@b>", "RSET", "RCPT TO:<c@d>"],
    replies: ["250 2.1.0 Ok", "250 2.0.0 Ok", "503 5.5.1 Error: need MAIL command"],
  },
  {
    name: "EHLO resets a transaction in progress",
    commands: ["MAIL FROM:<a@b>", "EHLO c", "RCPT TO:<c@d>"],
    replies: ["250 2.1.0 Ok", ...EHLO_LINES, "503 5.5.1 Error: need MAIL command"],
  },
  {
    name: "MAIL SIZE above the limit is refused",
    commands: ["MAIL FROM:<a@b> SIZE=10240001"],
    replies: ["552 5.3.4 Message size exceeds fixed limit"],
  },
  {
    name: "an unknown MAIL parameter is unsupported",
    commands: ["MAIL FROM:<a@b> FOO=1"],
    replies: ["555 5.5.4 Unsupported option: FOO"],
  },
  {
    name: "a unicode sender needs SMTPUTF8",
    commands: ["MAIL FROM:<jösé@b>", "MAIL FROM:<jösé@b> SMTPUTF8"],
    replies: ["553 5.6.7 Must declare SMTPUTF8 to send unicode address", "250 2.1.0 Ok"],
  },
  {
    name: "a unicode recipient needs SMTPUTF8 on MAIL",
    commands: ["MAIL FROM:<a@b>", "RCPT TO:<ü@d>"],
    replies: ["250 2.1.0 Ok", "553 5.6.7 Must declare SMTPUTF8 to send unicode address"],
  },
  {
    name: "the recipient limit gives 452 4.5.3",
    commands: ["MAIL FROM:<a@b>", "RCPT TO:<1@d>", "RCPT TO:<2@d>", "RCPT TO:<3@d>"],
    replies: ["250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "452 4.5.3 Error: too many recipients"],
    opts: { recipientLimit: 2 },
  },
  {
    name: "DSN parameters are refused when DSN is disabled",
    commands: ["MAIL FROM:<a@b> RET=FULL"],
    replies: ["501 5.7.1 DSN support is disabled"],
    opts: {
      extensions: {
        dsn: false,
        starttls: false,
        auth: null,
        chunking: true,
        smtputf8: true,
        pipelining: true,
      },
    },
  },
  {
    name: "STARTTLS is not implemented when not offered",
    commands: ["STARTTLS"],
    replies: ["502 5.5.1 Error: command not implemented"],
  },
  {
    name: "AUTH is refused when not enabled",
    commands: ["EHLO c", "AUTH PLAIN"],
    replies: [...EHLO_LINES, "503 5.5.1 Error: authentication not enabled"],
  },
  { name: "QUIT says Bye", commands: ["QUIT"], replies: ["221 2.0.0 Bye"] },
  { name: "commands after QUIT are ignored", commands: ["QUIT", "NOOP"], replies: ["221 2.0.0 Bye"] },
];

for (const s of sequences) {
  test(s.name, async () => {
    assert.deepEqual(await session(s.commands, s.opts), s.replies);
  });
}

test("a UTF-8 error in a command line is reported", async () => {
  const h = harness();
  await h.send(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff, 0x0d, 0x0a]));
  assert.deepEqual(h.lines().slice(1), ["500 5.5.2 Error: bad UTF-8 syntax"]);
});

test("an over-long command line is refused once, and the session continues", async () => {
  const h = harness({ opts: { lineLengthLimit: 100 } });
  await h.send(`NOOP ${"x".repeat(5000)}\r\nNOOP\r\n`, [10, 200, 3000]);
  assert.deepEqual(h.lines().slice(1), ["500 5.5.0 Error: line too long", "250 2.0.0 Ok"]);
});

test("a non-SMTP command gets Postfix's goodbye, a protocol-error and a close", async () => {
  const h = harness();
  await h.send("GET / HTTP/1.1\r\nHost: x\r\n");
  assert.deepEqual(h.lines().slice(1), ["521 5.7.0 Error: I can break rules, too. Goodbye."]);
  assert.ok(
    h.events.some((e) => e.type === "protocol-error" && e.detail === "non-SMTP command: GET / HTTP/1.1"),
  );
  assert.ok(h.closed());
});

test("a bare LF command is accepted under normalize", async () => {
  assert.deepEqual(
    await (async () => {
      const h = harness();
      await h.send("NOOP\n");
      return h.lines().slice(1);
    })(),
    ["250 2.0.0 Ok"],
  );
});

test("a bare LF command is refused and the client disconnected under reject", async () => {
  const h = harness({ opts: { forbidBareNewline: "reject" } });
  await h.send("NOOP\nNOOP\r\n");
  assert.deepEqual(h.lines().slice(1), ["550 5.5.2 Error: bare <LF> received"]);
  assert.ok(h.closed());
});

test("the hard error limit answers 421 too many errors and closes", async () => {
  const h = harness({ opts: { hardErrorLimit: 3 } });
  await h.send("X\r\nX\r\nX\r\nNOOP\r\nNOOP\r\n");
  assert.deepEqual(h.lines().slice(1), [
    "502 5.5.2 Error: command not recognized",
    "502 5.5.2 Error: command not recognized",
    "502 5.5.2 Error: command not recognized",
    "421 4.7.0 mx.example.org Error: too many errors",
  ]);
  assert.ok(h.closed());
});

test("above the soft error limit every failed command waits for the errorSleep hook", async () => {
  const sleeps: number[] = [];
  const h = harness({ opts: { softErrorLimit: 1 }, hooks: { errorSleep: async (n) => void sleeps.push(n) } });
  await h.send("X\r\nNOOP\r\nX\r\nX\r\n");
  assert.deepEqual(sleeps, [2, 3]);
});

test("policy hooks refuse with their own reply and a reject event", async () => {
  const h = harness({
    hooks: {
      helo: async (_s, name) =>
        name === "bad" ? reply(554, "5.7.1", "<bad>: Helo command rejected: Access denied") : null,
      mailFrom: async (_s, env) =>
        env.sender === "spam@x"
          ? reply(554, "5.7.1", "<spam@x>: Sender address rejected: Access denied")
          : null,
      rcptTo: async (_s, _env, r) =>
        r.address === "nobody@d"
          ? reply(
              550,
              "5.1.1",
              "<nobody@d>: Recipient address rejected: User unknown in local recipient table",
            )
          : null,
    },
  });
  await h.send(
    "HELO bad\r\nHELO good\r\nMAIL FROM:<spam@x>\r\nMAIL FROM:<s@x>\r\nRCPT TO:<nobody@d>\r\nRCPT TO:<u@d>\r\n",
  );
  assert.deepEqual(h.lines().slice(1), [
    "554 5.7.1 <bad>: Helo command rejected: Access denied",
    "250 mx.example.org",
    "554 5.7.1 <spam@x>: Sender address rejected: Access denied",
    "250 2.1.0 Ok",
    "550 5.1.1 <nobody@d>: Recipient address rejected: User unknown in local recipient table",
    "250 2.1.5 Ok",
  ]);
  const rejects = h.events.filter((e) => e.type === "reject");
  assert.deepEqual(
    rejects.map((e) => [e.stage, e.sender, e.recipient, e.helo]),
    [
      ["HELO", undefined, undefined, "bad"],
      ["MAIL", "spam@x", undefined, "good"],
      ["RCPT", "s@x", "nobody@d", "good"],
    ],
  );
});

test("the rcptTo hook sees the envelope with the recipients accepted so far", async () => {
  const seen: string[][] = [];
  const h = harness({
    hooks: {
      rcptTo: async (_s, env) => {
        seen.push(env.recipients.map((r) => r.address));
        return null;
      },
    },
  });
  await h.send("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<1@d>\r\nRCPT TO:<2@d>\r\n");
  assert.deepEqual(seen, [[], ["1@d"]]);
});

test("a throwing policy hook becomes 451 4.3.5 and a protocol-error", async () => {
  const h = harness({
    hooks: {
      mailFrom: async () => {
        throw new Error("map lookup failed");
      },
    },
  });
  await h.send("MAIL FROM:<a@b>\r\n");
  assert.deepEqual(h.lines().slice(1), ["451 4.3.5 Server configuration problem"]);
  assert.ok(h.events.some((e) => e.type === "protocol-error" && e.detail.includes("map lookup failed")));
});

test("a VRFY hook answers, and its refusal is a VRFY reject", async () => {
  const h = harness({
    hooks: {
      vrfy: async (_s, arg) =>
        arg === "x" ? reply(550, "5.1.1", "<x>: Recipient address rejected") : reply(252, "2.0.0", arg),
    },
  });
  await h.send("VRFY x\r\nVRFY y\r\n");
  assert.deepEqual(h.lines().slice(1), ["550 5.1.1 <x>: Recipient address rejected", "252 2.0.0 y"]);
  assert.equal(h.events.find((e) => e.type === "reject")?.type, "reject");
});

test("stats count each verb as ok/total for the disconnect line", async () => {
  const h = harness({
    hooks: { rcptTo: async (_s, _e, r) => (r.address === "x@d" ? reply(550, "5.1.1", "no") : null) },
  });
  await h.send(
    "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@d>\r\nRCPT TO:<y@d>\r\nDATA\r\nhi\r\n.\r\nBOGUS\r\nQUIT\r\n",
  );
  assert.deepEqual(Object.fromEntries(h.engine.stats), {
    ehlo: { ok: 1, total: 1 },
    mail: { ok: 1, total: 1 },
    rcpt: { ok: 1, total: 2 },
    data: { ok: 1, total: 1 },
    unknown: { ok: 0, total: 1 },
    quit: { ok: 1, total: 1 },
  });
});

test("a throwing event listener never makes feed() throw", async () => {
  const { SmtpServerEngine } = await import("../../lib/smtp/server-engine.js");
  const { INFO, options } = await import("./harness.js");
  const engine = new SmtpServerEngine(
    INFO,
    options({ hardErrorLimit: 0 }), // NOOPs beyond smtpd_junk_command_limit count as errors
    {
      openMessage: async () => {
        throw new Error("x");
      },
    },
    () => {
      throw new Error("listener bug");
    },
  );
  engine.start();
  assert.doesNotThrow(() => engine.feed(Buffer.from("NOOP\r\n".repeat(50_000))));
  await engine.idle();
  assert.equal(engine.stats.get("noop")?.total, 50_000);
});
