import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DataEncoder, DataStuffer, encodeData } from "../../lib/smtp-client/content.js";

const cases: [string, string, string][] = [
  ["converts LF line endings to CRLF", "a\nb\n", "a\r\nb\r\n"],
  ["doubles a dot at the start of a line", ".\n..x\n", "..\r\n...x\r\n"],
  ["doubles a dot at the very start of the content", ".hidden\n", "..hidden\r\n"],
  ["leaves dots inside a line alone", "a.b.\n", "a.b.\r\n"],
  ["keeps existing CRLF pairs", "a\r\n.b\r\n", "a\r\n..b\r\n"],
  ["ends unterminated content with CRLF", "last line", "last line\r\n"],
  ["leaves empty content empty", "", ""],
  ["keeps blank lines", "h: v\n\n\nbody\n", "h: v\r\n\r\n\r\nbody\r\n"],
];

/** The reference: what RFC 5321 4.5.2 says, written the obvious, non-streaming way. */
function reference(text: string): string {
  if (text === "") return "";
  const body = text.replace(/\r?\n/g, "\n");
  const lines = body.split("\n");
  if (body.endsWith("\n")) lines.pop();
  return lines.map((l) => `${l.startsWith(".") ? "." : ""}${l}\r\n`).join("");
}

function byteByByte(text: string): string {
  const s = new DataStuffer();
  const parts = [...Buffer.from(text, "latin1")].map((b) => s.push(Buffer.from([b])));
  return Buffer.concat([...parts, s.end()]).toString("latin1");
}

describe("DataStuffer", () => {
  for (const [name, input, want] of cases) {
    it(`${name}, all at once`, () =>
      assert.equal(encodeData(Buffer.from(input, "latin1")).toString("latin1"), want));
    it(`${name}, byte by byte`, () => assert.equal(byteByByte(input), want));
  }

  it("matches the line-by-line reference on arbitrary content split anywhere", () => {
    const text = fc.stringMatching(/^[a.\n\r ]{0,60}$/).filter((t) => !/\r(?!\n)/.test(t));
    fc.assert(
      fc.property(text, fc.array(fc.nat(60), { maxLength: 5 }), (t, cuts) => {
        const s = new DataStuffer();
        const points = [...new Set(cuts.filter((c) => c < t.length))].sort((a, b) => a - b);
        const pieces: Buffer[] = [];
        let from = 0;
        for (const p of [...points, t.length]) {
          pieces.push(s.push(Buffer.from(t.slice(from, p), "latin1")));
          from = p;
        }
        pieces.push(s.end());
        assert.equal(Buffer.concat(pieces).toString("latin1"), reference(t));
      }),
      { seed: 4242, numRuns: 300 },
    );
  });
});

describe("DataEncoder", () => {
  it("streams a large message chunk by chunk and counts the bytes it wrote", async () => {
    const line = `${".".repeat(10)}${"x".repeat(90)}\n`;
    const chunks = Array.from({ length: 200 }, () => line.repeat(50));
    const enc = new DataEncoder();
    let out = 0;
    let lines = 0;
    for await (const chunk of Readable.from(chunks).pipe(enc)) {
      const b = chunk as Buffer;
      out += b.length;
      for (const byte of b) if (byte === 0x0a) lines++;
    }
    assert.equal(lines, 10_000);
    assert.equal(out, 10_000 * (line.length + 2));
    assert.equal(enc.size, out);
  });
});
