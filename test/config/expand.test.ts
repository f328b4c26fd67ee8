// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${name} is main.cf expansion syntax here, not a template
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../lib/config/errors.js";
import { type ExpandSource, expandParam, expandText } from "../../lib/config/expand.js";

function source(values: Record<string, string>, lines: Record<string, number> = {}): ExpandSource {
  return {
    raw: (name) => values[name],
    origin: (name) => (lines[name] === undefined ? undefined : { file: "/x/main.cf", line: lines[name] }),
  };
}

const VALUES = {
  host: "mx.example.org",
  domain: "example.org",
  empty: "",
  both: "$host/$domain",
  deep: "<$both>",
  ref_empty: "$empty",
};

describe("expandText", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["plain text", "plain text"],
    ["$host", "mx.example.org"],
    ["${host}", "mx.example.org"],
    ["$(host)", "mx.example.org"],
    ["a$host.b", "amx.example.org.b"],
    ["$host$domain", "mx.example.orgexample.org"],
    ["${host}x", "mx.example.orgx"],
    ["$deep", "<mx.example.org/example.org>"],
    ["$$host", "$host"],
    ["$$$host", "$mx.example.org"],
    ["cost: 5$", "cost: 5$"],
    ["$ alone", "$ alone"],
    ["${host?yes}", "yes"],
    ["${empty?yes}", ""],
    ["${host:no}", ""],
    ["${empty:no}", "no"],
    ["${ref_empty:no}", "no"],
    ["${host?[$domain]}", "[example.org]"],
    ["${empty:$host}", "mx.example.org"],
    ["$(host?x)", "x"],
    ["${host?{with braces}}", "with braces"],
    ["${host?{a}:{b}}", "a"],
    ["${empty?{a}:{b}}", "b"],
    ["${host?${domain?nested}}", "nested"],
  ];
  for (const [text, expected] of cases) {
    test(`expands ${JSON.stringify(text)} to ${JSON.stringify(expected)}`, () => {
      assert.equal(expandText(text, source(VALUES)).text, expected);
    });
  }

  test("expands unknown names to nothing and lists them", () => {
    const result = expandText("[$nope][${also_not}][$host]", source(VALUES));
    assert.equal(result.text, "[][][mx.example.org]");
    assert.deepEqual([...result.unknown].sort(), ["also_not", "nope"]);
  });

  test("lists unknown names found through other parameters", () => {
    assert.deepEqual(expandParam("a", source({ a: "$b", b: "$ghost" })).unknown, ["ghost"]);
  });

  test("does not expand the branch a conditional does not choose", () => {
    const src = source({ a: "${empty?$a}", empty: "" });
    assert.equal(expandParam("a", src).text, "");
  });

  test("reports an unclosed ${ as a ConfigError naming the parameter and line", () => {
    assert.throws(() => expandParam("a", source({ a: "x ${host" }, { a: 4 })), {
      name: "ConfigError",
      message: `/x/main.cf, line 4: parameter a: missing '}' in "x \${host"`,
    });
  });

  test("reports a bad name inside ${}", () => {
    assert.throws(() => expandText("${no way}", source(VALUES)), ConfigError);
  });
});

describe("expandParam recursion", () => {
  test("reports a two-parameter loop with the chain, file and line", () => {
    const src = source({ a: "$b", b: "$a" }, { a: 3, b: 7 });
    assert.throws(
      () => expandParam("a", src),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, "/x/main.cf, line 3: parameter a: recursion loop: a -> b -> a");
        assert.equal(err.line, 3);
        return true;
      },
    );
  });

  test("reports a self reference", () => {
    assert.throws(() => expandParam("a", source({ a: "x${a}" })), {
      message: "parameter a: recursion loop: a -> a",
    });
  });

  test("reports a loop reached through another parameter with the whole chain", () => {
    assert.throws(() => expandParam("x", source({ x: "$a", a: "$b", b: "$(a)" }, { b: 9 })), {
      message: "/x/main.cf, line 9: parameter x: recursion loop: x -> a -> b -> a",
    });
  });

  test("expands a diamond of references without calling it a loop", () => {
    assert.equal(expandParam("a", source({ a: "$b $c", b: "$d", c: "$d", d: "D" })).text, "D D");
  });

  test("stays fast on exponential fan-out", () => {
    const values: Record<string, string> = { p20: "x" };
    for (let i = 0; i < 20; i++) values[`p${i}`] = `$p${i + 1}$p${i + 1}`;
    const started = Date.now();
    assert.equal(expandParam("p0", source(values)).text.length, 2 ** 20);
    assert.ok(Date.now() - started < 1000);
  });
});
