/*
 * Tests for lib/smtp/policy/engine.ts and access.ts: list parsing and its configuration
 * errors, first-definite-result evaluation, evaluateAll across lists, warn_if_reject,
 * timeouts and failures that fail closed, table caching, and the access(5) search order.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LookupTable } from "../../../lib/maps/index.js";
import {
  addressKeys,
  buildStageLists,
  domainKeys,
  evaluate,
  evaluateAll,
  mailAddressKeys,
  PolicyConfigError,
  parseRestrictions,
  tokenizeRestrictions,
} from "../../../lib/smtp/policy/index.js";
import { makeCtx, makeEnv, render, run } from "./helpers.js";

describe("parseRestrictions", () => {
  it("parses names, map arguments and warn_if_reject", () => {
    const r = parseRestrictions(
      ["permit_mynetworks,", "warn_if_reject check_client_access hash:/etc/a", "REJECT"],
      "smtpd_client_restrictions",
    );
    assert.deepEqual(r, [
      { kind: "simple", name: "permit_mynetworks", list: "client", warnOnly: false },
      { kind: "map", name: "check_client_access", spec: "hash:/etc/a", list: "client", warnOnly: true },
      { kind: "simple", name: "reject", list: "client", warnOnly: false },
    ]);
  });

  it("keeps inline:{ ... } arguments whole", () => {
    assert.deepEqual(tokenizeRestrictions(["check_sender_access inline:{ a=b, { c = d e } },permit"]), [
      "check_sender_access",
      "inline:{ a=b, { c = d e } }",
      "permit",
    ]);
  });

  const errors: { list: string[]; message: string }[] = [
    {
      list: ["permit_mynetworks", "reject_unath_destination"],
      message: "smtpd_recipient_restrictions: unknown restriction: reject_unath_destination",
    },
    {
      list: ["check_client_access"],
      message: "smtpd_recipient_restrictions: restriction check_client_access requires a type:table argument",
    },
    {
      list: ["check_client_access", "permit"],
      message: "smtpd_recipient_restrictions: restriction check_client_access requires a type:table argument",
    },
    {
      list: ["permit", "warn_if_reject"],
      message: "smtpd_recipient_restrictions: warn_if_reject must be followed by a restriction",
    },
  ];
  for (const e of errors) {
    it(`refuses ${e.list.join(" ")} naming the parameter`, () => {
      assert.throws(
        () => parseRestrictions(e.list, "smtpd_recipient_restrictions"),
        (err: unknown) => {
          assert.ok(err instanceof PolicyConfigError);
          assert.equal(err.message, e.message);
          assert.equal(err.param, "smtpd_recipient_restrictions");
          return true;
        },
      );
    });
  }
});

describe("buildStageLists", () => {
  const defaults: Record<string, string[]> = {
    smtpd_relay_restrictions: ["permit_mynetworks", "permit_sasl_authenticated", "defer_unauth_destination"],
  };

  it("parses every list", () => {
    const lists = buildStageLists((p) => defaults[p] ?? []);
    assert.deepEqual(Object.keys(lists).sort(), ["client", "data", "helo", "recipient", "relay", "sender"]);
    assert.equal(lists.relay.length, 3);
  });

  it("names the parameter with the bad restriction", () => {
    assert.throws(
      () =>
        buildStageLists((p) => (p === "smtpd_helo_restrictions" ? ["reject_bogus"] : (defaults[p] ?? []))),
      { message: "smtpd_helo_restrictions: unknown restriction: reject_bogus" },
    );
  });

  it("refuses an open relay configuration", () => {
    assert.throws(() => buildStageLists(() => ["permit_mynetworks"]), /must specify at least one of reject/);
  });

  it("opens every table when given openMap, so a bad table type fails at startup", () => {
    const get = (p: string) =>
      p === "smtpd_client_restrictions" ? ["check_client_access", "foo:/x"] : (defaults[p] ?? []);
    const opened: string[] = [];
    assert.throws(
      () =>
        buildStageLists(get, {
          openMap: (spec) => {
            opened.push(spec);
            throw new Error(`unsupported dictionary type: ${spec.split(":")[0]}`);
          },
        }),
      { message: "smtpd_client_restrictions: check_client_access foo:/x: unsupported dictionary type: foo" },
    );
    assert.deepEqual(opened, ["foo:/x"]);
  });
});

describe("evaluate", () => {
  const cases: [string, string][] = [
    ["", "dunno"],
    ["permit reject", "permit"],
    ["dunno reject", "554 5.7.1 <alice@here.example>: Recipient address rejected: Access denied"],
    ["permit_mynetworks permit_sasl_authenticated", "dunno"],
  ];
  for (const [list, want] of cases) {
    it(`gives ${want} for "${list}": first definite result wins`, async () =>
      assert.equal(await run(list), want));
  }

  it("logs a warn_if_reject reject instead of applying it", async () => {
    const env = makeEnv();
    const r = await evaluate(
      parseRestrictions(["warn_if_reject reject_unauth_destination"], "smtpd_relay_restrictions"),
      makeCtx({ recipient: "u@remote.example" }),
      env,
    );
    assert.equal(render(r), "dunno");
    assert.deepEqual(env.warnings, [
      "reject_warning: reject_unauth_destination: 554 5.7.1 <u@remote.example>: Relay access denied",
    ]);
  });

  it("turns a hanging check into 451 4.3.5 after timeoutMs", async () => {
    const env = makeEnv({ timeoutMs: 30, localRecipient: () => new Promise(() => {}) });
    const started = Date.now();
    const r = await evaluate(
      parseRestrictions(["reject_unlisted_recipient", "permit"], "smtpd_recipient_restrictions"),
      makeCtx(),
      env,
    );
    assert.equal(render(r), "451 4.3.5 Server configuration problem");
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(env.warnings, ["reject_unlisted_recipient: timeout after 30ms"]);
  });

  it("turns a table that cannot be opened into 451 4.3.5 and logs why", async () => {
    const env = makeEnv({
      openMap: () => {
        throw new Error("unsupported dictionary type: foo");
      },
    });
    const r = await evaluate(
      parseRestrictions(["check_sender_access foo:/x permit"], "smtpd_sender_restrictions"),
      makeCtx(),
      env,
    );
    assert.equal(
      render(r),
      "451 4.3.5 <s@sender.example>: Sender address rejected: Server configuration error",
    );
    assert.deepEqual(env.warnings, [
      'foo:/x lookup error for "s@sender.example": unsupported dictionary type: foo',
    ]);
  });

  it("turns any other throwing check into 451 4.3.5", async () => {
    const env = makeEnv({ mynetworks: ["not-a-network"] });
    const r = await evaluate(
      parseRestrictions(["permit_mynetworks"], "smtpd_client_restrictions"),
      makeCtx(),
      env,
    );
    assert.equal(render(r), "451 4.3.5 Server configuration error");
    assert.match(
      env.warnings[0] ?? "",
      /^permit_mynetworks: mynetworks: unsupported or invalid network "not-a-network"/,
    );
  });

  it("opens each table once per environment", async () => {
    let opens = 0;
    const table: LookupTable = { spec: "x:y", lookup: async () => undefined };
    const env = makeEnv({
      openMap: () => {
        opens++;
        return table;
      },
    });
    const list = parseRestrictions(
      ["check_client_access x:y check_sender_access x:y"],
      "smtpd_client_restrictions",
    );
    for (let i = 0; i < 3; i++) assert.equal(render(await evaluate(list, makeCtx(), env)), "dunno");
    assert.equal(opens, 1);
  });
});

describe("evaluateAll", () => {
  const lists = (client: string, recipient: string) => [
    parseRestrictions([client], "smtpd_client_restrictions"),
    parseRestrictions([recipient], "smtpd_recipient_restrictions"),
  ];

  it("goes on to the next list after a permit", async () => {
    const r = await evaluateAll(
      lists("permit", "reject_unauth_destination"),
      makeCtx({ recipient: "u@remote.example" }),
      makeEnv(),
    );
    assert.equal(render(r), "554 5.7.1 <u@remote.example>: Relay access denied");
  });

  it("stops at the first reject", async () => {
    const r = await evaluateAll(lists("reject", "permit"), makeCtx(), makeEnv());
    assert.equal(render(r), "554 5.7.1 <unknown[203.0.113.5]>: Client host rejected: Access denied");
  });

  it("permits when a list permitted and nothing rejected", async () => {
    assert.equal(render(await evaluateAll(lists("permit", "dunno"), makeCtx(), makeEnv())), "permit");
    assert.equal(render(await evaluateAll(lists("dunno", "dunno"), makeCtx(), makeEnv())), "dunno");
  });

  it("carries a DNS deferral across lists", async () => {
    const all = [
      parseRestrictions(["reject_unknown_sender_domain"], "smtpd_sender_restrictions"),
      parseRestrictions(["permit"], "smtpd_recipient_restrictions"),
    ];
    const r = await evaluateAll(all, makeCtx({ sender: "s@tmp.example" }), makeEnv());
    assert.equal(render(r), "450 4.1.8 <s@tmp.example>: Sender address rejected: Domain not found");
  });
});

describe("access(5) search order", () => {
  it("tries a host name and its parent domains, then the address and its networks", () => {
    assert.deepEqual(domainKeys("mail.Example.com."), ["mail.example.com", "example.com", "com"]);
    assert.deepEqual(domainKeys("192.0.2.1"), ["192.0.2.1"]);
    assert.deepEqual(addressKeys("192.0.2.1"), ["192.0.2.1", "192.0.2", "192.0", "192"]);
    assert.deepEqual(addressKeys("2001:DB8::1"), ["2001:db8::1", "2001:db8:", "2001:db8", "2001"]);
    assert.deepEqual(addressKeys("::ffff:192.0.2.1"), ["192.0.2.1", "192.0.2", "192.0", "192"]);
  });

  it("tries user+ext@domain, user@domain, the domains, user+ext@, user@", () => {
    assert.deepEqual(mailAddressKeys("User+Ext@Sub.Example.com", "+"), [
      "user+ext@sub.example.com",
      "user@sub.example.com",
      "sub.example.com",
      "example.com",
      "com",
      "user+ext@",
      "user@",
    ]);
    assert.deepEqual(mailAddressKeys("user@example.com"), [
      "user@example.com",
      "example.com",
      "com",
      "user@",
    ]);
    assert.deepEqual(mailAddressKeys(""), ["<>"]);
  });

  it("asks the table in that order and stops at the first hit", async () => {
    const asked: string[] = [];
    const table: LookupTable = {
      spec: "spy:x",
      lookup: async (k) => {
        asked.push(k);
        return k === "1.2.3" ? "REJECT" : undefined;
      },
    };
    const env = makeEnv({ openMap: () => table });
    const r = await evaluate(
      parseRestrictions(["check_client_access spy:x"], "smtpd_client_restrictions"),
      makeCtx({ clientName: "host.example.com", clientIp: "1.2.3.4" }),
      env,
    );
    assert.equal(render(r), "554 5.7.1 <host.example.com[1.2.3.4]>: Client host rejected: Access denied");
    assert.deepEqual(asked, ["host.example.com", "example.com", "com", "1.2.3.4", "1.2.3"]);
  });
});
