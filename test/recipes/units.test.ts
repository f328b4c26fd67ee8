/*
 * Unit tests for the recipe parser, the regex dialect, expansion and the dry run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { expandString } from "../../lib/recipes/expand.js";
import { explainRecipes, runRecipes, withFromLine } from "../../lib/recipes/index.js";
import { parseRc } from "../../lib/recipes/parser.js";
import { compileProcmailRegex, countMatches, extractMatch, testMatch } from "../../lib/recipes/regex.js";
import { formatAbstract } from "../../lib/recipes/state.js";

const RC = "A=1\n:0 HBc: lock\n* ^Subject: x\n* 2^1 ! $ foo\n| cat\n:0\n{\n  :0\n  ! bob\n}\n";

test("parseRc reads assignments, recipes, conditions, actions and blocks with line numbers", () => {
  const parsed = parseRc(RC, "rc");
  assert.deepEqual(parsed.warnings, []);
  const [assign, recipe, block] = parsed.statements;
  assert.deepEqual(assign, { kind: "assign", line: 1, name: "A", value: "1" });
  assert.ok(recipe?.kind === "recipe");
  assert.equal(recipe.flags.letters, "HBc");
  assert.equal(recipe.lock, "lock");
  assert.equal(recipe.conditions[1]?.line, 4);
  assert.deepEqual(recipe.conditions[1]?.weight, { w: 2, x: 1 });
  assert.equal(recipe.conditions[1]?.negate, true);
  assert.equal(recipe.conditions[1]?.expand, true);
  assert.deepEqual(recipe.action, { kind: "pipe", command: " cat" });
  assert.ok(block?.kind === "recipe" && block.action.kind === "block");
  assert.deepEqual(block.action.body[0]?.kind === "recipe" && block.action.body[0].action, {
    kind: "forward",
    text: "bob",
  });
});

test("parseRc gives the same AST for text split and joined line by line", () => {
  const whole = parseRc(RC, "rc");
  const rejoined = parseRc(RC.split("\n").join("\n"), "rc");
  assert.deepEqual(JSON.stringify(rejoined.statements), JSON.stringify(whole.statements));
});

test("parseRc warns with file and line about unbalanced braces and missing actions", () => {
  const parsed = parseRc("}\n:0\n* x\n:0\n{\n", "f.rc");
  assert.deepEqual(
    parsed.warnings.map((w) => `${w.file}:${w.line}`),
    ["f.rc:1", "f.rc:2", "f.rc:5"],
  );
});

test("parseRc never throws on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      parseRc(text, "fuzz");
    }),
    { seed: 42, numRuns: 300 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(":0", "*", "{", "}", "|", "!", "\n", "\\", '"', "`", "A=", "x", " "), {
        maxLength: 40,
      }),
      (parts) => {
        parseRc(parts.join(""), "fuzz");
      },
    ),
    { seed: 7, numRuns: 300 },
  );
});

test("compileProcmailRegex never throws on arbitrary patterns", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (p) => {
      compileProcmailRegex(p, false);
    }),
    { seed: 3, numRuns: 300 },
  );
});

const TABLE: Array<[string, string, boolean]> = [
  ["^Subject: a{2}", "Subject: a{2}\n", true],
  ["^subject", "Subject: x\n", true],
  ["x.y", "x\ny", false],
  ["x[^a]y", "x\ny", false],
  ["\\<cat\\>", "a cat.", true],
  ["\\<cat\\>", "concat", false],
  ["^^b", "a\nb", false],
  ["^TO_bob@x\\.org", "To: Bob <bob@x.org>\n", true],
  ["^TO_bob@x\\.org", "To: jimbob@x.org\n", false],
  ["^FROM_DAEMON", "From: MAILER-DAEMON@x.org\n", true],
];

for (const [pattern, text, expected] of TABLE) {
  test(`the pattern ${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(text)}`, () => {
    const c = compileProcmailRegex(pattern, false);
    assert.ok(c.ok);
    assert.equal(testMatch(c.value, text), expected);
  });
}

test("MATCH takes the longest right part after the shortest left part", () => {
  const c = compileProcmailRegex("^Subject:.*\\/[0-9]+", false);
  assert.ok(c.ok);
  assert.equal(extractMatch(c.value, "Subject: order 12345\n"), "12345");
});

test("countMatches counts leftmost shortest matches", () => {
  const c = compileProcmailRegex("a+", false);
  assert.ok(c.ok);
  assert.equal(countMatches(c.value.tester, "aaa b aa", 100), 5);
});

test("expandString handles quotes, defaults and backquotes", async () => {
  const vars: Record<string, string> = { A: "x" };
  const scope = { get: (n: string) => vars[n], backquote: async (c: string) => `${c}\n\n` };
  assert.equal(await expandString(`"q $A"'s $A'\${B:-d}\${A:+alt}\`hi\``, scope), "q xs $Adalthi");
});

test("formatAbstract pads the folder with tabs to column 72 and the size to 7 columns", () => {
  const msg = Buffer.from("From a  Sun Nov 22 05:05:54 2026\nSubject: s\n\nb\n");
  assert.equal(
    formatAbstract(msg, "inbox", 96),
    "From a  Sun Nov 22 05:05:54 2026\n Subject: s\n  Folder: inbox\t\t\t\t\t\t\t\t     96\n",
  );
});

test("withFromLine adds a From_ line only when missing", () => {
  const at = new Date(2026, 0, 2, 3, 4, 5);
  assert.equal(
    withFromLine(Buffer.from("X: y\n"), "a@b", at).toString(),
    "From a@b  Fri Jan  2 03:04:05 2026\nX: y\n",
  );
  assert.equal(withFromLine(Buffer.from("From x  d\n"), "a@b", at).toString(), "From x  d\n");
});

const baseCtx = {
  home: "/nonexistent-home",
  logname: "u",
  sender: "a@b",
  recipient: "u@b",
  defaultMailbox: "/nonexistent-home/Maildir/",
  sendmail: ["/usr/sbin/sendmail"],
  timeoutMs: 5000,
};

test("a dry run explains the matching recipe and delivers nothing", async () => {
  const text = await explainRecipes(Buffer.from("Subject: hello\n\nbody\n"), {
    ...baseCtx,
    rcText: { file: "t.rc", text: ":0:\n* ^Subject: hello\nhello-box\n" },
  });
  assert.match(text, /t\.rc:1: recipe :0 matched/);
  assert.match(text, /would deliver to mbox \/nonexistent-home\/hello-box/);
});

test("a bad rc file is reported with file and line and the mail still goes to DEFAULT (dry run)", async () => {
  const r = await runRecipes(Buffer.from("Subject: x\n\nb\n"), {
    ...baseCtx,
    dryRun: true,
    rcText: { file: "bad.rc", text: "}\n:0\n* ^Subject: (x\nbox\n" },
  });
  assert.deepEqual(
    r.log.map((l) => l.split(":").slice(0, 2).join(":")),
    ["bad.rc:1", "bad.rc:3"],
  );
  assert.ok(r.trace?.some((l) => l.includes("falling off the end: DEFAULT")));
  assert.equal(r.exitCode, 0);
});
