import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  parseEhlo,
  type ReaderEvent,
  ReplyReader,
  replyDsn,
  replyText,
} from "../../lib/smtp-client/reply.js";

function feedAll(text: string): ReaderEvent[] {
  return new ReplyReader().feed(Buffer.from(text, "latin1"));
}

function feedBytes(text: string): ReaderEvent[] {
  const r = new ReplyReader();
  return [...Buffer.from(text, "latin1")].flatMap((b) => r.feed(Buffer.from([b])));
}

const EHLO = "250-mx.example Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n";

describe("ReplyReader", () => {
  for (const [how, feed] of [
    ["all at once", feedAll],
    ["byte by byte", feedBytes],
  ] as const) {
    it(`assembles a multi-line EHLO reply fed ${how}`, () => {
      const events = feed(EHLO);
      assert.equal(events.length, 1);
      const e = events[0];
      assert.equal(e?.kind, "reply");
      if (e?.kind !== "reply") return;
      assert.deepEqual(
        [...parseEhlo(e.reply)],
        [
          ["PIPELINING", ""],
          ["SIZE", "10240000"],
          ["8BITMIME", ""],
        ],
      );
    });

    it(`splits the enhanced code off replies fed ${how}`, () => {
      const events = feed("550-5.1.1 no such\r\n550 5.1.1 user here\r\n250 2.0.0 Ok: queued as ABC\r\n");
      const replies = events.map((e) => (e.kind === "reply" ? e.reply : undefined));
      assert.deepEqual(replies[0], { code: 550, enhanced: "5.1.1", lines: ["no such", "user here"] });
      assert.equal(
        replyText(replies[1] ?? { code: 0, enhanced: "", lines: [] }),
        "250 2.0.0 Ok: queued as ABC",
      );
    });
  }

  it("accepts bare LF line endings", () => {
    assert.deepEqual(feedAll("220 hi\n"), [
      { kind: "reply", reply: { code: 220, enhanced: "", lines: ["hi"] } },
    ]);
  });

  it("reports a malformed line once and then ignores the connection", () => {
    const r = new ReplyReader();
    const events = r.feed(Buffer.from("hello there\r\n250 ok\r\n"));
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, "error");
    assert.deepEqual(r.feed(Buffer.from("250 ok\r\n")), []);
  });

  it("reports a code that changes inside a multi-line reply", () => {
    assert.equal(feedAll("250-a\r\n251 b\r\n")[0]?.kind, "error");
  });

  it("rejects an endless line without a newline", () => {
    assert.equal(feedAll(`250 ${"x".repeat(5000)}`)[0]?.kind, "error");
  });

  it("removes control characters from reply text", () => {
    const e = feedAll("550 bad\x1b[31m text\r\n")[0];
    assert.equal(e?.kind === "reply" ? e.reply.lines[0] : "", "bad [31m text");
  });

  it("never throws and yields at most one reply per line on arbitrary input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const lines = bytes.filter((b) => b === 0x0a).length;
        assert.ok(feedAll(Buffer.from(bytes).toString("latin1")).length <= lines);
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe("replyDsn", () => {
  const cases: [number, string, string][] = [
    [550, "5.7.1", "5.7.1"],
    [450, "", "4.0.0"],
    [250, "", "2.0.0"],
  ];
  for (const [code, enhanced, want] of cases)
    it(`gives ${want} for ${code} ${enhanced || "without an enhanced code"}`, () =>
      assert.equal(replyDsn({ code, enhanced, lines: ["x"] }), want));
});
