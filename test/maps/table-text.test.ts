/*
 * Tests for lib/maps/table-text.ts: postmap and aliases source syntax, continuation lines,
 * comments, case folding, duplicate warnings and errors that name file and line.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MapError } from "../../lib/maps/map-error.js";
import { parseTableText } from "../../lib/maps/table-text.js";

function asObject(m: Map<string, { value: string; line: number }>): Record<string, [string, number]> {
  return Object.fromEntries([...m].map(([k, e]) => [k, [e.value, e.line]]));
}

describe("parseTableText in postmap format", () => {
  const cases: { name: string; text: string; want: Record<string, [string, number]> }[] = [
    { name: "reads key whitespace value", text: "a.example REJECT\n", want: { "a.example": ["REJECT", 1] } },
    {
      name: "keeps the rest of the line as the value",
      text: "x\t550 5.7.1 go  away\n",
      want: { x: ["550 5.7.1 go  away", 1] },
    },
    {
      name: "folds keys to lower case but keeps values",
      text: "User@Example.COM OK Fine\n",
      want: { "user@example.com": ["OK Fine", 1] },
    },
    {
      name: "skips comments, blank and whitespace-only lines",
      text: "# c\n\n   \n  # indented comment\nk v\n",
      want: { k: ["v", 5] },
    },
    {
      name: "joins continuation lines with one space",
      text: "k first\n   second\n\tthird\nj x\n",
      want: { k: ["first second third", 1], j: ["x", 4] },
    },
    { name: "accepts CRLF line ends", text: "a b\r\nc d\r\n", want: { a: ["b", 1], c: ["d", 2] } },
    { name: "accepts a last line without newline", text: "a b", want: { a: ["b", 1] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(asObject(parseTableText(c.text, "/t", "postmap")), c.want);
    });
  }

  it("keeps the first of duplicate keys and warns naming the line", () => {
    const warnings: string[] = [];
    const t = parseTableText("a 1\nA 2\n", "/etc/x", "postmap", (w) => warnings.push(w));
    assert.equal(t.get("a")?.value, "1");
    assert.deepEqual(warnings, ['/etc/x, line 2: duplicate entry: "a"']);
  });

  const errors: { name: string; text: string; message: string }[] = [
    {
      name: "a key without value",
      text: "ok 1\nlonely\n",
      message: "/etc/access, line 2: expected format: key whitespace value",
    },
    {
      name: "a continuation before any entry",
      text: "\n  value\n",
      message: "/etc/access, line 2: logical line must not start with whitespace",
    },
  ];
  for (const e of errors) {
    it(`rejects ${e.name} naming file and line`, () => {
      assert.throws(
        () => parseTableText(e.text, "/etc/access", "postmap"),
        (err: unknown) => {
          assert.ok(err instanceof MapError);
          assert.equal(err.message, e.message);
          assert.equal(err.file, "/etc/access");
          return true;
        },
      );
    });
  }
});

describe("parseTableText in aliases format", () => {
  const cases: { name: string; text: string; want: Record<string, [string, number]> }[] = [
    { name: "reads name: value", text: "root: admin\n", want: { root: ["admin", 1] } },
    {
      name: "keeps the comma list raw",
      text: "staff: a, b,c , |/bin/cmd\n",
      want: { staff: ["a, b,c , |/bin/cmd", 1] },
    },
    { name: "folds names to lower case", text: "Postmaster: root\n", want: { postmaster: ["root", 1] } },
    {
      name: "joins continuation lines",
      text: "# list\nlist: a,\n  b,\n  c\nother: x\n",
      want: { list: ["a, b, c", 2], other: ["x", 5] },
    },
    {
      name: "accepts a quoted name with spaces and a colon",
      text: '"a b:c": x\n',
      want: { "a b:c": ["x", 1] },
    },
    { name: "accepts whitespace before the colon", text: "name : x\n", want: { name: ["x", 1] } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(asObject(parseTableText(c.text, "/etc/aliases", "aliases")), c.want);
    });
  }

  const errors: { name: string; text: string; line: number }[] = [
    { name: "a line without colon", text: "root: a\nbogus line\n", line: 2 },
    { name: "an empty value", text: "a: b\n\nroot:\n", line: 3 },
    { name: "an unquoted name with whitespace", text: "a b: c\n", line: 1 },
    { name: "an unterminated quote", text: '"abc: d\n', line: 1 },
    { name: "an empty name", text: ": d\n", line: 1 },
  ];
  for (const e of errors) {
    it(`rejects ${e.name} on line ${e.line}`, () => {
      assert.throws(
        () => parseTableText(e.text, "/etc/aliases", "aliases"),
        (err: unknown) =>
          err instanceof MapError &&
          err.line === e.line &&
          err.message.startsWith(`/etc/aliases, line ${e.line}: `),
      );
    });
  }
});

describe("parseTableText properties", () => {
  const text = fc
    .array(fc.constantFrom("a", "B", " ", "\t", ":", "#", '"', "\\", "\n", "\r", ",", "x", "é"), {
      maxLength: 60,
    })
    .map((cs) => cs.join(""));

  it("throws nothing but MapError, for both formats", () => {
    fc.assert(
      fc.property(text, fc.constantFrom("postmap" as const, "aliases" as const), (t, format) => {
        try {
          const m = parseTableText(t, "/f", format);
          for (const [k, e] of m) {
            assert.equal(k, k.toLowerCase());
            assert.ok(e.line >= 1);
          }
        } catch (err) {
          if (!(err instanceof MapError)) throw err;
        }
      }),
      { seed: 42, numRuns: 400 },
    );
  });

  it("round-trips generated postmap tables", () => {
    const key = fc.stringMatching(/^[a-z0-9.@-]{1,12}$/);
    const value = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .]{0,15}$/).map((v) => v.trim());
    fc.assert(
      fc.property(
        fc.dictionary(
          key,
          value.filter((v) => v !== ""),
        ),
        (dict) => {
          const source = Object.entries(dict)
            .map(([k, v]) => `${k}\t${v}\n`)
            .join("");
          const parsed = parseTableText(source, "/f", "postmap");
          assert.deepEqual(Object.fromEntries([...parsed].map(([k, e]) => [k, e.value])), { ...dict });
        },
      ),
      { seed: 7, numRuns: 100 },
    );
  });
});
