import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ConfigError } from "../../lib/config/errors.js";
import { mainCfFromText } from "../../lib/config/index.js";
import { inetEndpoints } from "../../lib/config/master-cf.js";

let dir: string;
let services: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "postern-inet-"));
  services = join(dir, "services");
  writeFileSync(
    services,
    "# services\nsmtp\t\t25/tcp\t\tmail\nsmtp\t\t25/udp\nsubmission\t587/tcp\nweird 2525/tcp  altsmtp # comment\nudponly 999/udp\n",
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

function endpoints(service: string, mainCf = ""): string[] {
  const main = mainCfFromText(mainCf, { configDir: "/etc/postern" });
  return inetEndpoints(service, main, services).map((e) => `${e.family} ${e.host} ${e.port}`);
}

describe("inetEndpoints address forms", () => {
  const cases: ReadonlyArray<[string, string, string[]]> = [
    ["a bare port", "25", ["4 0.0.0.0 25", "6 :: 25"]],
    ["a service name", "smtp", ["4 0.0.0.0 25", "6 :: 25"]],
    ["a service alias", "altsmtp", ["4 0.0.0.0 2525", "6 :: 2525"]],
    ["a name only the built-in table knows", "imaps", ["4 0.0.0.0 993", "6 :: 993"]],
    ["host:port", "127.0.0.1:25", ["4 127.0.0.1 25"]],
    ["[host]:port", "[127.0.0.1]:10025", ["4 127.0.0.1 10025"]],
    ["[::1]:port", "[::1]:25", ["6 ::1 25"]],
    ["host:name", "192.0.2.1:submission", ["4 192.0.2.1 587"]],
    ["localhost:port", "localhost:24", ["4 127.0.0.1 24", "6 ::1 24"]],
    ["*:port", "*:25", ["4 0.0.0.0 25", "6 :: 25"]],
  ];
  for (const [what, service, expected] of cases) {
    test(`resolves ${what} (${service})`, () => assert.deepEqual(endpoints(service), expected));
  }
});

describe("inetEndpoints with inet_interfaces and inet_protocols", () => {
  const cases: ReadonlyArray<[string, string, string[]]> = [
    ["all/all", "inet_interfaces = all\ninet_protocols = all", ["4 0.0.0.0 25", "6 :: 25"]],
    ["all/ipv4", "inet_protocols = ipv4", ["4 0.0.0.0 25"]],
    ["all/ipv6", "inet_protocols = ipv6", ["6 :: 25"]],
    ["all/ipv4, ipv6", "inet_protocols = ipv4, ipv6", ["4 0.0.0.0 25", "6 :: 25"]],
    ["loopback-only/all", "inet_interfaces = loopback-only", ["4 127.0.0.1 25", "6 ::1 25"]],
    ["loopback-only/ipv4", "inet_interfaces = loopback-only\ninet_protocols = ipv4", ["4 127.0.0.1 25"]],
    ["loopback-only/ipv6", "inet_interfaces = loopback-only\ninet_protocols = ipv6", ["6 ::1 25"]],
    [
      "an address list/all",
      "inet_interfaces = 192.0.2.1, [2001:db8::1] 2001:db8::2",
      ["4 192.0.2.1 25", "6 2001:db8::1 25", "6 2001:db8::2 25"],
    ],
    [
      "an address list/ipv4",
      "inet_interfaces = 192.0.2.1 [2001:db8::1]\ninet_protocols = ipv4",
      ["4 192.0.2.1 25"],
    ],
    [
      "an address list/ipv6",
      "inet_interfaces = 192.0.2.1 [2001:db8::1]\ninet_protocols = ipv6",
      ["6 2001:db8::1 25"],
    ],
    ["localhost in the list", "inet_interfaces = localhost\ninet_protocols = ipv4", ["4 127.0.0.1 25"]],
    ["a $name in inet_interfaces", "lan = 10.0.0.1\ninet_interfaces = $lan", ["4 10.0.0.1 25"]],
  ];
  for (const [what, mainCf, expected] of cases) {
    test(`listens on ${what}`, () => assert.deepEqual(endpoints("25", mainCf), expected));
  }

  test("ignores inet_interfaces for an explicit address", () => {
    assert.deepEqual(endpoints("127.0.0.1:25", "inet_interfaces = 192.0.2.1"), ["4 127.0.0.1 25"]);
  });
});

describe("inetEndpoints errors", () => {
  const errors: ReadonlyArray<[string, string, string, string]> = [
    ["an unknown service name", "nosuch", "", "service nosuch: unknown service: nosuch/tcp"],
    ["a udp-only service", "udponly", "", "service udponly: unknown service: udponly/tcp"],
    ["port 0", "0", "", "service 0: bad port number: 0"],
    ["a port above 65535", "127.0.0.1:65536", "", "service 127.0.0.1:65536: bad port number: 65536"],
    [
      "an unbracketed IPv6 address",
      "::1:25",
      "",
      "service ::1:25: an IPv6 address must be written in brackets: [address]:port",
    ],
    ["a bracket without port", "[::1]", "", "service [::1]: expected [address]:port"],
    [
      "a host name",
      "mail.example.org:25",
      "",
      "service mail.example.org:25: mail.example.org is not an IP address (host names are not resolved for listening)",
    ],
    [
      "an address of a disabled family",
      "[::1]:25",
      "inet_protocols = ipv4",
      "service [::1]:25: no address of ::1 is usable with inet_protocols = ipv4",
    ],
    [
      "interfaces of a disabled family only",
      "25",
      "inet_interfaces = 192.0.2.1\ninet_protocols = ipv6",
      "service 25: no address of inet_interfaces is usable with inet_protocols = ipv6",
    ],
  ];
  for (const [what, service, mainCf, detail] of errors) {
    test(`reports ${what} naming master.cf and the line`, () => {
      const main = mainCfFromText(mainCf, { configDir: "/etc/postern" });
      assert.throws(
        () => inetEndpoints({ name: service, line: 12 }, main, services),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.equal(err.message, `/etc/postern/master.cf, line 12: ${detail}`);
          return true;
        },
      );
    });
  }

  test("names only master.cf when given just a service name", () => {
    const main = mainCfFromText("", { configDir: "/etc/postern" });
    assert.throws(() => inetEndpoints("nosuch", main, services), {
      message: "/etc/postern/master.cf: service nosuch: unknown service: nosuch/tcp",
    });
  });

  test("reports a bad inet_protocols value with main.cf and its line", () => {
    assert.throws(() => endpoints("25", "\ninet_protocols = ipv5"), {
      message: "/etc/postern/main.cf, line 2: bad inet_protocols value: ipv5",
    });
  });

  test("reports a bad inet_interfaces value with main.cf and its line", () => {
    assert.throws(() => endpoints("25", "inet_interfaces = eth0"), {
      message: "/etc/postern/main.cf, line 1: bad inet_interfaces value: eth0: expected an IP address",
    });
  });

  test("falls back to the built-in ports when the services file is missing", () => {
    const main = mainCfFromText("inet_protocols = ipv4", { configDir: "/c" });
    assert.deepEqual(inetEndpoints("submission", main, join(dir, "absent")), [
      { host: "0.0.0.0", port: 587, family: 4 },
    ]);
  });
});
