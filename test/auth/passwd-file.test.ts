/*
 * Tests for lib/auth/passwd-file.ts: Dovecot passwd-file parsing (optional and empty fields,
 * extra fields, comments, bad lines skipped with warnings), formatting round trips, the
 * mtime cache of readPasswdFile and %-variable expansion.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  expandUserVars,
  formatPasswdEntry,
  PasswdFileError,
  parsePasswdFile,
  readPasswdFile,
} from "../../lib/auth/passwd-file.js";

describe("parsePasswdFile", () => {
  it("reads all eight fields with extra fields", () => {
    const text =
      "alice@example.org:{SHA512-CRYPT}$6$x$y:1000:1001:Alice A:/home/alice:/bin/sh:userdb_mail=maildir:~/Mail nopassword\n";
    const e = parsePasswdFile(text, "/u").get("alice@example.org");
    assert.deepEqual(e, {
      user: "alice@example.org",
      password: "{SHA512-CRYPT}$6$x$y",
      uid: 1000,
      gid: 1001,
      gecos: "Alice A",
      home: "/home/alice",
      shell: "/bin/sh",
      extra: { userdb_mail: "maildir:~/Mail", nopassword: "" },
      line: 1,
    });
  });

  const cases: { name: string; line: string; want: Record<string, unknown> }[] = [
    {
      name: "a user name alone",
      line: "bob",
      want: { password: "", gecos: "", home: "", shell: "", extra: {} },
    },
    { name: "empty uid, gid and home", line: "bob:{PLAIN}x:::::", want: { password: "{PLAIN}x", home: "" } },
    {
      name: "the usual virtual-user form",
      line: "bob:{PLAIN}x:::: /var/mail/bob::",
      want: { home: " /var/mail/bob" },
    },
    {
      name: "extra fields containing colons",
      line: "bob:x::::::userdb_quota_rule=*:storage=1G",
      want: { extra: { userdb_quota_rule: "*:storage=1G" } },
    },
    { name: "a CRLF line end", line: "bob:x:5:6\r", want: { uid: 5, gid: 6, password: "x" } },
  ];
  for (const c of cases) {
    it(`accepts ${c.name}`, () => {
      const e = parsePasswdFile(`${c.line}\n`, "/u").get("bob");
      assert.ok(e, "entry parsed");
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(e[k as keyof typeof e], v, k);
      if (!("uid" in c.want)) assert.equal(e.uid, undefined);
    });
  }

  it("skips comments and blank lines and records line numbers", () => {
    const m = parsePasswdFile("# users\n\n   \na:x\n  # indented\nb:y\n", "/u");
    assert.deepEqual(
      [...m.values()].map((e) => [e.user, e.line]),
      [
        ["a", 4],
        ["b", 6],
      ],
    );
  });

  it("skips bad lines with a warning naming file and line, not the password", () => {
    const warnings: string[] = [];
    const m = parsePasswdFile(
      ":nouser\nbad uid:secret\nc:secret:abc\nd:secret:1:-1\nok:pw\nok:second\n",
      "/etc/postern/users",
      (w) => warnings.push(w),
    );
    assert.deepEqual([...m.keys()], ["ok"]);
    assert.equal(m.get("ok")?.password, "pw");
    assert.deepEqual(warnings, [
      "passwd-file /etc/postern/users, line 1: missing or invalid user name: line ignored",
      "passwd-file /etc/postern/users, line 2: missing or invalid user name: line ignored",
      "passwd-file /etc/postern/users, line 3: user c: invalid uid: line ignored",
      "passwd-file /etc/postern/users, line 4: user d: invalid gid: line ignored",
      "passwd-file /etc/postern/users, line 6: user ok exists more than once",
    ]);
    for (const w of warnings) assert.ok(!w.includes("secret"));
  });

  it("never throws, whatever the input", () => {
    const text = fc
      .array(fc.constantFrom("a", ":", "1", " ", "=", "#", "\n", "\r", "@", "{", "x"), { maxLength: 80 })
      .map((c) => c.join(""));
    fc.assert(
      fc.property(text, (t) => {
        for (const [user, e] of parsePasswdFile(t, "/u", () => {})) {
          assert.equal(user, e.user);
          assert.ok(!user.includes(":"));
        }
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});

describe("formatPasswdEntry", () => {
  it("writes the Dovecot line and parses back to the same entry", () => {
    const e = {
      user: "carol@example.org",
      password: "{PLAIN}pw",
      uid: 5000,
      gid: 5000,
      gecos: "",
      home: "/var/mail/carol",
      shell: "",
      extra: { userdb_quota_rule: "*:storage=1G", nodelay: "" },
    };
    const line = formatPasswdEntry(e);
    assert.equal(
      line,
      "carol@example.org:{PLAIN}pw:5000:5000::/var/mail/carol::userdb_quota_rule=*:storage=1G nodelay",
    );
    assert.deepEqual(parsePasswdFile(line, "/u").get(e.user), { ...e, line: 1 });
  });

  it("leaves out uid, gid and extra fields that are not set", () => {
    assert.equal(
      formatPasswdEntry({ user: "u", password: "p", gecos: "", home: "/h", shell: "", extra: {} }),
      "u:p::::/h:",
    );
  });

  const bad = [
    { name: "a colon in the password", e: { password: "a:b" } },
    { name: "a newline in the home", e: { home: "/x\n" } },
    { name: "an empty user", e: { user: "" } },
    { name: "whitespace in an extra value", e: { extra: { k: "a b" } } },
  ];
  for (const b of bad) {
    it(`refuses ${b.name}`, () => {
      const base = { user: "u", password: "p", gecos: "", home: "", shell: "", extra: {} };
      assert.throws(() => formatPasswdEntry({ ...base, ...b.e }), PasswdFileError);
    });
  }
});

describe("readPasswdFile", () => {
  it("caches by mtime and re-reads a changed file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "postern-pwf-"));
    try {
      const path = join(dir, "users");
      writeFileSync(path, "a:1\n");
      const first = await readPasswdFile(path);
      assert.equal(await readPasswdFile(path), first, "same object from the cache");
      writeFileSync(path, "a:2\nb:3\n");
      const t = new Date(Date.now() + 5000);
      utimesSync(path, t, t);
      const second = await readPasswdFile(path);
      assert.deepEqual([...second.keys()], ["a", "b"]);
      assert.equal(second.get("a")?.password, "2");
      await assert.rejects(readPasswdFile(join(dir, "missing")), { code: "ENOENT" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("expandUserVars", () => {
  const cases: [string, string, string | undefined, string][] = [
    ["/var/mail/%d/%n", "alice@example.org", undefined, "/var/mail/example.org/alice"],
    ["/home/%u", "bob", undefined, "/home/bob"],
    ["%d", "bob", undefined, ""],
    ["%h/Maildir", "bob", "/home/bob", "/home/bob/Maildir"],
    ["100%% %u", "x", undefined, "100% x"],
    ["%{user} %{domain} %{username} %{home}", "a@b", "/h", "a@b b a /h"],
    ["%Lu %Un", "Ann@Ex.org", undefined, "ann@ex.org ANN"],
    ["%z %{nope} %", "u", undefined, "%z %{nope} %"],
  ];
  for (const [template, user, home, want] of cases) {
    it(`expands ${JSON.stringify(template)} for ${user} to ${JSON.stringify(want)}`, () => {
      assert.equal(expandUserVars(template, user, home), want);
    });
  }
});
