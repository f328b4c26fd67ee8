import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLogin, formatLoginEnd, type LoginEnd } from "../../lib/imap-login/log-lines.js";

const BASE: LoginEnd = {
  ending: "Disconnected",
  attempts: 0,
  secs: 3,
  triedPlaintext: false,
  triedUnsupportedMechanism: false,
  aborted: false,
  rip: "192.0.2.7",
  lip: "127.0.0.1",
  tls: false,
  session: "abc",
};

const CASES: ReadonlyArray<[string, Partial<LoginEnd>, string]> = [
  [
    "no attempts",
    {},
    "Disconnected (no auth attempts in 3 secs): rip=192.0.2.7, lip=127.0.0.1, session=<abc>",
  ],
  [
    "failed attempts, as fail2ban's dovecot filter reads them",
    { attempts: 2, user: "bob", method: "PLAIN", tls: true },
    "Disconnected (auth failed, 2 attempts in 3 secs): user=<bob>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, TLS, session=<abc>",
  ],
  [
    "a plaintext login where it is not allowed",
    { attempts: 1, user: "bob", method: "PLAIN", triedPlaintext: true },
    "Disconnected (tried to use disallowed plaintext auth): user=<bob>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, session=<abc>",
  ],
  [
    "an unsupported mechanism",
    { attempts: 1, method: "GSSAPI", triedUnsupportedMechanism: true },
    "Disconnected (tried to use unsupported auth mechanism): method=GSSAPI, rip=192.0.2.7, lip=127.0.0.1, session=<abc>",
  ],
  [
    "one cancelled exchange",
    { attempts: 1, method: "LOGIN", aborted: true, ending: "Aborted login" },
    "Aborted login (auth aborted): method=LOGIN, rip=192.0.2.7, lip=127.0.0.1, session=<abc>",
  ],
  [
    "a hostile user name is sanitised",
    { attempts: 1, user: "a>b, c\r\n", method: "PLAIN" },
    "Disconnected (auth failed, 1 attempts in 3 secs): user=<a?b??c??>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, session=<abc>",
  ],
];

for (const [name, fields, expected] of CASES) {
  test(`formatLoginEnd writes Dovecot's line for ${name}`, () => {
    assert.equal(formatLoginEnd({ ...BASE, ...fields }), expected);
  });
}

test("formatLogin writes Dovecot's Login line with mpid and TLS", () => {
  assert.equal(
    formatLogin({
      user: "bob",
      method: "PLAIN",
      rip: "192.0.2.7",
      lip: "127.0.0.1",
      mpid: 42,
      tls: true,
      session: "s",
    }),
    "Login: user=<bob>, method=PLAIN, rip=192.0.2.7, lip=127.0.0.1, mpid=42, TLS, session=<s>",
  );
});
