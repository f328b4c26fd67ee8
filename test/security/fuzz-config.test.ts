/*
 * fuzz-config — hostile text through the file parsers: main.cf and master.cf
 * (lib/config), aliases (lib/maps' aliases format and lib/delivery's right-hand sides),
 * procmail rc files (lib/recipes) and passwd-file (lib/auth). Each must answer with a
 * result or its own typed error (ConfigError, MapError) carrying file and line — never an
 * unexpected exception, never a hang — and what it returns must keep the invariants the
 * rest of the system relies on.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { formatPasswdEntry, parsePasswdFile } from "../../lib/auth/passwd-file.js";
import { ConfigError } from "../../lib/config/errors.js";
import { parseMainCfText } from "../../lib/config/main-cf.js";
import { parseMasterCfText } from "../../lib/config/master-cf.js";
import { parseAliasValue } from "../../lib/delivery/aliases.js";
import { MapError } from "../../lib/maps/map-error.js";
import { parseTableText } from "../../lib/maps/table-text.js";
import { parseRc } from "../../lib/recipes/parser.js";
import { budget, HOSTILE_PIECES, hostileText } from "./fuzz-budget.js";

/** Text made of lines drawn from `shapes` and hostile noise. */
function fileOf(shapes: readonly string[], maxLines = 25): fc.Arbitrary<string> {
  const line = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...shapes) },
    { weight: 2, arbitrary: hostileText(8) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
  return fc.array(line, { maxLength: maxLines }).map((lines) => lines.join("\n"));
}

/** Runs parse; only `expected` errors may come out, and they name the file. */
function onlyTyped<T>(parse: () => T, expected: new (...a: never[]) => Error, file: string): T | undefined {
  const started = performance.now();
  try {
    return parse();
  } catch (e: unknown) {
    assert.ok(e instanceof expected, `unexpected ${e instanceof Error ? e.stack : String(e)}`);
    assert.ok(e.message.includes(file), `the error names the file: ${e.message}`);
    return undefined;
  } finally {
    assert.ok(performance.now() - started < 500, "parsed in bounded time");
  }
}

const MAIN_SHAPES = [
  "myhostname = mail.example.org",
  "mydestination = $myhostname, localhost",
  "  continued",
  "# comment",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: main.cf syntax, not a template
  "a = ${b}",
  "b = $a",
  "= value",
  "name value",
  "x = $(",
  "\tindented = 1",
  "",
];

test("main.cf: any text gives assignments or a ConfigError naming file and line", () => {
  fc.assert(
    fc.property(fileOf(MAIN_SHAPES), (text) => {
      const parsed = onlyTyped(() => parseMainCfText(text, "/etc/postern/main.cf"), ConfigError, "main.cf");
      for (const [name] of parsed ?? []) assert.doesNotMatch(name, /[\s=]/);
    }),
    budget(400),
  );
});

const MASTER_SHAPES = [
  "smtp      inet  n       -       n       -       -       smtpd",
  "pickup    unix  n       -       n       60      1       pickup",
  "  -o smtpd_tls_wrappermode=yes",
  "  -o { smtpd_client_restrictions = permit_mynetworks, reject }",
  "127.0.0.1:25 inet n - n - - smtpd",
  "[::1]:25 inet n - n - - smtpd",
  "bad inet",
  "x unix y - n - - z",
  "x fifo n - n -1 99999999999 pickup",
  "  -o {",
  "",
];

test("master.cf: any text gives services or a ConfigError naming file and line", () => {
  fc.assert(
    fc.property(fileOf(MASTER_SHAPES), (text) => {
      onlyTyped(() => parseMasterCfText(text, "/etc/postern/master.cf", 100), ConfigError, "master.cf");
    }),
    budget(400),
  );
});

const ALIAS_SHAPES = [
  "postmaster: root",
  'team: alice, bob, "|/usr/bin/cmd arg"',
  '"quoted name": alice',
  "files: /var/mail/archive, :include:/etc/postern/list",
  "  , continued",
  "evil: ../../etc/passwd, alice/../../root",
  "dup: a",
  "DUP: b",
  "nocolon",
  ": novalue",
  "",
];

test("aliases: any text gives entries or a MapError; keys are lower case and values non-empty", () => {
  fc.assert(
    fc.property(fileOf(ALIAS_SHAPES), (text) => {
      const table = onlyTyped(() => parseTableText(text, "/etc/aliases", "aliases"), MapError, "aliases");
      for (const [key, entry] of table ?? []) {
        assert.equal(key, key.toLowerCase());
        assert.notEqual(entry.value, "");
      }
    }),
    budget(400),
  );
});

test("alias values: every target is classified; an address is never a path or a command", () => {
  const item = fc.oneof(
    fc.constantFrom(...HOSTILE_PIECES, '"|cmd"', "|", "/x", ":include:", "<a@b>", '"a,b"'),
    hostileText(5),
  );
  fc.assert(
    fc.property(fc.array(item, { maxLength: 12 }), (items) => {
      for (const t of parseAliasValue(items.join(""))) {
        if (t.kind === "address") {
          assert.ok(!t.address.startsWith("|") && !t.address.startsWith("/"), JSON.stringify(t));
          assert.notEqual(t.address, "");
        }
        if (t.kind === "command") assert.notEqual(t.command, "");
      }
    }),
    budget(500),
  );
});

const RC_SHAPES = [
  ":0",
  ":0:",
  ":0 Bfhw",
  ":0 c:lockfile",
  "* ^Subject:.*spam",
  "* ! ^From:.*friend",
  "* 1000^0 ^X-Spam",
  "* ? test -f /etc/passwd",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: procmailrc syntax, not a template
  "* $ ${VAR}",
  "{",
  "}",
  "Maildir/",
  "! forward@example.org",
  "| /usr/bin/program",
  "VAR=value",
  'MAILDIR="$HOME/../../../../etc"',
  "INCLUDERC=../../etc/shadow",
  "* (((((((((a*)*)*)*)*)*)*)*)*",
  "\\",
  "",
];

test("procmail rc files: any text parses to statements and warnings, never an exception", () => {
  fc.assert(
    fc.property(fileOf(RC_SHAPES, 40), (text) => {
      const started = performance.now();
      const parsed = parseRc(text, "/home/u/.procmailrc");
      assert.ok(performance.now() - started < 500, "parsed in bounded time");
      for (const w of parsed.warnings) assert.equal(w.file, "/home/u/.procmailrc");
    }),
    budget(400),
  );
});

const PASSWD_SHAPES = [
  "alice:{SHA512-CRYPT}$6$salt$hash:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir",
  "bob:*::::/srv/mail/bob::",
  "root:x:0:0::/root::",
  "evil:x:-1:99999999999999::../../../::",
  "nouid:x:abc:1::/h::",
  ":x:1:1::/h::",
  "a b:x:1:1::/h::",
  "# comment",
  "",
];

test("passwd-file: any text gives users and warnings; entries survive a format round trip", () => {
  fc.assert(
    fc.property(fileOf(PASSWD_SHAPES), (text) => {
      const warnings: string[] = [];
      const users = parsePasswdFile(text, "/etc/postern/users", (w) => warnings.push(w));
      for (const w of warnings) assert.match(w, /^passwd-file \/etc\/postern\/users, line \d+: /);
      for (const [name, entry] of users) {
        assert.equal(name, entry.user);
        assert.doesNotMatch(entry.user, /[\s:]/);
        if (entry.uid !== undefined) assert.ok(Number.isSafeInteger(entry.uid) && entry.uid >= 0);
        let line: string;
        try {
          line = formatPasswdEntry(entry);
        } catch {
          continue; // values that cannot be stored are refused by the formatter, by design
        }
        const again = parsePasswdFile(line, "x").get(name);
        assert.deepEqual({ ...again, line: 0 }, { ...entry, line: 0 });
      }
    }),
    budget(400),
  );
});
