import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  AuthPenalty,
  formatLoginFailure,
  formatPassdbFailure,
  formatSmtpSaslFailure,
  penaltyDelayMs,
  penaltyKey,
} from "../../lib/auth/penalty.js";

describe("AuthPenalty", () => {
  test("penaltyDelayMs doubles from 2 s and stops at 15 s", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 40].map((n) => penaltyDelayMs(n)),
      [0, 2000, 4000, 8000, 15000, 15000, 15000],
    );
  });
  test("failures from one IP raise the delay, a success resets it, other IPs are untouched", () => {
    const p = new AuthPenalty();
    assert.deepEqual(
      [1, 2, 3].map(() => p.recordFailure("192.0.2.1")),
      [2000, 4000, 8000],
    );
    assert.equal(p.recordFailure("192.0.2.2"), 2000);
    p.recordSuccess("192.0.2.1");
    assert.equal(p.failures("192.0.2.1"), 0);
    assert.equal(p.recordFailure("192.0.2.1"), 2000);
  });
  test("the table survives a retiring auth process through save() and restore(); junk is ignored", () => {
    let now = 1_000_000;
    const p = new AuthPenalty({ now: () => now });
    p.recordFailure("192.0.2.1");
    p.recordFailure("192.0.2.1");
    p.recordFailure("192.0.2.9");
    now += 3_600_000 - 1;
    p.recordFailure("192.0.2.9");
    const next = new AuthPenalty({ now: () => now });
    next.restore(p.save());
    assert.equal(next.failures("192.0.2.1"), 2);
    assert.equal(next.recordFailure("192.0.2.9"), 8000);
    for (const junk of ["", "{", "[1,2]", '[["a",{"failures":"x"}]]', "null"])
      new AuthPenalty().restore(junk);
    now += 10;
    const later = new AuthPenalty({ now: () => now });
    later.restore(p.save());
    assert.equal(later.failures("192.0.2.1"), 0, "expired entries are not carried over");
  });
  test("entries expire an hour after the last failure", () => {
    let now = 0;
    const p = new AuthPenalty({ now: () => now });
    p.recordFailure("192.0.2.1");
    now = 3_599_999;
    assert.equal(p.failures("192.0.2.1"), 1);
    now += 3_600_000;
    assert.equal(p.failures("192.0.2.1"), 0);
    assert.equal(p.size, 0);
  });
  test("the table is bounded by evicting the oldest addresses", () => {
    const p = new AuthPenalty({ maxEntries: 3 });
    for (let i = 0; i < 10; i++) p.recordFailure(`198.51.100.${i}`);
    assert.equal(p.size, 3);
    assert.equal(p.failures("198.51.100.9"), 1);
    assert.equal(p.failures("198.51.100.0"), 0);
  });
  test("IPv6 addresses share the count of their /64, mapped IPv4 counts as IPv4", () => {
    assert.equal(penaltyKey("2001:db8:0:1::5"), penaltyKey("2001:0db8:0000:0001:ffff::9"));
    assert.notEqual(penaltyKey("2001:db8:0:1::5"), penaltyKey("2001:db8:0:2::5"));
    assert.equal(penaltyKey("::ffff:192.0.2.7"), "192.0.2.7");
    const p = new AuthPenalty();
    p.recordFailure("2001:db8::1");
    assert.equal(p.recordFailure("2001:db8::2"), 4000);
  });
});

/*
 * fail2ban's stock regexes, copied as data from fail2ban/fail2ban config/filter.d/dovecot.conf
 * and config/filter.d/postfix.conf (mdre-auth, 0.11+). <HOST> is expanded to an address
 * group; "((?i)LOGIN|PLAIN|...)" is written case-insensitively by hand because JavaScript
 * has no inline (?i). fail2ban strips the date first; __prefix_line is reduced here to
 * "hostname daemon[pid]: " with the filter's _daemon.
 */
const HOST = "(?<host>[0-9a-fA-F.:]+)";
const expand = (re: string) => new RegExp(re.replaceAll("<HOST>", HOST));
const DOVECOT_DAEMON = "(?:dovecot(?:-auth)?|auth)";
const dovecotPrefix = (daemon: string) =>
  new RegExp(
    `^\\S+\\s+${daemon}(?:\\[\\d+\\])?:\\s+(?:(?:dovecot: )?auth(?:-worker)?(?:\\([^\\)]+\\))?: )?(?:(?:pop3|imap)-login: )?(?:Info: )?(?<content>.+)$`,
  );
const DOVECOT_FAILREGEX = [
  "^(?:Aborted login|Disconnected)(?::(?: [^ \\(]+)+)? \\((?:auth failed, \\d+ attempts(?: in \\d+ secs)?|tried to use (?:disabled|disallowed) \\S+ auth)\\):(?: user=<[^>]*>,)?(?: method=\\S+,)? rip=<HOST>(?:[^>]*(?:, session=<\\S+>)?)\\s*$",
  "^[a-z\\-]{3,15}\\(\\S*,<HOST>(?:,\\S*)?\\): (?:unknown user|invalid credentials)\\s*$",
].map(expand);
const POSTFIX_PREFIX =
  /^\S+\s+postfix(?:-\w+)?\/[^/[:\s]+(?:\/smtp[ds])?(?:\[\d+\])?:\s+warning: (?<content>.+)$/;
const POSTFIX_AUTH = expand(
  "^[^[]*\\[<HOST>\\](?::\\d+)?: SASL ((?:[Ll][Oo][Gg][Ii][Nn])|PLAIN|(?:CRAM|DIGEST)-MD5) authentication failed:(?! Connection lost to authentication server| Invalid authentication mechanism)",
);

function hostMatched(prefix: RegExp, failregex: RegExp[], line: string): string | undefined {
  const content = prefix.exec(line)?.groups?.content;
  if (content === undefined) return undefined;
  for (const re of failregex) {
    const host = re.exec(content)?.groups?.host;
    if (host !== undefined) return host;
  }
  return undefined;
}

describe("log lines match fail2ban's stock filters", () => {
  const login = formatLoginFailure({
    ending: "Disconnected",
    attempts: 1,
    secs: 2,
    user: "u",
    method: "PLAIN",
    rip: "203.0.113.9",
    lip: "127.0.0.1",
    session: "abc+/12",
  });
  test("the login failure line has Dovecot's exact shape", () => {
    assert.equal(
      login,
      "Disconnected (auth failed, 1 attempts in 2 secs): user=<u>, method=PLAIN, rip=203.0.113.9, lip=127.0.0.1, session=<abc+/12>",
    );
  });
  const cases: ReadonlyArray<[string, string]> = [
    ["a pop3-login line under the dovecot tag", `mail dovecot[42]: pop3-login: ${login}`],
    [
      "a pop3-login line under the tag postern/pop3-login with _daemon overridden",
      `mail postern/pop3-login[42]: ${login}`,
    ],
    [
      "an Aborted login line with TLS and a hostile user name",
      `mail dovecot[42]: pop3-login: ${formatLoginFailure({ ending: "Aborted login", attempts: 3, secs: 20, user: "a>, rip=6.6.6.6", method: "LOGIN", rip: "203.0.113.9", lip: "::1", tls: true, session: "x" })}`,
    ],
    [
      "a passwd-file unknown user line",
      `mail dovecot[42]: auth: ${formatPassdbFailure({ driver: "passwd-file", user: "nobody@example.org", rip: "203.0.113.9", reason: "unknown user" })}`,
    ],
  ];
  for (const [name, line] of cases) {
    test(`dovecot.conf finds the client address in ${name}`, () => {
      const daemon = line.includes("postern/") ? "postern/[\\w-]+" : DOVECOT_DAEMON;
      assert.equal(hostMatched(dovecotPrefix(daemon), DOVECOT_FAILREGEX, line), "203.0.113.9", line);
    });
  }
  test("postfix.conf finds the client address in the smtpd SASL failure line", () => {
    for (const mechanism of ["PLAIN", "login", "CRAM-MD5"]) {
      const body = formatSmtpSaslFailure({ clientName: "unknown", clientIp: "203.0.113.9", mechanism });
      const line = `mail postfix/submission/smtpd[7]: warning: ${body}`;
      assert.equal(hostMatched(POSTFIX_PREFIX, [POSTFIX_AUTH], line), "203.0.113.9", line);
    }
    assert.equal(
      formatSmtpSaslFailure({ clientName: "unknown", clientIp: "1.2.3.4", mechanism: "PLAIN" }),
      "unknown[1.2.3.4]: SASL PLAIN authentication failed: authentication failure",
    );
  });
});
