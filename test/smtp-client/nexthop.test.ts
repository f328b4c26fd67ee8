import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { openMap } from "../../lib/maps/index.js";
import {
  createResolver,
  type NexthopConfig,
  parseNexthop,
  resolveTargets,
  transportKeys,
} from "../../lib/smtp-client/nexthop.js";
import { type DnsServer, startDnsServer, type Zone } from "./dns-server.js";

const zone: Zone = {
  "example.test": {
    mx: [
      [20, "mx2.example.test"],
      [10, "mx1.example.test"],
    ],
  },
  "mx1.example.test": { a: ["127.0.0.1"] },
  "mx2.example.test": { a: ["127.0.0.2"], aaaa: ["::1"] },
  "equal.test": {
    mx: [
      [10, "a.equal.test"],
      [10, "b.equal.test"],
      [10, "c.equal.test"],
    ],
  },
  "a.equal.test": { a: ["127.0.1.1"] },
  "b.equal.test": { a: ["127.0.1.2"] },
  "c.equal.test": { a: ["127.0.1.3"] },
  "nomx.test": { a: ["127.0.0.9"] },
  "broken.test": { servfail: true },
  "dangling.test": { mx: [[10, "gone.test"]] },
  "relay.test": { a: ["127.0.0.5"] },
  "nullmx.test": { mx: [[0, ""]] },
};

describe("parseNexthop", () => {
  const cases: [string, ReturnType<typeof parseNexthop>][] = [
    ["[mail.example]:2525", { host: "mail.example", port: 2525, mxLookup: false }],
    ["[mail.example]", { host: "mail.example", port: 25, mxLookup: false }],
    ["example.org", { host: "example.org", port: 25, mxLookup: true }],
    ["example.org:587", { host: "example.org", port: 587, mxLookup: true }],
    ["[127.0.0.1]:10025", { host: "127.0.0.1", port: 10025, mxLookup: false }],
    ["127.0.0.1", { host: "127.0.0.1", port: 25, mxLookup: false }],
    ["[ipv6:::1]:26", { host: "::1", port: 26, mxLookup: false }],
    ["[x]:0", null],
    ["a b", null],
    ["", null],
  ];
  for (const [spec, want] of cases)
    it(`parses ${JSON.stringify(spec)}`, () => assert.deepEqual(parseNexthop(spec, 25), want));
});

describe("transportKeys", () => {
  it("searches the address, the domain, each parent domain and then the wildcard", () => {
    assert.deepEqual(transportKeys("U@Sub.Example.COM"), [
      "u@sub.example.com",
      "sub.example.com",
      ".example.com",
      ".com",
      "*",
    ]);
  });
});

describe("resolveTargets against a local DNS server", () => {
  let dns: DnsServer;
  let cfg: NexthopConfig;
  const resolver = () => createResolver([dns.address], 1000);
  const targets = async (rcpt: string, over: Partial<NexthopConfig> = {}) => {
    const r = await resolveTargets(rcpt, { ...cfg, ...over }, resolver());
    return r.ok ? r.targets.map((t) => `${t.hostname}[${t.address}]:${t.port}`) : r.error;
  };

  before(async () => {
    dns = await startDnsServer(zone);
    cfg = { transportMaps: [], relayhost: "", hostLookup: ["dns"], inetProtocols: ["ipv4"], defaultPort: 25 };
  });
  after(() => dns.close());

  it("orders MX hosts by preference and resolves their A records", async () => {
    assert.deepEqual(await targets("u@example.test"), [
      "mx1.example.test[127.0.0.1]:25",
      "mx2.example.test[127.0.0.2]:25",
    ]);
  });

  it("adds AAAA addresses when inet_protocols allows IPv6", async () => {
    assert.deepEqual(await targets("u@example.test", { inetProtocols: ["all"] }), [
      "mx1.example.test[127.0.0.1]:25",
      "mx2.example.test[127.0.0.2]:25",
      "mx2.example.test[::1]:25",
    ]);
  });

  it("shuffles MX hosts of equal preference with the injected random source", async () => {
    const seen = new Set<string>();
    for (const seq of [
      [0.1, 0.2, 0.3],
      [0.3, 0.2, 0.1],
      [0.2, 0.1, 0.3],
    ]) {
      let i = 0;
      const got = await targets("u@equal.test", { random: () => seq[i++ % 3] ?? 0 });
      assert.equal((got as string[]).length, 3);
      seen.add((got as string[])[0] ?? "");
    }
    assert.equal(seen.size, 3);
  });

  it("falls back to the domain's own address when it has no MX record", async () => {
    assert.deepEqual(await targets("u@nomx.test"), ["nomx.test[127.0.0.9]:25"]);
  });

  it("uses relayhost [host]:port without an MX lookup", async () => {
    assert.deepEqual(await targets("u@example.test", { relayhost: "[relay.test]:2525" }), [
      "relay.test[127.0.0.5]:2525",
    ]);
  });

  it("uses relayhost host:port with an MX lookup", async () => {
    assert.deepEqual(await targets("u@other.invalid", { relayhost: "example.test:2525" }), [
      "mx1.example.test[127.0.0.1]:2525",
      "mx2.example.test[127.0.0.2]:2525",
    ]);
  });

  it("prefers transport_maps over relayhost, matching parent domains and the wildcard", async () => {
    const maps = [
      openMap("inline:{ .example.test=smtp:[127.0.0.7]:26, *=smtp:[relay.test], x.test=local: }"),
    ];
    const over = { transportMaps: maps, relayhost: "[127.0.0.8]" };
    assert.deepEqual(await targets("u@sub.example.test", over), ["127.0.0.7[127.0.0.7]:26"]);
    assert.deepEqual(await targets("u@elsewhere.test", over), ["relay.test[127.0.0.5]:25"]);
    assert.deepEqual(await targets("u@x.test", over), ["127.0.0.8[127.0.0.8]:25"]);
  });

  it("reports a domain that does not exist as a permanent error", async () => {
    assert.deepEqual(await targets("u@nosuch.test"), {
      temporary: false,
      dsn: "5.4.4",
      text: "Host or domain name not found. Name service error for name=nosuch.test type=MX: Host not found",
    });
  });

  it("reports a failing name server as a temporary error", async () => {
    const r = await targets("u@broken.test");
    assert.equal((r as { dsn: string }).dsn, "4.4.3");
    assert.match((r as { text: string }).text, /name=broken\.test type=MX: Host not found, try again$/);
  });

  it("reports an MX host without addresses", async () => {
    const r = await targets("u@dangling.test");
    assert.equal((r as { dsn: string }).dsn, "5.4.4");
    assert.match((r as { text: string }).text, /name=gone\.test type=A/);
  });

  it("refuses a domain with a null MX (RFC 7505)", async () => {
    const r = await targets("u@nullmx.test");
    assert.equal((r as { dsn: string }).dsn, "5.1.0");
  });
});
