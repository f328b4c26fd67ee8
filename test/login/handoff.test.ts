import assert from "node:assert/strict";
import { test } from "node:test";
import { isLoopback, plainIp } from "../../lib/login/client-address.js";
import { handoffSocketPath, parseHandoff, parseHandoffReply } from "../../lib/login/handoff.js";

const HANDOFF = {
  user: "bob",
  home: "/home/bob",
  extra: { userdb_mail: "maildir:~/Maildir" },
  pipelined: "",
  rip: "192.0.2.7",
  lip: "127.0.0.1",
  tls: true,
  session: "s",
};

test("parseHandoff keeps an IMAP tag and the uid and gid", () => {
  assert.deepEqual(parseHandoff({ ...HANDOFF, uid: 1000, gid: 100, tag: "a1" }), {
    ...HANDOFF,
    uid: 1000,
    gid: 100,
    tag: "a1",
  });
});

test("parseHandoff accepts a POP3 hand-off without a tag", () => {
  assert.deepEqual(parseHandoff(HANDOFF), HANDOFF);
});

const MALFORMED: ReadonlyArray<[string, unknown]> = [
  ["a tag that is not a string", { ...HANDOFF, tag: 7 }],
  ["an empty user", { ...HANDOFF, user: "" }],
  ["extra fields that are not strings", { ...HANDOFF, extra: { a: 1 } }],
  ["a missing TLS flag", { ...HANDOFF, tls: undefined }],
  ["null", null],
];
for (const [name, value] of MALFORMED) {
  test(`parseHandoff refuses ${name}`, () => {
    assert.equal(parseHandoff(value), undefined);
  });
}

test("parseHandoffReply reads success and refusal", () => {
  assert.deepEqual(parseHandoffReply({ ok: true, pid: 9 }), { ok: true, pid: 9 });
  assert.deepEqual(parseHandoffReply({ ok: false, reason: "x" }), { ok: false, reason: "x" });
  assert.equal(parseHandoffReply({ ok: true }), undefined);
});

test("the hand-off socket is private/<service> in the queue directory", () => {
  assert.equal(handoffSocketPath("/var/spool/postern", "imap"), "/var/spool/postern/private/imap");
  assert.equal(handoffSocketPath("/var/spool/postern", "pop3"), "/var/spool/postern/private/pop3");
});

test("loopback is 127/8 and ::1, also IPv4-mapped, and mapped addresses log as IPv4", () => {
  for (const ip of ["127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1"]) assert.ok(isLoopback(ip), ip);
  for (const ip of ["10.0.0.1", "::2", "::ffff:10.0.0.1", "fe80::1"]) assert.ok(!isLoopback(ip), ip);
  assert.equal(plainIp("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(plainIp(undefined), "unknown");
});
