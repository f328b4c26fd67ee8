/*
 * fuzz-imap — hostile input against the IMAP protocol layer at the unit level: the framer
 * (lib/imap/framer.ts), the command parser (lib/imap/parser) and the serializer
 * (lib/imap/serializer). There is no IMAP daemon yet, so "every malformed command gets BAD"
 * is checked at the parser: it returns data, never throws. The framer must keep memory
 * bounded by its limits whatever the client sends (oversize lines and literals, literal
 * floods) and frame the same events in any chunking. The serializer must never let a
 * client-supplied string put a CR, LF or NUL on the wire outside a counted literal.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type FrameEvent, type FramerLimits, ImapFramer } from "../../lib/imap/framer.js";
import { checkMailboxName } from "../../lib/imap/mailbox-name.js";
import { parseCommand } from "../../lib/imap/parser/index.js";
import { encodeResponse, type ImapResponse } from "../../lib/imap/serializer/responses.js";
import type { ImapValue } from "../../lib/imap/serializer/values.js";
import { budget, bytewise, chunked, cutPoints, hostileText } from "./fuzz-budget.js";
import { assertWellFramed } from "./imap-wire.js";

const LIMITS: FramerLimits = { maxLineLength: 256, maxLiteralSize: 1024, maxLiterals: 3 };

/** Frames all pieces; checks memory stays within the limits after every piece. */
function frame(pieces: Buffer[]): FrameEvent[] {
  const framer = new ImapFramer(LIMITS);
  const events: FrameEvent[] = [];
  const bound = LIMITS.maxLineLength + LIMITS.maxLiterals * LIMITS.maxLiteralSize + 64;
  for (const piece of pieces) {
    framer.push(piece);
    for (let e = framer.next(); e.kind !== "none"; e = framer.next()) events.push(e);
    assert.ok(framer.buffered <= bound, `framer holds ${framer.buffered} bytes, bound ${bound}`);
  }
  return events;
}

const tag = fc.constantFrom("a1", "A.2", "*", "+", "", "t{3}", "x\0");
const verb = fc.constantFrom(
  "LOGIN",
  "AUTHENTICATE PLAIN",
  "SELECT",
  "EXAMINE",
  "CREATE",
  "DELETE",
  "RENAME",
  "LIST",
  "LSUB",
  "STATUS",
  "APPEND",
  "FETCH",
  "UID FETCH",
  "STORE",
  "UID STORE",
  "COPY",
  "MOVE",
  "SEARCH",
  "UID SEARCH",
  "EXPUNGE",
  "UID EXPUNGE",
  "ENABLE",
  "ID",
  "IDLE",
  "NOOP",
  "CAPABILITY",
  "LOGOUT",
  "UID",
  "XYZZY",
);
const argument = fc.oneof(
  hostileText(6),
  fc.constantFrom(
    "1:*",
    "*",
    "1,2:4",
    "0",
    "4294967296",
    "(FLAGS BODY[HEADER.FIELDS (FROM)]<0.10>)",
    "BODY.PEEK[1.2.MIME]",
    "(\\Seen \\Deleted)",
    '"INBOX"',
    '""',
    "NIL",
    "(UIDNEXT MESSAGES)",
    "CHARSET UTF-8 TEXT x",
    "OR (NOT SEEN) UID 1:5",
    '"a\\"b"',
    "{3}\r\nabc",
    "{2+}\r\nab",
    "~{2}\r\n\0\0",
    "{5}\r\n",
    "{1024}",
    "(((((((((((((((",
    "INBOX/../../etc",
    "&Jjo-",
    "&-",
  ),
);
const command = fc
  .tuple(tag, verb, fc.array(argument, { maxLength: 5 }))
  .map(([t, v, args]) => [t, v, ...args].join(" "));
const commands = fc
  .array(command, { minLength: 1, maxLength: 10 })
  .map((c) => Buffer.from(`${c.join("\r\n")}\r\n`, "utf8"));

test("framing hostile commands is the same at once, chunked and byte by byte, within memory limits", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        commands,
        fc.uint8Array({ maxLength: 4000 }).map((b) => Buffer.from(b)),
      ),
      cutPoints,
      (input, cuts) => {
        const whole = frame([input]);
        assert.deepEqual(frame(chunked(input, cuts)), whole);
        if (input.length < 800) assert.deepEqual(frame(bytewise(input)), whole);
        for (const e of whole)
          if (e.kind === "error") {
            assert.ok(e.status === "BAD" || e.status === "NO");
            assert.doesNotMatch(e.text, /[\r\n\0]/);
          }
      },
    ),
    budget(200),
  );
});

test("the parser turns every hostile command into a command or a BAD text, never an exception", () => {
  fc.assert(
    fc.property(commands, (input) => {
      for (const e of frame([input])) {
        if (e.kind !== "command") continue;
        const result = parseCommand(e.command);
        if (!result.ok) {
          assert.doesNotMatch(result.text, /[\x00-\x1f\x7f]/, "a BAD text is one clean line");
          if (result.tag !== null) assert.match(result.tag, /^[\x21-\x7e]+$/);
        }
      }
    }),
    budget(400),
  );
});

test("a flood of oversize literals and lines is refused without holding them", () => {
  const flood = Buffer.concat([
    Buffer.from(`a1 APPEND INBOX {99999999}\r\n`),
    Buffer.from(`a2 APPEND INBOX {2000+}\r\n${"x".repeat(2000)}\r\n`),
    Buffer.from(`a3 LOGIN ${"y".repeat(100_000)}\r\n`),
    Buffer.from(`a4 X {1+}\r\na {1+}\r\nb {1+}\r\nc {1+}\r\nd\r\n`),
    Buffer.from("a5 NOOP\r\n"),
  ]);
  const events = frame(chunked(flood, [10, 100, 5000, 50_000]));
  const summary = events.map((e) => (e.kind === "error" ? `${e.tag} ${e.status} ${e.reason}` : e.kind));
  assert.deepEqual(summary.slice(-1), ["command"], "the session resynchronises on the next command");
  assert.ok(
    summary.includes("a2 NO literal-too-big") || summary.includes("a2 BAD literal-too-big"),
    summary.join(", "),
  );
  assert.ok(
    summary.some((s) => s.startsWith("a3 BAD line-too-long")),
    summary.join(", "),
  );
  assert.ok(
    summary.some((s) => s.startsWith("a4 BAD too-many-literals")),
    summary.join(", "),
  );
});

test("hostile mailbox names never escape the mail directory", () => {
  fc.assert(
    fc.property(hostileText(10), (name) => {
      const r = checkMailboxName(name);
      if (r.ok) {
        for (const segment of name.split("/"))
          assert.ok(segment !== ".." && segment !== ".", `accepted ${JSON.stringify(name)}`);
        assert.ok(!name.startsWith("/") && !name.includes("\0"), `accepted ${JSON.stringify(name)}`);
      }
    }),
    budget(500),
  );
});

const clientString = fc.oneof(
  hostileText(10),
  fc.string({ maxLength: 1100 }),
  fc.uint8Array({ maxLength: 50 }).map((b) => Buffer.from(b)),
);
const value: fc.Arbitrary<ImapValue> = fc.oneof(
  clientString,
  clientString.map((s) => ({ astring: String(s) })),
  fc.constant(null),
  fc.nat(),
);

const responses: fc.Arbitrary<ImapResponse> = fc.oneof(
  fc.record({
    type: fc.constant("status" as const),
    tag: fc.constantFrom(null, "a1"),
    status: fc.constantFrom("OK" as const, "NO" as const, "BAD" as const, "BYE" as const),
    code: fc.constant(null),
    text: hostileText(10),
  }),
  fc.record({ type: fc.constant("continuation" as const), text: hostileText(10) }),
  fc.record({
    type: fc.constant("LIST" as const),
    attributes: fc.constant(["\\HasNoChildren"]),
    delimiter: fc.constantFrom(null, "/"),
    mailbox: hostileText(10),
  }),
  fc.record({
    type: fc.constant("STATUS" as const),
    mailbox: hostileText(10),
    items: fc.constant([["MESSAGES", 1] as const]),
  }),
  fc.record({
    type: fc.constant("FETCH" as const),
    seq: fc.nat(),
    items: fc.array(fc.tuple(fc.constantFrom("ENVELOPE", "BODY[]"), fc.array(value, { maxLength: 6 })), {
      maxLength: 3,
    }),
  }),
  fc.record({
    type: fc.constant("ID" as const),
    params: fc.array(fc.tuple(hostileText(4), fc.option(hostileText(6))), { maxLength: 4 }),
  }),
);

test("serialized responses carry client strings only quoted or as counted literals", () => {
  fc.assert(
    fc.property(responses, (response) => {
      const parts = encodeResponse(response);
      assert.ok(parts.every((p) => Buffer.isBuffer(p)));
      assertWellFramed(Buffer.concat(parts as Buffer[]));
    }),
    budget(500),
  );
});
