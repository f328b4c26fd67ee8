import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../lib/config/errors.js";
import { loadMainCf } from "../../lib/config/index.js";
import { loadMasterCf, type MasterService, parseMasterCfText } from "../../lib/config/master-cf.js";

const FILE = "/x/master.cf";

function parse(text: string): MasterService[] {
  return parseMasterCfText(text, FILE, 100);
}

function one(text: string): MasterService {
  const [service] = parse(text);
  assert.ok(service !== undefined);
  return service;
}

describe("parseMasterCfText columns", () => {
  test("fills in the defaults for -", () => {
    assert.deepEqual(one("smtp inet - - - - - smtpd"), {
      name: "smtp",
      type: "inet",
      key: "smtp/inet",
      private: true,
      unpriv: true,
      chroot: false,
      wakeup: 0,
      wakeupConditional: false,
      maxproc: 100,
      command: "smtpd",
      args: [],
      overrides: {},
      line: 1,
      text: "smtp inet y y n 0 100 smtpd",
    });
  });

  test("reads explicit y/n flags, wakeup and maxproc", () => {
    const s = one("pickup unix n n y 60 1 pickup");
    assert.deepEqual(
      [s.private, s.unpriv, s.chroot, s.wakeup, s.wakeupConditional, s.maxproc],
      [false, false, true, 60, false, 1],
    );
  });

  test("reads a conditional wakeup and an unlimited maxproc", () => {
    const s = one("qmgr unix n - n 300? 0 qmgr");
    assert.deepEqual([s.wakeup, s.wakeupConditional, s.maxproc], [300, true, 0]);
  });

  test("accepts all four service types", () => {
    const services = parse(
      "a inet - - - - - x\nb unix - - - - - x\nc fifo - - - - - x\nd pass - - - - - x\n",
    );
    assert.deepEqual(
      services.map((s) => s.type),
      ["inet", "unix", "fifo", "pass"],
    );
  });

  test("uses the default process limit it is given", () => {
    assert.equal(parseMasterCfText("a unix - - - - - x", FILE, 7)[0]?.maxproc, 7);
  });

  test("skips comments and blank lines and counts lines", () => {
    const services = parse(
      "# service type ...\n\n  # indented comment\nsmtp inet n - n - - smtpd\n\nqmgr unix n - n 300 1 qmgr\n",
    );
    assert.deepEqual(
      services.map((s) => [s.key, s.line]),
      [
        ["smtp/inet", 4],
        ["qmgr/unix", 6],
      ],
    );
  });
});

describe("parseMasterCfText arguments", () => {
  test("collects -o overrides and keeps other arguments in order", () => {
    const s = one(
      "submission inet n - n - - smtpd\n  -o syslog_name=postern/submission\n  -v\n  -o smtpd_sasl_auth_enable=yes -ofoo=bar\n  extra",
    );
    assert.deepEqual(s.args, ["-v", "extra"]);
    assert.deepEqual(s.overrides, {
      syslog_name: "postern/submission",
      smtpd_sasl_auth_enable: "yes",
      foo: "bar",
    });
  });

  test("reads -o { name = value with spaces }", () => {
    const s = one("smtp inet n - n - - smtpd -o { smtpd_banner = $myhostname ESMTP hi } -o {a=b}");
    assert.deepEqual(s.overrides, { smtpd_banner: "$myhostname ESMTP hi", a: "b" });
    assert.equal(s.text, "smtp inet n y n 0 100 smtpd -o { smtpd_banner=$myhostname ESMTP hi } -o a=b");
  });

  test("keeps an empty -o value and lets a later -o win", () => {
    assert.deepEqual(one("a unix - - - - - x -o r= -o s=1 -o s=2").overrides, { r: "", s: "2" });
  });

  test("strips braces from a plain argument with spaces", () => {
    assert.deepEqual(one("a unix - - - - - pipe argv=/bin/x { a b }").args, ["argv=/bin/x", "a b"]);
  });

  test("keeps an -o named __proto__ as an ordinary key", () => {
    const s = one("a unix - - - - - x -o __proto__=1");
    assert.equal(Object.getOwnPropertyDescriptor(s.overrides, "__proto__")?.value, "1");
  });

  test("gives equal entries equal text however they are spelled", () => {
    const a = one("smtp inet - - - - - smtpd -o a=1");
    const b = one("smtp   inet y y\n n 0 100 smtpd\n   -o { a = 1 }");
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, one("smtp inet - - - - - smtpd -o a=2").text);
  });
});

describe("parseMasterCfText errors", () => {
  const errors: ReadonlyArray<[string, string, string]> = [
    ["a bad type", "\nsmtp tcp - - - - - smtpd", `${FILE}, line 2: field "type": bad value: "tcp"`],
    ["unix-dgram", "x unix-dgram - - - - - x", `${FILE}, line 1: unsupported service type: unix-dgram`],
    ["a bad private flag", "x unix yes - - - - x", `${FILE}, line 1: field "private": bad value: "yes"`],
    ["a bad unpriv flag", "x unix - Y - - - x", `${FILE}, line 1: field "unpriv": bad value: "Y"`],
    ["a bad chroot flag", "x unix - - 1 - - x", `${FILE}, line 1: field "chroot": bad value: "1"`],
    ["a bad wakeup", "x unix - - - 1m - x", `${FILE}, line 1: field "wakeup": bad value: "1m"`],
    ["a bad maxproc", "x unix - - - - -1 x", `${FILE}, line 1: field "maxproc": bad value: "-1"`],
    ["a missing command", "# c\n\nx unix - - - - -", `${FILE}, line 3: missing "command" field`],
    ["a missing type", "x", `${FILE}, line 1: missing "type" field`],
    [
      "-o without an argument",
      "x unix - - - - - x -o",
      `${FILE}, line 1: option -o requires a name=value argument`,
    ],
    [
      "-o without =",
      "x unix - - - - - x\n  -o foo",
      `${FILE}, line 1: bad -o argument: "foo": expected name=value`,
    ],
    ["an unclosed brace", "x unix - - - - - x -o { a = b", `${FILE}, line 1: missing '}' in "{ a = b"`],
    [
      "a continuation first",
      "  -o a=b\nx unix - - - - - x",
      `${FILE}, line 1: logical line must not start with whitespace: "-o a=b"`,
    ],
    [
      "a duplicate name and type",
      "smtp inet - - - - - smtpd\nsmtp unix - - - - - smtp\n\nsmtp inet - - - - - smtpd",
      `${FILE}, line 4: duplicate service name and type: smtp/inet (first defined at line 1)`,
    ],
  ];
  for (const [what, text, message] of errors) {
    test(`reports ${what} with the file and line`, () => {
      assert.throws(
        () => parse(text),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, message);
          return true;
        },
      );
    });
  }

  test("never throws anything but ConfigError on arbitrary text", () => {
    const chars = fc.constantFrom(
      "a",
      "-",
      "y",
      "n",
      " ",
      "\n",
      "#",
      "{",
      "}",
      "=",
      "o",
      "1",
      "?",
      "inet ",
      "unix ",
    );
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 80 }), (text) => {
        try {
          parse(text);
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
        }
      }),
      { seed: 1234, numRuns: 300 },
    );
  });
});

describe("loadMasterCf", () => {
  test("reads master.cf from the configuration directory with default_process_limit", () => {
    const dir = mkdtempSync(join(tmpdir(), "postern-master-"));
    try {
      writeFileSync(join(dir, "main.cf"), "default_process_limit = 5\n");
      writeFileSync(join(dir, "master.cf"), "smtp inet n - n - - smtpd\n");
      const [smtp] = loadMasterCf(loadMainCf(dir));
      assert.equal(smtp?.maxproc, 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("reports a missing master.cf as a ConfigError", () => {
    const dir = mkdtempSync(join(tmpdir(), "postern-master-"));
    try {
      assert.throws(() => loadMasterCf(loadMainCf(dir)), {
        message: `open ${join(dir, "master.cf")}: No such file or directory`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
