// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${name} is main.cf expansion syntax here, not a template
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../lib/config/errors.js";
import { parseMainCfText, readLogicalLines } from "../../lib/config/main-cf.js";

const FILE = "/x/main.cf";

function values(text: string): Record<string, string> {
  return Object.fromEntries([...parseMainCfText(text, FILE)].map(([k, v]) => [k, v.value]));
}

describe("parseMainCfText", () => {
  const cases: ReadonlyArray<[string, string, Record<string, string>]> = [
    ["a plain assignment", "a = b\n", { a: "b" }],
    ["no whitespace around =", "a=b", { a: "b" }],
    ["lots of whitespace around =", "a  \t=\t  b  \n", { a: "b" }],
    ["an empty value", "a =\n", { a: "" }],
    ["an = inside the value", "a = b=c", { a: "b=c" }],
    ["a # inside the value (no trailing comments)", "a = b # not a comment", { a: "b # not a comment" }],
    ["comment lines", "# comment\n  # indented comment\na = b\n#x = y", { a: "b" }],
    ["blank lines", "\n\na = b\n\n   \nc = d\n", { a: "b", c: "d" }],
    ["a continuation line joined with one space", "a = b,\n    c,\n\td", { a: "b, c, d" }],
    ["a value that starts on the next line", "a =\n  b\n  c", { a: "b c" }],
    ["an indented comment inside a continued value", "a = b\n  # note\n  c", { a: "b c" }],
    ["a whitespace-only line inside a continued value", "a = b\n   \n  c", { a: "b c" }],
    ["CRLF line ends", "a = b\r\nc = d\r\n", { a: "b", c: "d" }],
    ["later assignments win", "a = 1\nb = 2\na = 3", { a: "3", b: "2" }],
    ["$ references kept unexpanded", "a = $b ${c}", { a: "$b ${c}" }],
  ];
  for (const [what, text, expected] of cases) {
    test(`parses ${what}`, () => assert.deepEqual(values(text), expected));
  }

  test("records the line of the winning assignment, first physical line of a continued one", () => {
    const map = parseMainCfText("# c\na = 1\n\nb = x\n  y\na = 2\n", FILE);
    assert.deepEqual(map.get("a"), { value: "2", line: 6 });
    assert.deepEqual(map.get("b"), { value: "x y", line: 4 });
  });

  const errors: ReadonlyArray<[string, string, string]> = [
    ["a line without =", "a = b\n\nfoo\n", `${FILE}, line 3: missing '=' after attribute name: "foo"`],
    [
      "a name with a blank in it",
      "foo bar = x",
      `${FILE}, line 1: missing '=' after attribute name: "foo bar = x"`,
    ],
    ["a line that starts with =", "a = 1\n= x", `${FILE}, line 2: missing attribute name: "= x"`],
    [
      "a continuation before any parameter",
      "# c\n  x = y",
      `${FILE}, line 2: logical line must not start with whitespace: "x = y"`,
    ],
    [
      "a continuation after a blank line",
      "a = 1\n\n  more",
      `${FILE}, line 3: logical line must not start with whitespace: "more"`,
    ],
    [
      "a continued line without =",
      "a = 1\nfoo\n  bar\n",
      `${FILE}, line 2: missing '=' after attribute name: "foo bar"`,
    ],
  ];
  for (const [what, text, message] of errors) {
    test(`reports ${what} with file and line`, () => {
      assert.throws(
        () => parseMainCfText(text, FILE),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, message);
          assert.equal(err.file, FILE);
          assert.equal(typeof err.line, "number");
          return true;
        },
      );
    });
  }

  test("never throws anything but ConfigError on arbitrary text", () => {
    const chars = fc.constantFrom("a", "b", "=", " ", "\t", "\n", "#", "$", "{", "}", "\r", "_");
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: chars, maxLength: 60 })), (text) => {
        try {
          const map = parseMainCfText(text, FILE);
          for (const [name, { value, line }] of map) {
            assert.ok(name.length > 0 && !/[\s=]/.test(name));
            assert.equal(value, value.trim());
            assert.ok(line >= 1);
          }
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { seed: 4242, numRuns: 300 },
    );
  });
});

describe("readLogicalLines", () => {
  test("returns each logical line with its first line number", () => {
    assert.deepEqual(readLogicalLines("a\n  b\n#c\nd\n", FILE), [
      { text: "a b", line: 1 },
      { text: "d", line: 4 },
    ]);
  });
});
