// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${name} is main.cf expansion syntax here, not a template
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { expandParam } from "../../lib/config/expand.js";
import { ConfigError, loadMainCf, mainCfFromText } from "../../lib/config/index.js";
import { ALL_PARAMS, P, type ParamDef } from "../../lib/config/params.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "postern-config-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function withMainCf(name: string, text: string | undefined): string {
  const d = join(dir, name);
  mkdirSync(d);
  if (text !== undefined) writeFileSync(join(d, "main.cf"), text);
  return d;
}

describe("loadMainCf", () => {
  test("uses defaults when main.cf is missing", () => {
    const d = withMainCf("missing", undefined);
    const main = loadMainCf(d);
    assert.equal(main.file, join(d, "main.cf"));
    assert.equal(main.explicit.size, 0);
    assert.equal(main.get(P.message_size_limit), 10240000);
    assert.equal(main.get(P.smtpd_helo_required), false);
    assert.equal(main.get(P.maximal_queue_lifetime), 5 * 86400);
  });

  test("throws ConfigError when the directory does not exist", () => {
    assert.throws(
      () => loadMainCf(join(dir, "nope")),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /nope: No such file or directory$/);
        return true;
      },
    );
  });

  test("reports a syntax error with the file path and line", () => {
    const d = withMainCf("syntax", "a = 1\nfoo\n");
    assert.throws(() => loadMainCf(d), {
      message: `${join(d, "main.cf")}, line 2: missing '=' after attribute name: "foo"`,
    });
  });

  test("reads values, expands them and converts them", () => {
    const d = withMainCf(
      "values",
      "myhostname = mx.example.org\nmessage_size_limit = 2048\nfoo = $myhostname!\n",
    );
    const main = loadMainCf(d);
    assert.equal(main.raw("smtpd_banner"), "$myhostname ESMTP $mail_name");
    assert.equal(main.expand("smtpd_banner"), "mx.example.org ESMTP Postern");
    assert.equal(main.get(P.smtpd_banner), "mx.example.org ESMTP Postern");
    assert.equal(main.get(P.message_size_limit), 2048);
    assert.deepEqual(main.get(P.mydestination), ["mx.example.org", "localhost.example.org", "localhost"]);
    assert.equal(main.expand("foo"), "mx.example.org!");
    assert.equal(main.expandText("<$foo>"), "<mx.example.org!>");
    assert.deepEqual(main.unknownNames(), ["foo"]);
  });

  test("lets overrides win over main.cf, with line 0", () => {
    const d = withMainCf("overrides", "smtpd_timeout = 10s\nmail_name = A\n");
    const main = loadMainCf(d, { overrides: { smtpd_timeout: " 20s ", mail_owner: "x" } });
    assert.equal(main.get(P.smtpd_timeout), 20);
    assert.deepEqual(main.explicit.get("smtpd_timeout"), { value: "20s", line: 0 });
    assert.deepEqual(main.explicit.get("mail_name"), { value: "A", line: 2 });
    assert.equal(main.get(P.mail_owner), "x");
  });

  test("always sets config_directory to the directory given", () => {
    const d = withMainCf("confdir", "config_directory = /elsewhere\n");
    const main = loadMainCf(d);
    assert.equal(main.raw("config_directory"), d);
    assert.equal(main.expand("user_passdb"), `${d}/users`);
    assert.deepEqual(main.explicit.get("config_directory"), { value: d, line: 1 });
    assert.equal(mainCfFromText("", { configDir: "/c" }).get(P.config_directory), "/c");
  });

  test("names the file and line of a bad value", () => {
    const d = withMainCf("badvalue", "# x\n\nmessage_size_limit = 10x\n");
    const main = loadMainCf(d);
    assert.throws(() => main.get(P.message_size_limit), {
      message: `${join(d, "main.cf")}, line 3: bad numerical configuration: message_size_limit = 10x`,
    });
  });

  test("reports a value out of bounds", () => {
    const main = mainCfFromText("unknown_local_recipient_reject_code = 250", { configDir: "/c" });
    assert.throws(() => main.get(P.unknown_local_recipient_reject_code), {
      message: "/c/main.cf, line 1: invalid unknown_local_recipient_reject_code parameter value 250 < 400",
    });
  });

  test("reports a recursion loop with the chain, file and line", () => {
    const main = mainCfFromText("a = $b\nb = $a\nmyorigin = $a\n", { configDir: "/c" });
    assert.throws(() => main.expand("a"), {
      message: "/c/main.cf, line 1: parameter a: recursion loop: a -> b -> a",
    });
    assert.throws(() => main.get(P.myorigin), {
      message: "/c/main.cf, line 3: parameter myorigin: recursion loop: myorigin -> a -> b -> a",
    });
  });

  test("does not expand parameters of kind raw", () => {
    const rawDef: ParamDef<"raw"> = { name: "my_raw", kind: "raw", default: "$x", doc: "d" };
    const main = mainCfFromText("x = 1", { configDir: "/c" });
    assert.equal(main.get(rawDef), "$x");
  });

  test("uses a private ParamDef's default when main.cf does not set it", () => {
    const own: ParamDef<"time"> = { name: "own_timeout", kind: "time", default: "${x?2m}", doc: "d" };
    assert.equal(mainCfFromText("x = 1", { configDir: "/c" }).get(own), 120);
    assert.equal(mainCfFromText("own_timeout = 5", { configDir: "/c" }).get(own), 5);
  });

  test("caches typed values", () => {
    const main = mainCfFromText("", { configDir: "/c" });
    assert.equal(main.get(P.mydestination), main.get(P.mydestination));
  });

  test("returns undefined raw text and empty expansion for an unknown name", () => {
    const main = mainCfFromText("", { configDir: "/c" });
    assert.equal(main.raw("no_such_thing"), undefined);
    assert.equal(main.expand("no_such_thing"), "");
  });

  test("derives mydomain from the configured myhostname", () => {
    assert.equal(
      mainCfFromText("myhostname = mx.example.org", { configDir: "/c" }).expand("mydomain"),
      "example.org",
    );
    assert.equal(mainCfFromText("myhostname = bare", { configDir: "/c" }).expand("mydomain"), "localdomain");
  });

  test("lists $names referenced by explicit values that have no value", () => {
    const main = mainCfFromText("a = $ghost $myhostname\nb = ${phantom?x}", { configDir: "/c" });
    assert.deepEqual(main.unknownReferences(), ["ghost", "phantom"]);
  });
});

describe("the parameter table", () => {
  const d = mkdtempSync(join(tmpdir(), "postern-params-"));
  const main = loadMainCf(d);
  after(() => rmSync(d, { recursive: true, force: true }));
  // $home is a local(8) delivery-time variable, not a parameter (see the report on forward_path).
  const deliveryTimeNames = new Set(["home", "user", "extension", "recipient", "domain", "local", "shell"]);
  for (const def of ALL_PARAMS) {
    test(`${def.name} has a doc line and a default that converts to ${def.kind}`, () => {
      assert.ok(def.doc.trim().length > 10, "doc is missing");
      assert.ok(/^[a-z0-9_]+$/.test(def.name), "name is not a main.cf name");
      assert.doesNotThrow(() => main.get(def));
      const expansion = expandParam(def.name, { raw: (n) => main.raw(n) });
      assert.deepEqual(
        expansion.unknown.filter((n) => !deliveryTimeNames.has(n)),
        [],
      );
    });
  }
});
