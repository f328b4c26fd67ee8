import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ImapFramer } from "../../../lib/imap/framer.js";
import { isIdleDone, parseCommand } from "../../../lib/imap/parser/index.js";
import { frameAll, frameByteByByte, parse, parsedBody } from "../frame-helper.js";

const all = [{ from: 1, to: "*" }];
const commands: [string, unknown][] = [
  ["a NOOP", { name: "NOOP" }],
  ["a capability", { name: "CAPABILITY" }],
  ["a LOGOUT", { name: "LOGOUT" }],
  ["a STARTTLS", { name: "STARTTLS" }],
  ["a IDLE", { name: "IDLE" }],
  ["a NAMESPACE", { name: "NAMESPACE" }],
  ["a UNSELECT", { name: "UNSELECT" }],
  ['a LOGIN bob "p\\"w\\\\d"', { name: "LOGIN", user: "bob", password: 'p"w\\d' }],
  ["a LOGIN {3+}\r\nbob {3+}\r\np w", { name: "LOGIN", user: "bob", password: "p w" }],
  ["a AUTHENTICATE plain", { name: "AUTHENTICATE", mechanism: "PLAIN", initialResponse: null }],
  [
    "a AUTHENTICATE PLAIN AGJvYgBwdw==",
    { name: "AUTHENTICATE", mechanism: "PLAIN", initialResponse: "AGJvYgBwdw==" },
  ],
  ["a AUTHENTICATE PLAIN =", { name: "AUTHENTICATE", mechanism: "PLAIN", initialResponse: "" }],
  ["a ID NIL", { name: "ID", params: null }],
  [
    'a ID ("name" "mutt" "version" NIL)',
    {
      name: "ID",
      params: [
        ["name", "mutt"],
        ["version", null],
      ],
    },
  ],
  ["a ENABLE CONDSTORE utf8=accept", { name: "ENABLE", capabilities: ["CONDSTORE", "UTF8=ACCEPT"] }],
  ["a SELECT inbox", { name: "SELECT", mailbox: "INBOX", condstore: false }],
  ['a EXAMINE "Sent Items" (CONDSTORE)', { name: "EXAMINE", mailbox: "Sent Items", condstore: true }],
  ["a CREATE foo/bar", { name: "CREATE", mailbox: "foo/bar" }],
  ["a DELETE foo", { name: "DELETE", mailbox: "foo" }],
  ["a SUBSCRIBE &AMk-t&AOk-", { name: "SUBSCRIBE", mailbox: "&AMk-t&AOk-" }],
  ["a UNSUBSCRIBE foo", { name: "UNSUBSCRIBE", mailbox: "foo" }],
  ["a GETQUOTAROOT INBOX", { name: "GETQUOTAROOT", mailbox: "INBOX" }],
  ["a RENAME old {3+}\r\nnew", { name: "RENAME", from: "old", to: "new" }],
  ['a LSUB "" *', { name: "LSUB", reference: "", pattern: "*" }],
  [
    'a LIST "" %',
    {
      name: "LIST",
      selection: [],
      reference: "",
      patterns: ["%"],
      returns: { subscribed: false, children: false, specialUse: false, status: null },
    },
  ],
  [
    'a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" foo/*) RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UIDNEXT))',
    {
      name: "LIST",
      selection: ["SUBSCRIBED", "RECURSIVEMATCH"],
      reference: "",
      patterns: ["INBOX", "foo/*"],
      returns: { subscribed: false, children: true, specialUse: true, status: ["MESSAGES", "UIDNEXT"] },
    },
  ],
  [
    "a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)",
    {
      name: "STATUS",
      mailbox: "INBOX",
      items: ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "HIGHESTMODSEQ", "SIZE"],
    },
  ],
  ["a CHECK", { name: "CHECK" }],
  ["a CLOSE", { name: "CLOSE" }],
  ["a EXPUNGE", { name: "EXPUNGE", uid: false, set: null }],
  ["a UID EXPUNGE 3:5", { name: "EXPUNGE", uid: true, set: [{ from: 3, to: 5 }] }],
  ["a COPY 1:* Trash", { name: "COPY", uid: false, set: all, mailbox: "Trash" }],
  [
    "a uid move 4,7 Junk",
    {
      name: "MOVE",
      uid: true,
      set: [
        { from: 4, to: 4 },
        { from: 7, to: 7 },
      ],
      mailbox: "Junk",
    },
  ],
  [
    "a STORE 1 FLAGS (\\seen $Junk)",
    {
      name: "STORE",
      uid: false,
      set: [{ from: 1, to: 1 }],
      unchangedSince: null,
      mode: "replace",
      silent: false,
      flags: ["\\Seen", "$Junk"],
    },
  ],
  [
    "a UID STORE 1:* (UNCHANGEDSINCE 12) -FLAGS.SILENT \\Deleted \\Answered",
    {
      name: "STORE",
      uid: true,
      set: all,
      unchangedSince: 12n,
      mode: "remove",
      silent: true,
      flags: ["\\Deleted", "\\Answered"],
    },
  ],
  [
    "a STORE 2 +flags ()",
    {
      name: "STORE",
      uid: false,
      set: [{ from: 2, to: 2 }],
      unchangedSince: null,
      mode: "add",
      silent: false,
      flags: [],
    },
  ],
  [
    'a APPEND Drafts (\\Draft) " 5-Mar-2024 09:07:05 +0130" {2+}\r\nhi',
    {
      name: "APPEND",
      mailbox: "Drafts",
      messages: [
        {
          flags: ["\\Draft"],
          date: { date: new Date("2024-03-05T07:37:05Z"), zoneMinutes: 90 },
          message: Buffer.from("hi"),
          binary: false,
        },
      ],
    },
  ],
  [
    "a APPEND INBOX {1+}\r\nx (\\Seen) ~{2+}\r\n\0y",
    {
      name: "APPEND",
      mailbox: "INBOX",
      messages: [
        { flags: [], date: null, message: Buffer.from("x"), binary: false },
        { flags: ["\\Seen"], date: null, message: Buffer.from("\0y"), binary: true },
      ],
    },
  ],
];

for (const [line, expected] of commands) {
  test(`parseCommand reads ${JSON.stringify(line.split("\r\n")[0]!.slice(0, 60))}`, () => {
    assert.deepEqual(parsedBody(line), expected);
  });
}

const errors: [string, string][] = [
  ["a", "Error in IMAP tag."],
  ["a+ NOOP", "Error in IMAP tag."],
  ["a FROB", "Unknown command."],
  ["a UID NOOP", "Unknown command."],
  ["a NOOP extra", "Error in IMAP command NOOP: Unexpected extra arguments."],
  ["a LOGIN bob", "Error in IMAP command LOGIN: Expected a space."],
  ['a LOGIN bob "unterminated', "Error in IMAP command LOGIN: Unterminated quoted string."],
  ['a LOGIN bob "bad\\escape"', "Error in IMAP command LOGIN: Invalid escape in quoted string."],
  ["a SELECT INBOX (QRESYNC)", "Error in IMAP command SELECT: Unknown SELECT parameter QRESYNC."],
  ["a FETCH 0 FLAGS", "Error in IMAP command FETCH: Expected a sequence number."],
  ["a FETCH 1:4294967296 FLAGS", "Error in IMAP command FETCH: a sequence number out of range."],
  ["a FETCH 1 (FLAGS", "Error in IMAP command FETCH: Expected ')'."],
  ["a FETCH 1 FROB", "Error in IMAP command FETCH: Unknown fetch attribute FROB."],
  ["a FETCH 1 BODY[1.MIME", "Error in IMAP command FETCH: Expected ']' closing the section."],
  ["a FETCH 1 BODY[MIME]", "Error in IMAP command FETCH: MIME needs a section part."],
  ["a FETCH 1 BODY[]<1.0>", "Error in IMAP command FETCH: Expected a partial length."],
  ["a FETCH 1 FLAGS (VANISHED)", "Error in IMAP command FETCH: Unknown fetch modifier."],
  ["a STORE 1 FLAGS (\\Recent)", "Error in IMAP command STORE: \\Recent flag may not be set."],
  ["a STORE 1 XFLAGS \\Seen", "Error in IMAP command STORE: Invalid STORE data item."],
  ["a STATUS INBOX (BOGUS)", "Error in IMAP command STATUS: Unknown status item BOGUS."],
  ["a STATUS INBOX ()", "Error in IMAP command STATUS: Empty list."],
  [
    'a LIST (RECURSIVEMATCH) "" *',
    "Error in IMAP command LIST: RECURSIVEMATCH needs another selection option.",
  ],
  [
    'a APPEND INBOX "01-Foo-1994 21:52:25 -0800" {1+}\r\nx',
    "Error in IMAP command APPEND: Invalid month in date.",
  ],
  [
    'a APPEND INBOX "01-Feb-1994 21:52 -0800" {1+}\r\nx',
    "Error in IMAP command APPEND: Expected ':' in time.",
  ],
  [
    'a APPEND INBOX "31-Feb-1994 21:52:25 -0800" {1+}\r\nx',
    "Error in IMAP command APPEND: Invalid day in date.",
  ],
  ["a APPEND INBOX hello", "Error in IMAP command APPEND: Expected a literal."],
  ["a APPEND INBOX {2+}\r\n\0x", "Error in IMAP command APPEND: NUL in a non-binary literal."],
  ["a LOGIN {3+}bob pw", "Error in IMAP command LOGIN: Literal size not at the end of a line."],
  ["a AUTHENTICATE PLAIN a*b", "Error in IMAP command AUTHENTICATE: Unexpected extra arguments."],
  ["a SEARCH", "Error in IMAP command SEARCH: Expected a space."],
  ["a ENABLE", "Error in IMAP command ENABLE: Expected a space."],
];

for (const [line, text] of errors) {
  test(`parseCommand answers BAD to ${JSON.stringify(line.split("\r\n")[0])}`, () => {
    assert.deepEqual(parsedBody(line), { bad: text });
  });
}

test("a BAD keeps the tag and the verb when they were readable", () => {
  assert.deepEqual(parse("x1 uid fetch"), {
    ok: false,
    tag: "x1",
    verb: "UID FETCH",
    text: "Error in IMAP command UID FETCH: Expected a space.",
  });
});

test("deeply nested search keys are refused, not recursed into without bound", () => {
  const line = `a SEARCH ${"NOT ".repeat(5000)}SEEN`;
  assert.deepEqual(parsedBody(line), { bad: "Error in IMAP command SEARCH: Search keys nested too deep." });
});

test("isIdleDone recognises DONE in any case and nothing else", () => {
  const line = (text: string) => ({ line: Buffer.from(text), literals: [] });
  assert.equal(isIdleDone(line("done")), true);
  assert.equal(isIdleDone(line("DONE ")), false);
  assert.equal(isIdleDone(line("a NOOP")), false);
});

test("pipelined commands parse the same fed byte by byte and all at once", () => {
  const input = Buffer.from(commands.map(([line]) => `${line}\r\n`).join(""), "utf8");
  const parseAll = (events: ReturnType<typeof frameAll>) =>
    events.flatMap((e) => (e.kind === "command" ? [parseCommand(e.command)] : []));
  const whole = parseAll(frameAll(input));
  assert.equal(whole.length, commands.length);
  assert.deepEqual(parseAll(frameByteByByte(input)), whole);
});

test("thousands of pipelined commands frame and parse without recursion", () => {
  const framer = new ImapFramer();
  framer.push(Buffer.from("a NOOP\r\n".repeat(20000)));
  let count = 0;
  for (let e = framer.next(); e.kind === "command"; e = framer.next())
    if (parseCommand(e.command).ok) count++;
  assert.equal(count, 20000);
});

test("parsing arbitrary bytes never throws", () => {
  const word = fc.constantFrom(
    "a ",
    "FETCH",
    "SEARCH",
    "UID",
    "STORE",
    "(",
    ")",
    "[",
    "]",
    "<1.2>",
    '"',
    "\\",
    " ",
    "1:*",
    "{1+}\r\nx",
    "NOT",
    "OR",
    "BODY[",
    "\0",
    "é",
  );
  fc.assert(
    fc.property(fc.array(fc.oneof(word, fc.string({ maxLength: 4 })), { maxLength: 25 }), (parts) => {
      for (const event of frameAll(Buffer.from(`${parts.join("")}\r\n`))) {
        if (event.kind === "command") parseCommand(event.command);
      }
    }),
    { seed: 11, numRuns: 500 },
  );
});
