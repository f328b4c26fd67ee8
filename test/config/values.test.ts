import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../lib/config/errors.js";
import type { ParamDef, ParamKind } from "../../lib/config/params.js";
import { convertValue, splitList, unbrace } from "../../lib/config/values.js";

function def<K extends ParamKind>(kind: K, extra: Partial<ParamDef<K>> = {}): ParamDef<K> {
  return { name: "p", kind, default: "", doc: "test", ...extra };
}

const ORIGIN = { file: "/x/main.cf", line: 3 };

describe("convertValue", () => {
  const good: ReadonlyArray<[string, ParamDef, string, unknown]> = [
    ["bool yes", def("bool"), "yes", true],
    ["bool YES", def("bool"), "YES", true],
    ["bool no", def("bool"), "No", false],
    ["bool true", def("bool"), "true", true],
    ["bool FALSE", def("bool"), "FALSE", false],
    ["int", def("int"), "42", 42],
    ["negative int", def("int"), "-7", -7],
    ["int with plus", def("int"), "+7", 7],
    ["size", def("size"), "10240000", 10240000],
    ["size zero", def("size"), "0", 0],
    ["time bare seconds", def("time"), "30", 30],
    ["time bare with unit d", def("time", { unit: "d" }), "5", 432000],
    ["time s", def("time"), "100s", 100],
    ["time m", def("time"), "2m", 120],
    ["time h", def("time"), "1h", 3600],
    ["time d", def("time", { unit: "d" }), "5d", 432000],
    ["time w", def("time"), "1w", 604800],
    ["time unit overrides the default unit", def("time", { unit: "d" }), "10s", 10],
    ["list", def("list"), "a, b c,,d", ["a", "b", "c", "d"]],
    ["empty list", def("list"), "  ", []],
    ["str", def("str"), "any $thing", "any $thing"],
    ["raw", def("raw"), "x", "x"],
    ["int at its bounds", def("int", { min: 1, max: 5 }), "5", 5],
  ];
  for (const [what, d, text, expected] of good) {
    test(`converts ${what}`, () => assert.deepEqual(convertValue(d, text), expected));
  }

  const bad: ReadonlyArray<[string, ParamDef, string, string]> = [
    [
      "a non-number size",
      def("size", { name: "message_size_limit" }),
      "10x",
      "bad numerical configuration: message_size_limit = 10x",
    ],
    ["a size with a k suffix", def("size"), "10k", "bad numerical configuration: p = 10k"],
    ["a negative size", def("size"), "-1", "bad numerical configuration: p = -1"],
    ["an empty int", def("int"), "", "bad numerical configuration: p = "],
    ["a fractional int", def("int"), "1.5", "bad numerical configuration: p = 1.5"],
    [
      "a huge int",
      def("int"),
      "99999999999999999999",
      "bad numerical configuration: p = 99999999999999999999",
    ],
    ["a bad boolean", def("bool"), "maybe", "bad boolean configuration: p = maybe"],
    ["a bad time unit", def("time"), "10x", "parameter p: bad time value or unit: 10x"],
    ["a time without number", def("time"), "s", "parameter p: bad time value or unit: s"],
    ["an uppercase time unit", def("time"), "10S", "parameter p: bad time value or unit: 10S"],
    ["an int below min", def("int", { min: 1 }), "0", "invalid p parameter value 0 < 1"],
    ["an int above max", def("int", { max: 599 }), "600", "invalid p parameter value 600 > 599"],
    ["a time below min", def("time", { min: 1 }), "0s", "invalid p parameter value 0 < 1"],
    ["a list with an open brace", def("list"), "a { b", "parameter p: missing '}': a { b"],
    ["a list with a stray brace", def("list"), "a } b", "parameter p: unexpected '}': a } b"],
  ];
  for (const [what, d, text, detail] of bad) {
    test(`rejects ${what} naming the parameter, file and line`, () => {
      assert.throws(
        () => convertValue(d, text, ORIGIN),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, `/x/main.cf, line 3: ${detail}`);
          assert.equal(err.detail, detail);
          return true;
        },
      );
    });
  }

  test("omits the place when the value did not come from main.cf", () => {
    assert.throws(() => convertValue(def("bool"), "maybe"), {
      message: "bad boolean configuration: p = maybe",
    });
  });
});

describe("splitList", () => {
  const cases: ReadonlyArray<[string, string[]]> = [
    ["a,b", ["a", "b"]],
    [" a ,\tb\n c ", ["a", "b", "c"]],
    [",,,", []],
    [
      "check_policy_service { inet:127.0.0.1:9998, timeout=10s }, reject",
      ["check_policy_service", "{ inet:127.0.0.1:9998, timeout=10s }", "reject"],
    ],
    ["{a, {b c}} d", ["{a, {b c}}", "d"]],
    ["x{a b}y z", ["x{a b}y", "z"]],
  ];
  for (const [text, expected] of cases) {
    test(`splits ${JSON.stringify(text)}`, () => assert.deepEqual(splitList(text), expected));
  }

  test("unbrace strips the braces of a group and leaves other text trimmed", () => {
    assert.equal(unbrace("{ name = value }"), "name = value");
    assert.equal(unbrace("  plain "), "plain");
  });
});
