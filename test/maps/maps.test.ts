/*
 * Tests for lib/maps: every table type through openMap(), compileMap() + lookup, the
 * stale/missing .db fallback with its warning, reloading on change, and MapError cases.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CompiledTable, encodeTable } from "../../lib/maps/db-file.js";
import { compileMap, MapError, openMap, parseInline } from "../../lib/maps/index.js";

let dir = "";
before(() => {
  dir = mkdtempSync(join(tmpdir(), "postern-maps-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Set a file's mtime to `seconds` after the epoch-ish base, to order source and .db. */
function touch(path: string, seconds: number): void {
  const t = new Date(1_700_000_000_000 + seconds * 1000);
  utimesSync(path, t, t);
}

describe("openMap", () => {
  it("looks up texthash tables case-insensitively", async () => {
    const path = write("th", "Example.COM REJECT no\nok.example OK\n");
    const t = openMap(`texthash:${path}`);
    assert.equal(t.spec, `texthash:${path}`);
    assert.equal(await t.lookup("EXAMPLE.com"), "REJECT no");
    assert.equal(await t.lookup("missing"), undefined);
  });

  it("re-reads a texthash table when the file changes", async () => {
    const path = write("th2", "a 1\n");
    const t = openMap(`texthash:${path}`);
    assert.equal(await t.lookup("a"), "1");
    writeFileSync(path, "a 22\n");
    touch(path, 100);
    assert.equal(await t.lookup("a"), "22");
  });

  it("resolves relative file names against configDir", async () => {
    write("rel", "k v\n");
    assert.equal(await openMap("texthash:rel", { configDir: dir }).lookup("k"), "v");
  });

  it("reads a file named aliases in aliases format by default", async () => {
    const sub = mkdtempSync(join(dir, "al-"));
    writeFileSync(join(sub, "aliases"), "postmaster: root\n");
    assert.equal(await openMap(`texthash:${join(sub, "aliases")}`).lookup("Postmaster"), "root");
  });

  it("answers every key with static:", async () => {
    assert.equal(await openMap("static:OK").lookup("anything"), "OK");
    assert.equal(await openMap("static:{ 550 go away }").lookup("x"), "550 go away");
  });

  it("looks up inline: tables, braced values included", async () => {
    const t = openMap("inline:{ a=1, B=two { c = x, y }, d=4 }");
    assert.equal(await t.lookup("a"), "1");
    assert.equal(await t.lookup("b"), "two");
    assert.equal(await t.lookup("c"), "x, y");
    assert.equal(await t.lookup("d"), "4");
    assert.equal(await t.lookup("e"), undefined);
  });

  it("looks up system users in unix:passwd.byname", async () => {
    const passwd = write(
      "passwd",
      "root:x:0:0:root:/root:/bin/sh\n+nis\nbob:x:1000:1000::/home/bob:/bin/bash\n",
    );
    const t = openMap("unix:passwd.byname", { passwdFile: passwd });
    assert.equal(await t.lookup("bob"), "bob:x:1000:1000::/home/bob:/bin/bash");
    assert.equal(await t.lookup("alice"), undefined);
  });

  it("looks up Dovecot users in passwd-file: and returns their line", async () => {
    const path = write("users", "# users\nalice@example.org:{PLAIN}pw:::::\nbroken\n");
    const warnings: string[] = [];
    const t = openMap(`passwd-file:${path}`, { onWarning: (w) => warnings.push(w) });
    assert.equal(await t.lookup("Alice@Example.org"), "alice@example.org:{PLAIN}pw:::::");
    assert.equal(await t.lookup("bob"), undefined);
    assert.equal(warnings.length, 0, "a user name alone is a valid passwd-file line");
  });

  it("fails every lookup of a fail: table with MapError", async () => {
    await assert.rejects(openMap("fail:x").lookup("k"), MapError);
  });

  const bad: { spec: string; message: RegExp }[] = [
    { spec: "foo:/x", message: /^unsupported dictionary type: foo$/ },
    { spec: "/etc/access", message: /need dictionary_type:dictionary_name/ },
    { spec: "unix:group.byname", message: /unknown table: unix:group.byname/ },
    { spec: "inline:a=b", message: /need "inline:\{ key=value, \.\.\. \}"/ },
    { spec: "inline:{ novalue }", message: /expected "key=value"/ },
    { spec: "hash:", message: /missing file name/ },
  ];
  for (const b of bad) {
    it(`refuses ${b.spec} with a MapError`, () => {
      assert.throws(
        () => openMap(b.spec),
        (err: unknown) => err instanceof MapError && b.message.test(err.message),
      );
    });
  }

  it("reports a missing texthash file on lookup", async () => {
    await assert.rejects(openMap(`texthash:${join(dir, "nope")}`).lookup("k"), /No such file/);
  });
});

describe("compileMap and hash: tables", () => {
  it("compiles a postmap file and looks keys up in the .db", async () => {
    const path = write("access", "# access\nspam.example REJECT\nUser@Example.org OK\n");
    const r = await compileMap(`hash:${path}`);
    assert.deepEqual(r, { entries: 2, output: `${path}.db` });
    touch(path, 0);
    touch(`${path}.db`, 10);
    const t = openMap(`hash:${path}`, { onWarning: () => assert.fail("no warning expected") });
    assert.equal(await t.lookup("user@example.org"), "OK");
    assert.equal(await t.lookup("SPAM.example"), "REJECT");
    assert.equal(await t.lookup("other"), undefined);
  });

  it("compiles aliases given a bare path and format aliases", async () => {
    const sub = mkdtempSync(join(dir, "aliases-"));
    const path = join(sub, "mylist");
    writeFileSync(path, "root: admin,\n  ops\n");
    assert.deepEqual(await compileMap(path, { format: "aliases" }), { entries: 1, output: `${path}.db` });
    touch(path, 0);
    touch(`${path}.db`, 10);
    assert.equal(await openMap(`hash:${path}`, { format: "aliases" }).lookup("root"), "admin, ops");
  });

  it("uses the source text and warns once when the .db is older", async () => {
    const path = write("stale", "a old\n");
    await compileMap(`hash:${path}`);
    writeFileSync(path, "a new\n");
    touch(`${path}.db`, 0);
    touch(path, 10);
    const warnings: string[] = [];
    const t = openMap(`hash:${path}`, { onWarning: (w) => warnings.push(w) });
    assert.equal(await t.lookup("a"), "new");
    assert.equal(await t.lookup("a"), "new");
    assert.deepEqual(warnings, [`database ${path}.db is older than source file ${path}`]);
    await compileMap(`hash:${path}`);
    touch(`${path}.db`, 20);
    assert.equal(await t.lookup("a"), "new");
    assert.equal(warnings.length, 1);
  });

  it("uses the source text and warns when the .db is missing", async () => {
    const path = write("nodb", "k v\n");
    const warnings: string[] = [];
    assert.equal(await openMap(`hash:${path}`, { onWarning: (w) => warnings.push(w) }).lookup("k"), "v");
    assert.match(warnings[0] ?? "", /does not exist; using source file/);
  });

  it("uses the .db alone when the source is gone", async () => {
    const path = write("dbonly", "k v\n");
    await compileMap(`hash:${path}`);
    rmSync(path);
    assert.equal(await openMap(`hash:${path}`).lookup("k"), "v");
  });

  it("fails lookups when neither file exists", async () => {
    await assert.rejects(openMap(`hash:${join(dir, "none")}`).lookup("k"), MapError);
  });

  it("refuses to compile a source with a syntax error, naming the line", async () => {
    const path = write("broken", "a b\nc\n");
    await assert.rejects(compileMap(`hash:${path}`), {
      message: `${path}, line 2: expected format: key whitespace value`,
    });
  });

  it("refuses to compile other table types and missing sources", async () => {
    await assert.rejects(compileMap("texthash:/x"), /unsupported map type for this operation: texthash/);
    await assert.rejects(compileMap(`hash:${join(dir, "absent")}`), /open source file/);
  });

  it("leaves no temporary files behind", async () => {
    const sub = mkdtempSync(join(dir, "atomic-"));
    writeFileSync(join(sub, "t"), "a b\n");
    await compileMap(`hash:${join(sub, "t")}`);
    const { readdirSync } = await import("node:fs");
    assert.deepEqual(readdirSync(sub).sort(), ["t", "t.db"]);
  });
});

describe("the compiled table format", () => {
  it("finds every key among many, with UTF-8 keys and empty values", () => {
    const entries: [string, string][] = [];
    for (let i = 0; i < 500; i++) entries.push([`key${i}`, `value ${i}`]);
    entries.push(["ünïcode", "ok"], ["empty", ""]);
    const t = new CompiledTable(encodeTable(entries), "/mem");
    assert.equal(t.count, 502);
    for (const [k, v] of entries) assert.equal(t.get(k), v);
    assert.equal(t.get("key5000"), undefined);
    assert.equal(t.get(""), undefined);
  });

  it("rejects foreign and truncated files", () => {
    const good = encodeTable([["a", "b"]]);
    assert.throws(() => new CompiledTable(Buffer.from("not a table at all"), "/x"), /bad magic/);
    assert.throws(() => new CompiledTable(good.subarray(0, good.length - 1), "/x"), /truncated or corrupt/);
  });

  it("reports a corrupt .db through lookup as MapError", async () => {
    const path = write("corrupt", "a b\n");
    writeFileSync(`${path}.db`, "garbage garbage garbage");
    touch(path, 0);
    touch(`${path}.db`, 10);
    await assert.rejects(openMap(`hash:${path}`).lookup("a"), MapError);
    assert.equal(readFileSync(path, "utf8"), "a b\n");
  });

  it("parses inline tables with nested braces", () => {
    assert.deepEqual(
      [...parseInline("{ {k = a b}, z=1 }", "inline:x")],
      [
        ["k", "a b"],
        ["z", "1"],
      ],
    );
  });
});
