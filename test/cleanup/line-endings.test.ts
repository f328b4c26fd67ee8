import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { CrlfToLf } from "../../lib/cleanup/index.js";

function convert(chunks: Buffer[]): Buffer {
  const conv = new CrlfToLf();
  return Buffer.concat([...chunks.map((c) => conv.push(c)), conv.end()]);
}

function bytewise(input: Buffer): Buffer[] {
  return [...input].map((b) => Buffer.from([b]));
}

const cases: [string, string, string][] = [
  ["CRLF becomes LF", "a\r\nb\r\n", "a\nb\n"],
  ["a lone CR stays", "a\rb\r", "a\rb\r"],
  ["CR CR LF keeps the first CR", "a\r\r\n", "a\r\n"],
  ["bare LF is untouched", "a\nb", "a\nb"],
  ["empty input", "", ""],
];

for (const [name, input, expected] of cases) {
  test(`CrlfToLf: ${name}, fed all at once and byte by byte`, () => {
    const bytes = Buffer.from(input, "latin1");
    assert.equal(convert([bytes]).toString("latin1"), expected);
    assert.equal(convert(bytewise(bytes)).toString("latin1"), expected);
  });
}

test("CrlfToLf output equals a whole-input replace for any bytes split anywhere", () => {
  const byte = fc.constantFrom(0x0d, 0x0a, 0x41, 0x00, 0xff);
  fc.assert(
    fc.property(fc.array(fc.array(byte, { maxLength: 12 }), { maxLength: 10 }), (parts) => {
      const chunks = parts.map((p) => Buffer.from(p));
      const whole = Buffer.concat(chunks).toString("latin1");
      assert.equal(convert(chunks).toString("latin1"), whole.replace(/\r\n/g, "\n"));
    }),
    { seed: 7, numRuns: 300 },
  );
});
