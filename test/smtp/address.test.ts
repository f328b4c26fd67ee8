/*
 * Tests for lib/smtp/address.ts: splitting, FQDN checks, extension stripping and address
 * classification — including every classic relay trick, which must come out either as a
 * remote destination or as a local (unknown) user marked routed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type AddressContext,
  classifyAddress,
  domainMatches,
  isFqdn,
  isValidHostname,
  splitAddress,
  stripExtension,
  stripSourceRoute,
} from "../../lib/smtp/address.js";

describe("splitAddress", () => {
  const cases: [string, { localPart: string; domain: string; quoted: boolean }][] = [
    ["user@Example.ORG", { localPart: "user", domain: "example.org", quoted: false }],
    ["user@example.org.", { localPart: "user", domain: "example.org", quoted: false }],
    ["postmaster", { localPart: "postmaster", domain: "", quoted: false }],
    ['"user@remote"@here', { localPart: "user@remote", domain: "here", quoted: true }],
    ['"a\\"b"@here', { localPart: 'a"b', domain: "here", quoted: true }],
    ["user@remote@here", { localPart: "user@remote", domain: "here", quoted: false }],
    ["@here,@there:user@remote", { localPart: "user", domain: "remote", quoted: false }],
    ["user@[192.0.2.1]", { localPart: "user", domain: "[192.0.2.1]", quoted: false }],
    ["", { localPart: "", domain: "", quoted: false }],
  ];
  for (const [input, want] of cases) {
    it(`splits ${JSON.stringify(input)}`, () => assert.deepEqual(splitAddress(input), want));
  }

  it("strips source routes only from addresses that start with @", () => {
    assert.equal(stripSourceRoute("@a,@b:u@d"), "u@d");
    assert.equal(stripSourceRoute("u@d"), "u@d");
    assert.equal(stripSourceRoute("@nocolon"), "@nocolon");
  });

  it("never throws and always lower-cases the domain", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const p = splitAddress(s);
        assert.equal(p.domain, p.domain.toLowerCase());
      }),
      { seed: 3, numRuns: 500 },
    );
  });
});

describe("host name checks", () => {
  const fqdn: [string, boolean][] = [
    ["mail.example.org", true],
    ["mail.example.org.", true],
    ["MAIL.Example.Org", true],
    ["localhost", false],
    ["", false],
    ["-bad.example", false],
    ["a..b", false],
    ["1.2.3.4", false],
    ["under_score.example", true],
    [`${"a".repeat(64)}.example`, false],
  ];
  for (const [name, want] of fqdn) {
    it(`isFqdn(${JSON.stringify(name)}) is ${want}`, () => assert.equal(isFqdn(name), want));
  }

  it("accepts single-label names as valid but not fully qualified", () => {
    assert.equal(isValidHostname("localhost"), true);
    assert.equal(isFqdn("localhost"), false);
  });
});

describe("domainMatches", () => {
  const cases: [string, string, boolean, boolean][] = [
    ["example.org", "example.org", false, true],
    ["EXAMPLE.org.", "example.org", false, true],
    ["sub.example.org", "example.org", false, false],
    ["sub.example.org", "example.org", true, true],
    ["sub.example.org", ".example.org", false, true],
    ["example.org", ".example.org", true, false],
    ["badexample.org", "example.org", true, false],
  ];
  for (const [domain, pattern, parent, want] of cases) {
    it(`${domain} ${want ? "matches" : "does not match"} ${pattern}${parent ? " (parent style)" : ""}`, () =>
      assert.equal(domainMatches(domain, pattern, parent), want));
  }
});

describe("classifyAddress", () => {
  const ctx: AddressContext = {
    mydestination: ["here.example", "localhost", ".lan.example"],
    relayDomains: ["relayed.example"],
    myAddresses: ["192.0.2.10"],
  };
  const cases: { addr: string; kind: "local" | "relay" | "remote"; routed: boolean; why: string }[] = [
    { addr: "user@here.example", kind: "local", routed: false, why: "a plain local address" },
    { addr: "user@HERE.example.", kind: "local", routed: false, why: "case and trailing dot are ignored" },
    { addr: "user", kind: "local", routed: false, why: "an unqualified address is local" },
    {
      addr: "user@box.lan.example",
      kind: "local",
      routed: false,
      why: "a .domain pattern matches subdomains",
    },
    { addr: "user@relayed.example", kind: "relay", routed: false, why: "a relay domain" },
    {
      addr: "user@mx.relayed.example",
      kind: "relay",
      routed: false,
      why: "relay_domains matches subdomains",
    },
    { addr: "user@remote.example", kind: "remote", routed: false, why: "a remote address" },
    {
      addr: "user%remote.example@here.example",
      kind: "local",
      routed: true,
      why: "the percent hack is an unknown local user",
    },
    {
      addr: '"user@remote.example"@here.example',
      kind: "local",
      routed: true,
      why: "a quoted @ is an unknown local user",
    },
    {
      addr: "user@remote.example@here.example",
      kind: "local",
      routed: true,
      why: "a second @ is an unknown local user",
    },
    {
      addr: "remote.example!user@here.example",
      kind: "local",
      routed: true,
      why: "a bang path is an unknown local user",
    },
    {
      addr: "@here.example:user@remote.example",
      kind: "remote",
      routed: false,
      why: "a source route is stripped",
    },
    {
      addr: "@remote.example:user@here.example",
      kind: "local",
      routed: false,
      why: "a route to us is stripped too",
    },
    { addr: "user@[127.0.0.1]", kind: "remote", routed: false, why: "a literal that is not ours is remote" },
    { addr: "user@[192.0.2.10]", kind: "local", routed: false, why: "our own address literal is local" },
    {
      addr: "user@[IPv6:::1]",
      kind: "remote",
      routed: false,
      why: "an IPv6 literal that is not ours is remote",
    },
    { addr: "user@[bogus]", kind: "remote", routed: false, why: "a malformed literal is remote" },
  ];
  for (const c of cases) {
    it(`classifies ${c.addr} as ${c.kind}${c.routed ? " (routed)" : ""}: ${c.why}`, () => {
      const r = classifyAddress(c.addr, ctx);
      assert.equal(r.kind, c.kind);
      assert.equal(r.routed, c.routed);
    });
  }

  it("treats address literals as remote when no own addresses are configured", () => {
    assert.equal(classifyAddress("u@[192.0.2.10]", { mydestination: [], relayDomains: [] }).kind, "remote");
  });
});

describe("stripExtension", () => {
  const cases: [string, string, string][] = [
    ["user+ext", "+", "user"],
    ["user+a+b", "+", "user"],
    ["user-ext", "+-", "user"],
    ["user", "+", "user"],
    ["+ext", "+", "+ext"],
    ["user+ext", "", "user+ext"],
  ];
  for (const [local, delim, want] of cases) {
    it(`strips ${JSON.stringify(local)} with delimiter ${JSON.stringify(delim)} to ${JSON.stringify(want)}`, () =>
      assert.equal(stripExtension(local, delim), want));
  }
});
