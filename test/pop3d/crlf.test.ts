/*
 * CRLF conversion and TOP cutting, fed all at once and byte by byte.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { toCrlf, topOf } from "../../lib/pop3d/crlf.js";

async function collect(src: AsyncIterable<Buffer>): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of src) out.push(c);
  return Buffer.concat(out).toString("latin1");
}

async function* chunks(text: string, byteByByte: boolean): AsyncGenerator<Buffer> {
  const b = Buffer.from(text, "latin1");
  if (!byteByByte) yield b;
  else for (const x of b) yield Buffer.from([x]);
}

const naive = (t: string) => t.replace(/\r?\n/g, "\r\n");

describe("toCrlf", () => {
  for (const byteByByte of [false, true])
    it(`adds CR only where missing (${byteByByte ? "byte by byte" : "all at once"})`, async () => {
      assert.equal(await collect(toCrlf(chunks("a\nb\r\n\n\r\nc", byteByByte))), "a\r\nb\r\n\r\n\r\nc");
    });
  it("agrees with a whole-string conversion for any input split (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[ab\r\n.]{0,40}$/), fc.boolean(), async (t, split) => {
        assert.equal(await collect(toCrlf(chunks(t, split))), naive(t));
      }),
      { seed: 7, numRuns: 150 },
    );
  });
});

describe("topOf", () => {
  const msg = "Subject: s\r\nX: y\r\n\r\nl1\r\nl2\r\nl3\r\n";
  const table: [number, string][] = [
    [0, "Subject: s\r\nX: y\r\n\r\n"],
    [2, "Subject: s\r\nX: y\r\n\r\nl1\r\nl2\r\n"],
    [10, msg],
  ];
  for (const [n, want] of table)
    for (const byteByByte of [false, true])
      it(`sends the header and ${n} body lines (${byteByByte ? "byte by byte" : "all at once"})`, async () => {
        assert.equal(await collect(topOf(chunks(msg, byteByByte), n)), want);
      });
  it("sends a message without a blank line whole", async () => {
    assert.equal(await collect(topOf(chunks("A: b\r\nC: d\r\n", false), 0)), "A: b\r\nC: d\r\n");
  });
});
