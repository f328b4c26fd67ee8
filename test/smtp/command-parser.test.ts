import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseCommand, parsePath } from "../../lib/smtp/command-parser.js";
import { formatReply } from "../../lib/smtp/reply.js";

const accepted: [string, unknown][] = [
  ["HELO client.example", { verb: "HELO", name: "client.example" }],
  ["ehlo client.example", { verb: "EHLO", name: "client.example" }],
  ["MAIL FROM:<a@b.example>", { verb: "MAIL", address: "a@b.example", params: {} }],
  ["mail from:<a@b.example>", { verb: "MAIL", address: "a@b.example", params: {} }],
  ["MAIL FROM: <a@b.example>", { verb: "MAIL", address: "a@b.example", params: {} }],
  ["MAIL FROM:<>", { verb: "MAIL", address: "", params: {} }],
  [
    "MAIL FROM:<a@b> SIZE=100 body=8bitmime SMTPUTF8",
    { verb: "MAIL", address: "a@b", params: { SIZE: "100", BODY: "8bitmime", SMTPUTF8: "" } },
  ],
  ['MAIL FROM:<"john doe"@b.example>', { verb: "MAIL", address: '"john doe"@b.example', params: {} }],
  ['MAIL FROM:<"a\\"> b"@c>', { verb: "MAIL", address: '"a\\"> b"@c', params: {} }],
  ["RCPT TO:<postmaster>", { verb: "RCPT", address: "postmaster", params: {} }],
  [
    "RCPT TO:<@relay1.example,@relay2.example:user@d.example>",
    { verb: "RCPT", address: "user@d.example", params: {} },
  ],
  [
    "RCPT TO:<u@d> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@d",
    { verb: "RCPT", address: "u@d", params: { NOTIFY: "SUCCESS,FAILURE", ORCPT: "rfc822;u@d" } },
  ],
  ["DATA", { verb: "DATA" }],
  ["RSET", { verb: "RSET" }],
  ["NOOP whatever", { verb: "NOOP" }],
  ["QUIT", { verb: "QUIT" }],
  ["STARTTLS", { verb: "STARTTLS" }],
  ["HELP me", { verb: "HELP" }],
  ["VRFY <u@d>", { verb: "VRFY", arg: "<u@d>" }],
  ["BDAT 100", { verb: "BDAT", size: 100, last: false }],
  ["BDAT 0 LAST", { verb: "BDAT", size: 0, last: true }],
  ["bdat 5 last", { verb: "BDAT", size: 5, last: true }],
  ["AUTH plain AGZvbwBiYXI=", { verb: "AUTH", mechanism: "PLAIN", initialResponse: "AGZvbwBiYXI=" }],
  [" HELO  client.example", { verb: "HELO", name: "client.example" }],
  ["AUTH LOGIN", { verb: "AUTH", mechanism: "LOGIN", initialResponse: null }],
  ["EXPN staff", { verb: "UNKNOWN", word: "EXPN" }],
  ["ETRN example.org", { verb: "UNKNOWN", word: "ETRN" }],
];

for (const [line, command] of accepted) {
  test(`parseCommand accepts ${JSON.stringify(line)}`, () => {
    assert.deepEqual(parseCommand(line), { ok: true, command });
  });
}

const refused: [string, string, { fatal?: boolean; skipBytes?: number }?][] = [
  ["", "500 5.5.2 Error: bad syntax"],
  ["HELO", "501 5.5.4 Syntax: HELO hostname"],
  ["EHLO   ", "501 5.5.4 Syntax: EHLO hostname"],
  ["MAIL", "501 5.5.4 Syntax: MAIL FROM:<address>"],
  ["MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"],
  ["MAIL FROM:a@b", "501 5.5.4 Syntax: MAIL FROM:<address>"],
  ["MAIL FROM:<a@b", "501 5.5.4 Syntax: MAIL FROM:<address>"],
  ["MAIL FROM:<a@b>SIZE=1", "501 5.5.4 Syntax: MAIL FROM:<address>"],
  ["MAIL FROM:<a b@c>", "501 5.1.7 Bad sender address syntax"],
  ["MAIL FROM:<a<b@c>", "501 5.1.7 Bad sender address syntax"],
  [`MAIL FROM:<${"a".repeat(250)}@b.example>`, "501 5.1.7 Bad sender address syntax"],
  ["MAIL FROM:<a@b> SIZE=", "501 5.5.4 Bad MAIL parameter syntax"],
  ["MAIL FROM:<a@b> SIZE=1 SIZE=2", "501 5.5.4 Error: duplicate SIZE parameter"],
  ["RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"],
  ["RCPT TO:<@a,@b>", "501 5.1.3 Bad recipient address syntax"],
  ["RCPT FROM:<a@b>", "501 5.5.4 Syntax: RCPT TO:<address>"],
  ["DATA now", "501 5.5.4 Syntax: DATA"],
  ["RSET x", "501 5.5.4 Syntax: RSET"],
  ["STARTTLS x", "501 5.5.4 Syntax: STARTTLS"],
  ["VRFY", "501 5.5.4 Syntax: VRFY address"],
  ["AUTH", "501 5.5.4 Syntax: AUTH mechanism"],
  ["BDAT", "521 5.5.4 Syntax: BDAT count [LAST]", { fatal: true }],
  ["BDAT x", "521 5.5.4 Syntax: BDAT count [LAST]", { fatal: true }],
  ["BDAT 12 FIRST", "501 5.5.4 Syntax: BDAT count [LAST]", { skipBytes: 12 }],
  ["GET / HTTP/1.1", "521 5.7.0 Error: I can break rules, too. Goodbye.", { fatal: true }],
  ["POST /x HTTP/1.0", "521 5.7.0 Error: I can break rules, too. Goodbye.", { fatal: true }],
  ["1234 x", "521 5.7.0 Error: I can break rules, too. Goodbye.", { fatal: true }],
];

for (const [line, expected, extra] of refused) {
  test(`parseCommand refuses ${JSON.stringify(line.slice(0, 40))} with ${expected.slice(0, 9)}`, () => {
    const r = parseCommand(line);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(formatReply(r.reply), `${expected}\r\n`);
    assert.equal(r.fatal, extra?.fatal);
    assert.equal(r.skipBytes, extra?.skipBytes);
  });
}

test("parsePath accepts a path of exactly 256 octets and refuses 257", () => {
  const local = "a".repeat(256 - 2 - "@b.example".length);
  assert.equal(parsePath(`<${local}@b.example>`, false).kind, "ok");
  assert.equal(parsePath(`<${local}x@b.example>`, false).kind, "bad");
});

test("property: parseCommand never throws and refusals render as CRLF-terminated replies", () => {
  const text = fc.string({
    unit: fc.constantFrom(
      "M",
      "A",
      "I",
      "L",
      " ",
      ":",
      "<",
      ">",
      "@",
      '"',
      "\\",
      "=",
      "F",
      "R",
      "O",
      "\t",
      "x",
      "é",
    ),
  });
  fc.assert(
    fc.property(
      fc.constantFrom("MAIL FROM:", "RCPT TO:", "BDAT ", "HELO ", "AUTH ", ""),
      text,
      (prefix, rest) => {
        const r = parseCommand(prefix + rest);
        if (!r.ok) assert.match(formatReply(r.reply), /^[2-5][0-9]{2} [^\r\n]*\r\n$/);
      },
    ),
    { seed: 11, numRuns: 500 },
  );
});
