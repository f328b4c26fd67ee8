import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type FrameEvent, ImapFramer, tagOf } from "../../lib/imap/framer.js";
import { frameAll, frameByteByByte } from "./frame-helper.js";

const LIMITS = { maxLineLength: 64, maxLiteralSize: 10, maxLiterals: 2 };

function summary(events: FrameEvent[]): unknown[] {
  return events.map((e) => {
    if (e.kind !== "command") return e;
    const literals = e.command.literals.map((l) => [l.bytes.toString("latin1"), l.nonSync, l.offset]);
    return { line: e.command.line.toString("latin1"), literals };
  });
}

const cases: [string, string, unknown[]][] = [
  ["a plain line", "a1 NOOP\r\n", [{ line: "a1 NOOP", literals: [] }]],
  ["a line ending in a bare LF", "a1 NOOP\n", [{ line: "a1 NOOP", literals: [] }]],
  [
    "two pipelined lines",
    "a NOOP\r\nb CHECK\r\n",
    [
      { line: "a NOOP", literals: [] },
      { line: "b CHECK", literals: [] },
    ],
  ],
  [
    "a synchronizing literal after a continuation event",
    "a LOGIN {3}\r\nbob pw\r\n",
    [
      { kind: "continue", tag: "a", size: 3 },
      { line: "a LOGIN {3} pw", literals: [["bob", false, 11]] },
    ],
  ],
  [
    "a non-synchronizing literal without a continuation",
    "a LOGIN {3+}\r\nbob {2+}\r\npw\r\n",
    [
      {
        line: "a LOGIN {3+} {2+}",
        literals: [
          ["bob", true, 12],
          ["pw", true, 17],
        ],
      },
    ],
  ],
  [
    "a zero-length literal",
    "a LOGIN {0+}\r\n x\r\n",
    [{ line: "a LOGIN {0+} x", literals: [["", true, 12]] }],
  ],
  [
    "a binary literal with CR LF and NUL inside",
    "a X {4+}\r\n\r\n\0}\r\n",
    [{ line: "a X {4+}", literals: [["\r\n\0}", true, 8]] }],
  ],
  [
    "an over-long line then a good one",
    `a ${"x".repeat(100)}\r\nb NOOP\r\n`,
    [
      {
        kind: "error",
        tag: "a",
        reason: "line-too-long",
        status: "BAD",
        code: null,
        text: "Command line too long.",
      },
      { line: "b NOOP", literals: [] },
    ],
  ],
  [
    "an over-long line ending in a non-synchronizing literal, skipped with it",
    `a ${"x".repeat(100)} {5+}\r\nb NOP\r\nc NOOP\r\n`,
    [
      {
        kind: "error",
        tag: "a",
        reason: "line-too-long",
        status: "BAD",
        code: null,
        text: "Command line too long.",
      },
      { line: "c NOOP", literals: [] },
    ],
  ],
  [
    "a synchronizing literal over the size limit, refused at once",
    "a APPEND x {11}\r\nb NOOP\r\n",
    [
      {
        kind: "error",
        tag: "a",
        reason: "literal-too-big",
        status: "NO",
        code: "TOOBIG",
        text: "Literal size exceeds the maximum.",
      },
      { line: "b NOOP", literals: [] },
    ],
  ],
  [
    "a non-synchronizing literal over the size limit, skipped with the rest of its command",
    "a APPEND x {11+}\r\n0123456789A {1+}\r\nz\r\nb NOOP\r\n",
    [
      {
        kind: "error",
        tag: "a",
        reason: "literal-too-big",
        status: "NO",
        code: "TOOBIG",
        text: "Literal size exceeds the maximum.",
      },
      { line: "b NOOP", literals: [] },
    ],
  ],
  [
    "too many literals in one command",
    "a X {1+}\r\n1 {1+}\r\n2 {1}\r\nb NOOP\r\n",
    [
      {
        kind: "error",
        tag: "a",
        reason: "too-many-literals",
        status: "BAD",
        code: null,
        text: "Too many literals in one command.",
      },
      { line: "b NOOP", literals: [] },
    ],
  ],
];

for (const [name, input, expected] of cases) {
  test(`the framer handles ${name}, at once and byte by byte`, () => {
    const bytes = Buffer.from(input, "latin1");
    assert.deepEqual(summary(frameAll(bytes, LIMITS)), expected);
    assert.deepEqual(summary(frameByteByByte(bytes, LIMITS)), expected);
  });
}

test("abortCommand drops a command whose synchronizing literal the engine refused", () => {
  const framer = new ImapFramer(LIMITS);
  framer.push(Buffer.from("a APPEND x {3}\r\n"));
  assert.equal(framer.next().kind, "continue");
  framer.abortCommand();
  framer.push(Buffer.from("b NOOP\r\n"));
  assert.deepEqual(summary([framer.next()]), [{ line: "b NOOP", literals: [] }]);
});

test("an endless line without LF is discarded as it arrives, memory stays bounded", () => {
  const framer = new ImapFramer(LIMITS);
  for (let i = 0; i < 1000; i++) {
    framer.push(Buffer.alloc(1000, 0x41));
    assert.equal(framer.next().kind, "none");
    assert.ok(framer.buffered < 200);
  }
});

test("tagOf accepts a valid tag and refuses a missing or malformed one", () => {
  assert.equal(tagOf(Buffer.from("a1 NOOP")), "a1");
  assert.equal(tagOf(Buffer.from("NOOP")), null);
  assert.equal(tagOf(Buffer.from("a+b NOOP")), null);
  assert.equal(tagOf(Buffer.from("a*b NOOP")), null);
});

test("framing any bytes never throws and is the same at once and in random pieces", () => {
  const piece = fc.constantFrom("a ", "{2}", "{1+}", "{99999}", "\r\n", "\n", "x", "\0", "}", "~{1}");
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(40), { maxLength: 6 }), (parts, cuts) => {
      const bytes = Buffer.from(parts.join(""), "latin1");
      const whole = summary(frameAll(bytes, LIMITS));
      const framer = new ImapFramer(LIMITS);
      const events: FrameEvent[] = [];
      let at = 0;
      for (const cut of [...cuts.sort((x, y) => x - y), bytes.length]) {
        framer.push(bytes.subarray(at, Math.max(at, cut)));
        at = Math.max(at, cut);
        for (let e = framer.next(); e.kind !== "none"; e = framer.next()) events.push(e);
      }
      framer.push(bytes.subarray(at));
      for (let e = framer.next(); e.kind !== "none"; e = framer.next()) events.push(e);
      assert.deepEqual(summary(events), whole);
    }),
    { seed: 7, numRuns: 300 },
  );
});
