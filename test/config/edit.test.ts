import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { editMainCf, removeFromMainCf } from "../../lib/config/edit.js";
import { ConfigError } from "../../lib/config/errors.js";
import { parseMainCfText } from "../../lib/config/main-cf.js";

let dir: string;
let counter = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "postern-edit-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function mainCf(text: string | undefined): string {
  const file = join(dir, `main${++counter}.cf`);
  if (text !== undefined) writeFileSync(file, text, { mode: 0o640 });
  return file;
}

const ORIGINAL = [
  "# Global settings",
  "",
  "myhostname = old.example.org",
  "# keep me",
  "mydestination = $myhostname,",
  "    localhost.$mydomain,",
  "    # an indented comment",
  "    localhost",
  "message_size_limit=1000",
  "",
].join("\n");

describe("editMainCf", () => {
  test("replaces assignments in place, keeps comments and order, appends new ones", () => {
    const file = mainCf(ORIGINAL);
    editMainCf(file, { mydestination: "$myhostname", relay_domains: "", myhostname: "new.example.org" });
    assert.equal(
      readFileSync(file, "utf8"),
      [
        "# Global settings",
        "",
        "myhostname = new.example.org",
        "# keep me",
        "mydestination = $myhostname",
        "    # an indented comment",
        "message_size_limit=1000",
        "relay_domains =",
        "",
      ].join("\n"),
    );
  });

  test("produces a file the parser reads back with the new values", () => {
    const file = mainCf(ORIGINAL);
    editMainCf(file, { message_size_limit: " 2048 ", mynetworks: "127.0.0.0/8 # not a comment" });
    const parsed = parseMainCfText(readFileSync(file, "utf8"), file);
    assert.equal(parsed.get("message_size_limit")?.value, "2048");
    assert.equal(parsed.get("mynetworks")?.value, "127.0.0.0/8 # not a comment");
    assert.equal(parsed.get("mydestination")?.value, "$myhostname, localhost.$mydomain, localhost");
  });

  test("replaces every duplicate assignment of a name", () => {
    const file = mainCf("a = 1\nb = 2\na = 3\n");
    editMainCf(file, { a: "9" });
    assert.equal(readFileSync(file, "utf8"), "a = 9\nb = 2\na = 9\n");
  });

  test("creates a missing main.cf", () => {
    const file = mainCf(undefined);
    editMainCf(file, { a: "1" });
    assert.equal(readFileSync(file, "utf8"), "a = 1\n");
  });

  test("keeps the file mode and leaves no temporary file behind", () => {
    const file = mainCf("a = 1\n");
    const before = readdirSync(dir).length;
    editMainCf(file, { a: "2" });
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(readdirSync(dir).length, before);
  });

  test("adds a newline to a file that lacks a final one", () => {
    const file = mainCf("a = 1");
    editMainCf(file, { b: "2" });
    assert.equal(readFileSync(file, "utf8"), "a = 1\nb = 2\n");
  });

  const bad: ReadonlyArray<[string, Record<string, string>]> = [
    ["a name with a blank", { "a b": "1" }],
    ["a name with =", { "a=b": "1" }],
    ["an empty name", { "": "1" }],
    ["a value with a newline", { a: "1\nb = 2" }],
  ];
  for (const [what, assignments] of bad) {
    test(`refuses ${what} and leaves the file alone`, () => {
      const file = mainCf("a = 1\n");
      assert.throws(() => editMainCf(file, assignments), ConfigError);
      assert.equal(readFileSync(file, "utf8"), "a = 1\n");
    });
  }
});

describe("removeFromMainCf", () => {
  test("removes assignments with their continuation lines and keeps the rest", () => {
    const file = mainCf(ORIGINAL);
    removeFromMainCf(file, ["mydestination", "myhostname", "not_there"]);
    assert.equal(
      readFileSync(file, "utf8"),
      ["# Global settings", "", "# keep me", "    # an indented comment", "message_size_limit=1000", ""].join(
        "\n",
      ),
    );
  });

  test("does nothing when main.cf is missing", () => {
    const file = mainCf(undefined);
    removeFromMainCf(file, ["a"]);
    assert.throws(() => statSync(file));
  });
});
