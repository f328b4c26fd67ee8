import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { DotStuffer } from "../../lib/pop3/dot-stuff.js";
import { Pop3MailEngine } from "../../lib/pop3/mail-engine.js";
import { MemoryStore, toCrlf } from "../../lib/pop3/memory-store.js";
import { capture, feed, MESSAGES, mail } from "./harness.js";

const SIZES: number[] & { 0: number; 1: number; 2: number } = MESSAGES.map((m) => toCrlf(m).length) as never;
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

/** [name, input, expected output after "+OK Logged in.\r\n"] */
const TRANSCRIPTS: ReadonlyArray<[string, string, string]> = [
  ["STAT counts messages and CRLF octets", "STAT\r\n", `+OK 3 ${TOTAL}\r\n`],
  [
    "LIST lists every message",
    "LIST\r\n",
    `+OK 3 messages:\r\n1 ${SIZES[0]}\r\n2 ${SIZES[1]}\r\n3 ${SIZES[2]}\r\n.\r\n`,
  ],
  ["LIST n gives one size", "LIST 2\r\n", `+OK 2 ${SIZES[1]}\r\n`],
  [
    "LIST of a missing message fails",
    "LIST 4\r\nLIST 0\r\nLIST x\r\n",
    "-ERR There's no message 4.\r\n-ERR There's no message 0.\r\n-ERR Invalid message number: x\r\n",
  ],
  ["UIDL lists unique ids", "UIDL\r\nUIDL 3\r\n", "+OK\r\n1 uid1\r\n2 uid2\r\n3 uid3\r\n.\r\n+OK 3 uid3\r\n"],
  [
    "RETR dot-stuffs and terminates",
    "RETR 1\r\n",
    `+OK ${SIZES[0]} octets\r\nFrom: a@example.org\r\nSubject: one\r\n\r\nHello\r\n..leading dot\r\n...two dots\r\nlast\r\n.\r\n`,
  ],
  [
    "RETR adds a CRLF before the dot when the message lacks one",
    "RETR 3\r\n",
    `+OK ${SIZES[2]} octets\r\nSubject: three\r\n\r\nno final newline\r\n.\r\n`,
  ],
  [
    "TOP gives the header and n body lines",
    "TOP 2 1\r\nTOP 2 0\r\n",
    "+OK\r\nSubject: two\r\n\r\nline1\r\n.\r\n+OK\r\nSubject: two\r\n\r\n.\r\n",
  ],
  [
    "TOP needs two arguments",
    "TOP 1\r\nTOP 1 x\r\n",
    "-ERR Missing argument.\r\n-ERR Invalid number of lines.\r\n",
  ],
  [
    "DELE hides a message from STAT, LIST and RETR until RSET",
    "DELE 1\r\nDELE 1\r\nSTAT\r\nLIST\r\nRETR 1\r\nRSET\r\nSTAT\r\n",
    `+OK Marked to be deleted.\r\n-ERR Message is deleted.\r\n+OK 2 ${SIZES[1] + SIZES[2]}\r\n+OK 2 messages:\r\n2 ${SIZES[1]}\r\n3 ${SIZES[2]}\r\n.\r\n-ERR Message is deleted.\r\n+OK\r\n+OK 3 ${TOTAL}\r\n`,
  ],
  ["NOOP answers +OK and takes no argument", "NOOP\r\nNOOP x\r\n", "+OK\r\n-ERR Too many arguments.\r\n"],
  ["commands are case-insensitive and bare LF ends a line", "stat\nnoop\r\n", `+OK 3 ${TOTAL}\r\n+OK\r\n`],
  [
    "CAPA in TRANSACTION omits USER, SASL and STLS",
    "CAPA\r\n",
    "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nIMPLEMENTATION postern\r\n.\r\n",
  ],
  [
    "login commands are unknown after login",
    "USER x\r\nPASS y\r\nAPOP a b\r\nAUTH PLAIN\r\nSTLS\r\n",
    "-ERR Unknown command.\r\n".repeat(4) + "-ERR Too many bad commands.\r\n",
  ],
  ["QUIT without deletions logs out", "QUIT\r\nSTAT\r\n", "+OK Logging out.\r\n"],
];

describe("Pop3MailEngine transcripts", () => {
  for (const [name, input, expected] of TRANSCRIPTS) {
    for (const byteByByte of [false, true]) {
      test(`${name} (${byteByByte ? "byte by byte" : "pipelined whole"})`, async () => {
        const r = await mail(input, byteByByte, { chunkSize: 7 });
        assert.equal(r.text, `+OK Logged in.\r\n${expected}`);
      });
    }
  }
});

describe("Pop3MailEngine deletions", () => {
  test("QUIT commits the marked deletions and closes the store", async () => {
    const r = await mail("DELE 2\r\nDELE 3\r\nQUIT\r\n");
    assert.deepEqual(r.store.deletedUidls, ["uid2", "uid3"]);
    assert.match(r.text, /\+OK Logging out, messages deleted\.\r\n$/);
    assert.equal(r.ended, true);
    assert.equal(r.store.closed, 1);
  });
  test("a dropped connection deletes nothing", async () => {
    const r = await mail("DELE 1\r\nDELE 2\r\n");
    await r.engine.disconnected();
    assert.deepEqual(r.store.deletedUidls, []);
    assert.equal(r.store.closed, 1);
    assert.deepEqual(r.events.at(-1), { type: "closed", reason: "disconnected", deleted: 0, retrieved: 0 });
  });
  test("a failing commit answers [SYS/TEMP]", async () => {
    const r = await mail("DELE 1\r\nQUIT\r\n", false, { failOn: "commit" });
    assert.match(r.text, /-ERR \[SYS\/TEMP\] Some deleted messages were not removed\.\r\n$/);
  });
});

describe("Pop3MailEngine errors and limits", () => {
  test("a locked mailbox answers [IN-USE] and closes", async () => {
    const { out, cap } = capture();
    const engine = new Pop3MailEngine(async () => Promise.reject({ kind: "in-use" }), { user: "tim" }, out);
    await engine.start(Buffer.from("STAT\r\n"));
    assert.equal(cap.text(), "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n");
    assert.equal(cap.ended, true);
  });
  test("a failing list answers [SYS/TEMP]", async () => {
    const r = await mail("STAT\r\n", false, { failOn: "list" });
    assert.equal(r.text, "-ERR [SYS/TEMP] Couldn't open INBOX.\r\n");
  });
  test("a store error during RETR becomes an internal error without detail", async () => {
    const r = await mail("RETR 1\r\n", false, { failOn: "retrieve" });
    assert.match(
      r.text,
      /-ERR \[SYS\/TEMP\] Internal error occurred\. Refer to server log for more information\.\r\n$/,
    );
    assert.ok(!r.text.includes("retrieve failed"));
    assert.equal(r.ended, true);
  });
  test("too many bad commands end the session", async () => {
    const r = await mail("FOO\r\nBAR\r\nBAZ\r\nQUX\r\nQUUX\r\nSTAT\r\n");
    assert.match(r.text, /-ERR Too many bad commands\.\r\n$/);
    assert.equal(r.ended, true);
  });
  test("an overlong line ends the session", async () => {
    const r = await mail(`NOOP ${"x".repeat(5000)}\r\nSTAT\r\n`, true);
    assert.match(r.text, /-ERR Input line too long\.\r\n$/);
  });
  test("commands pipelined with the login are run after +OK Logged in.", async () => {
    const { out, cap } = capture();
    const engine = new Pop3MailEngine(async () => new MemoryStore(["a\n"]), { user: "tim" }, out);
    await engine.start(Buffer.from("STAT\r\nQUIT\r\n"));
    assert.equal(cap.text(), "+OK Logged in.\r\n+OK 1 3\r\n+OK Logging out.\r\n");
  });
  test("ten thousand pipelined commands run without recursion", async () => {
    const r = await mail("NOOP\r\n".repeat(10000));
    assert.equal(r.text.split("+OK\r\n").length - 1, 10000);
  });
  test("arbitrary input never throws and output is always whole replies", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.constantFrom("STAT", "LIST 1", "RETR 2", "DELE 1", "TOP 1 1", "UIDL", "RSET", "CAPA"),
            fc.string({ maxLength: 30 }),
          ),
          { maxLength: 12 },
        ),
        async (lines) => {
          const r = await mail(lines.map((l) => `${l}\r\n`).join(""));
          assert.ok(r.text.endsWith("\r\n"));
        },
      ),
      { seed: 1939, numRuns: 150 },
    );
  });
});

describe("DotStuffer", () => {
  test("stuffing is independent of how the input is split", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(".", "a", "\r\n", ".."), { maxLength: 30 }),
        fc.integer({ min: 1, max: 5 }),
        (parts, size) => {
          const body = Buffer.from(parts.join(""));
          const whole = new DotStuffer();
          const expected = Buffer.concat([whole.stuff(body), whole.finish()]);
          const split = new DotStuffer();
          const pieces: Buffer[] = [];
          for (let i = 0; i < body.length; i += size) pieces.push(split.stuff(body.subarray(i, i + size)));
          pieces.push(split.finish());
          assert.deepEqual(Buffer.concat(pieces), expected);
          const unstuffed = expected.toString().replace(/(^|\n)\./g, "$1");
          assert.ok(unstuffed.startsWith(body.toString()));
        },
      ),
      { seed: 1939, numRuns: 300 },
    );
  });
  test("an empty message is just the terminator", async () => {
    const { out, cap } = capture();
    const engine = new Pop3MailEngine(async () => new MemoryStore([""]), { user: "u" }, out);
    await engine.start();
    await feed(engine, "RETR 1\r\n", false);
    assert.equal(cap.text(), "+OK Logged in.\r\n+OK 0 octets\r\n.\r\n");
  });
});
