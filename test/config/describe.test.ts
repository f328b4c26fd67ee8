import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { formatParam, renderConfManPage, roffEscape } from "../../lib/config/describe.js";
import { ALL_PARAMS } from "../../lib/config/params.js";

describe("formatParam", () => {
  const cases: ReadonlyArray<[string, string, string]> = [
    ["a", "b", "a = b"],
    ["a", "  b c  ", "a = b c"],
    ["a", "", "a ="],
    ["a", "   ", "a ="],
  ];
  for (const [name, value, expected] of cases) {
    test(`prints ${JSON.stringify(value)} as ${JSON.stringify(expected)}`, () => {
      assert.equal(formatParam(name, value), expected);
    });
  }
});

describe("roffEscape", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["a-b", "a\\-b"],
    ["back\\slash", "back\\eslash"],
    [".starts with a dot", "\\&.starts with a dot"],
    ["'starts with a quote", "\\&'starts with a quote"],
    ["mid.dle's", "mid.dle's"],
  ];
  for (const [text, expected] of cases) {
    test(`escapes ${JSON.stringify(text)}`, () => assert.equal(roffEscape(text), expected));
  }
});

describe("renderConfManPage", () => {
  const page = renderConfManPage();

  test("has the man page sections", () => {
    for (const section of ["NAME", "SYNOPSIS", "DESCRIPTION", "PARAMETERS", "SEE ALSO"]) {
      assert.match(page, new RegExp(`^\\.SH ${section}$`, "m"));
    }
    assert.match(page, /^\.TH POSTERN\.CONF 5 /);
  });

  test("lists every parameter with its default", () => {
    for (const def of ALL_PARAMS) {
      assert.ok(page.includes(`.TP\n\\fB${roffEscape(def.name)}\\fR (default: `), def.name);
    }
    assert.ok(page.includes("\\fBmessage_size_limit\\fR (default: \\fI10240000\\fR)"));
    assert.ok(page.includes("\\fBrelay_domains\\fR (default: empty)"));
  });

  test("renders with groff -man -ww without warnings", (t) => {
    const groff = spawnSync("groff", ["-man", "-ww", "-z"], { input: page, encoding: "utf8" });
    if (groff.error !== undefined) {
      t.skip("groff is not installed");
      return;
    }
    assert.equal(groff.stderr, "");
    assert.equal(groff.status, 0);
  });
});
