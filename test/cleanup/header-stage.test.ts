import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { HeaderStage, isHeaderStart } from "../../lib/cleanup/index.js";

interface Split {
  headers: string[];
  body: string;
  endCalls: number;
}

function run(chunks: Buffer[], limit = 1000): Split {
  const out: Split = { headers: [], body: "", endCalls: 0 };
  const bodyParts: Buffer[] = [];
  const stage = new HeaderStage(limit, {
    header: (raw) => {
      assert.equal(out.endCalls, 0, "header after end of headers");
      out.headers.push(raw.toString("latin1"));
    },
    endOfHeaders: () => {
      out.endCalls += 1;
    },
    body: (bytes) => {
      assert.equal(out.endCalls, 1, "body before end of headers");
      bodyParts.push(Buffer.from(bytes));
    },
  });
  for (const chunk of chunks) stage.push(chunk);
  stage.end();
  out.body = Buffer.concat(bodyParts).toString("latin1");
  return out;
}

function both(input: string, limit?: number): Split {
  const bytes = Buffer.from(input, "latin1");
  const whole = run([bytes], limit);
  const bytewise = run(
    [...bytes].map((b) => Buffer.from([b])),
    limit,
  );
  assert.deepEqual(bytewise, whole, "byte-by-byte result differs from all-at-once");
  assert.equal(whole.endCalls, 1);
  return whole;
}

const cases: [string, string, string[], string, number?][] = [
  ["headers and body", "A: 1\nB: 2\n\nbody\n", ["A: 1", "B: 2"], "\nbody\n"],
  ["folded header", "Subject: one\n two\n\tthree\nX: y\n\nb", ["Subject: one\n two\n\tthree", "X: y"], "\nb"],
  ["no body, no empty line", "A: 1\nB: 2\n", ["A: 1", "B: 2"], ""],
  ["no final newline", "A: 1\nB: 2", ["A: 1", "B: 2"], ""],
  ["empty message", "", [], ""],
  ["only an empty line", "\n", [], "\n"],
  [
    "garbage line starts the body after an inserted blank",
    "A: 1\nnot a header\nmore\n",
    ["A: 1"],
    "\nnot a header\nmore\n",
  ],
  ["leading continuation is garbage", " x\nA: 1\n", [], "\n x\nA: 1\n"],
  ["obsolete space before colon", "Subject : hi\n\n", ["Subject : hi"], "\n"],
  ["garbage at end without newline", "A: 1\nxyz", ["A: 1"], "\nxyz"],
  ["long header is truncated at the limit", `A: ${"x".repeat(30)}\n\nb`, [`A: ${"x".repeat(17)}`], "\nb", 20],
  [
    "folded header is truncated across lines",
    "A: 123456\n 7890123456\n 789\n\nb",
    ["A: 123456\n 789012345"],
    "\nb",
    20,
  ],
  [
    "headers past the limit start the body",
    "A: 1234567\nB: 1234567\nC: 3\n\nb",
    ["A: 1234567", "B: 1234567"],
    "\nC: 3\n\nb",
    20,
  ],
  [
    "an over-long non-header line is body, kept whole",
    `${"y".repeat(30)}\nA: 1\n`,
    [],
    `\n${"y".repeat(30)}\nA: 1\n`,
    10,
  ],
];

for (const [name, input, headers, body, limit] of cases) {
  test(`HeaderStage: ${name}`, () => {
    const result = both(input, limit);
    assert.deepEqual(result.headers, headers);
    assert.equal(result.body, body);
  });
}

test("isHeaderStart accepts field names and rejects everything else", () => {
  const table: [string, boolean][] = [
    ["Subject: x", true],
    ["X-Y:", true],
    ["Subject \t: x", true],
    [": x", false],
    ["From x@y Sat Jan  1", false],
    [" folded: x", false],
    ["Sub ject: x", false],
    ["", false],
  ];
  for (const [line, expected] of table) assert.equal(isHeaderStart(Buffer.from(line)), expected, line);
});

test("HeaderStage gives the same result however the input is split", () => {
  const text = fc.stringMatching(/^[A-Za-z: \t\n-]{0,80}$/);
  fc.assert(
    fc.property(
      text,
      fc.integer({ min: 1, max: 40 }),
      fc.array(fc.nat(80), { maxLength: 6 }),
      (s, limit, cuts) => {
        const bytes = Buffer.from(s, "latin1");
        const points = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let start = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(start, p));
          start = p;
        }
        chunks.push(bytes.subarray(start));
        assert.deepEqual(run(chunks, limit), run([bytes], limit));
      },
    ),
    { seed: 99, numRuns: 400 },
  );
});

test("HeaderStage passes the body after the empty line through byte for byte", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (body) => {
      const input = Buffer.concat([Buffer.from("A: 1\n\n"), Buffer.from(body)]);
      const result = run([input]);
      assert.equal(result.body, `\n${Buffer.from(body).toString("latin1")}`);
    }),
    { seed: 3, numRuns: 200 },
  );
});
