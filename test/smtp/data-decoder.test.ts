import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { type BareNewlinePolicy, DotDecoder } from "../../lib/smtp/data-decoder.js";
import { splitBytes } from "./harness.js";

interface Decoded {
  content: string;
  done: boolean;
  consumed: number;
  bareLf: number;
}

function decode(
  input: string,
  policy: BareNewlinePolicy,
  split: "whole" | "bytes" | number[] = "whole",
): Decoded {
  const decoder = new DotDecoder(policy);
  const out: Buffer[] = [];
  let consumed = 0;
  for (const piece of splitBytes(Buffer.from(input, "latin1"), split)) {
    const r = decoder.decode(piece);
    out.push(r.output);
    consumed += r.consumed;
    if (r.done)
      return {
        content: Buffer.concat(out).toString("latin1"),
        done: true,
        consumed,
        bareLf: decoder.bareLineFeeds,
      };
  }
  return {
    content: Buffer.concat(out).toString("latin1"),
    done: false,
    consumed,
    bareLf: decoder.bareLineFeeds,
  };
}

const END = "\r\n.\r\n";

const cases: {
  name: string;
  input: string;
  content: string;
  consumed?: number;
  policy?: BareNewlinePolicy;
}[] = [
  { name: "a simple message ends at CRLF.CRLF", input: `hello${END}`, content: "hello\r\n" },
  { name: "a lone dot as the very first line is an empty message", input: ".\r\n", content: "" },
  {
    name: "bytes after the terminator are not consumed",
    input: `a${END}QUIT\r\n`,
    content: "a\r\n",
    consumed: 6,
  },
  { name: "a stuffed dot at a line start is removed", input: `..x${END}`, content: ".x\r\n" },
  { name: "a line of two dots becomes one dot", input: `a\r\n..${END}`, content: "a\r\n.\r\n" },
  { name: "dots inside a line are kept", input: `x..y .${END}`, content: "x..y .\r\n" },
  { name: "LF.LF does not end the data", input: `a\n.\nb${END}`, content: "a\r\n.\r\nb\r\n" },
  { name: "CR.CR does not end the data", input: `a\r.\rb${END}`, content: "a\r.\rb\r\n" },
  { name: "LF.CRLF does not end the data", input: `a\n.\r\nb${END}`, content: "a\r\n.\r\nb\r\n" },
  { name: "CRLF.LF does not end the data", input: `a\r\n.\nb${END}`, content: "a\r\n.\r\nb\r\n" },
  {
    name: "CRLF.CR does not end the data and unstuffs the dot",
    input: `a\r\n.\rb${END}`,
    content: "a\r\n\rb\r\n",
  },
  { name: "CR.CRLF does not end the data", input: `a\r.\r\nb${END}`, content: "a\r.\r\nb\r\n" },
  { name: "a bare CR is data", input: `a\rb${END}`, content: "a\rb\r\n" },
  { name: "bare LF is written as CRLF under normalize", input: `a\nb${END}`, content: "a\r\nb\r\n" },
  { name: "bare LF is passed through under no", input: `a\nb${END}`, content: "a\nb\r\n", policy: "no" },
  {
    name: "LF.LF does not end the data under no",
    input: `a\n.\nb${END}`,
    content: "a\n.\nb\r\n",
    policy: "no",
  },
  { name: "CRLF.CRLF after a bare-LF lone dot still ends", input: `a\n.\r\n.\r\n`, content: "a\r\n.\r\n" },
  {
    name: "a smuggled MAIL FROM after a fake LF.LF terminator stays inside the message",
    input: `body\n.\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nforged${END}`,
    content: "body\r\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<v@y>\r\nDATA\r\nforged\r\n",
  },
];

for (const c of cases) {
  for (const split of ["whole", "bytes"] as const) {
    test(`${c.name} (${split})`, () => {
      const r = decode(c.input, c.policy ?? "normalize", split);
      assert.equal(r.done, true);
      assert.equal(r.content, c.content);
      assert.equal(r.consumed, c.consumed ?? c.input.length);
    });
  }
}

test("an unterminated message is not done and holds at most the pending dot and CR", () => {
  const r = decode("abc\r\n.\r", "normalize");
  assert.equal(r.done, false);
  assert.equal(r.content, "abc\r\n");
  assert.equal(r.consumed, 7);
});

test("bare line feeds are counted for the reject policy", () => {
  assert.equal(decode(`a\nb\n.\nc${END}`, "reject").bareLf, 3);
  assert.equal(decode(`a\r\nb${END}`, "reject").bareLf, 0);
});

test("a long line streams through in pieces without being held", () => {
  const decoder = new DotDecoder("normalize");
  const piece = Buffer.alloc(100_000, 0x61);
  for (let i = 0; i < 5; i++) assert.equal(decoder.decode(piece).output.length, 100_000);
});

const alphabet = fc.constantFrom("a", ".", "\r", "\n", "\r\n", ".\r\n", "\n.\n");
const noisy = fc.array(alphabet, { maxLength: 40 }).map((parts) => parts.join(""));

test("property: the data ends exactly at the first CRLF.CRLF (counting the DATA line's CRLF)", () => {
  fc.assert(
    fc.property(noisy, (input) => {
      const k = `\r\n${input}`.indexOf(END);
      const r = decode(input, "normalize");
      if (k < 0) assert.equal(r.done, false);
      else assert.deepEqual([r.done, r.consumed], [true, k + 3]);
    }),
    { seed: 42, numRuns: 400 },
  );
});

test("property: any split gives the same content and end as one piece", () => {
  fc.assert(
    fc.property(noisy, fc.array(fc.nat({ max: 60 }), { maxLength: 8 }), (input, cuts) => {
      assert.deepEqual(decode(input, "normalize", cuts), decode(input, "normalize"));
    }),
    { seed: 7, numRuns: 300 },
  );
});

test("property: dot-stuffed CRLF lines decode back to the original lines", () => {
  const line = fc.array(fc.constantFrom("a", ".", " ", "x"), { maxLength: 6 }).map((c) => c.join(""));
  fc.assert(
    fc.property(fc.array(line, { maxLength: 10 }), (lines) => {
      const content = lines.map((l) => `${l}\r\n`).join("");
      const stuffed = lines.map((l) => `${l.startsWith(".") ? "." : ""}${l}\r\n`).join("");
      const r = decode(`${stuffed}.\r\n`, "normalize");
      assert.deepEqual([r.done, r.content], [true, content]);
    }),
    { seed: 3, numRuns: 300 },
  );
});
