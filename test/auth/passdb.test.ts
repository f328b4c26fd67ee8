import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { lookupPassdb } from "../../lib/auth/passdb.js";
import { verifyApop } from "../../lib/auth/sasl.js";
import { apopDigest } from "../../lib/pop3/login-engine.js";

const dir = mkdtempSync(join(tmpdir(), "postern-passdb-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const users = join(dir, "users");
writeFileSync(
  users,
  [
    "# comment",
    "tim@example.org:{PLAIN}secret:5000:5000::/var/vmail/%d/%n::userdb_quota_rule=*:storage=1G",
    "bob:{SHA512-CRYPT}$6$x$y:::::",
    "",
  ].join("\n"),
);
const passwd = join(dir, "passwd");
writeFileSync(
  passwd,
  "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/sh\nlocked:x:1001:1001::/home/locked:/bin/sh\n",
);
const shadow = join(dir, "shadow");
writeFileSync(
  shadow,
  "root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19000:0:99999:7:::\nlocked:!$6$a$b:19000::::::\n",
);

describe("lookupPassdb", () => {
  test("finds a user@domain in the passwd-file with %d/%n expanded in home and extra fields", async () => {
    assert.deepEqual(await lookupPassdb("tim@example.org", { passwdFile: users }), {
      user: "tim@example.org",
      password: "{PLAIN}secret",
      uid: 5000,
      gid: 5000,
      home: "/var/vmail/example.org/tim",
      extra: { userdb_quota_rule: "*:storage=1G" },
      source: "passwd-file",
    });
  });
  test("unknown users and a missing file give undefined", async () => {
    assert.equal(await lookupPassdb("nobody", { passwdFile: users }), undefined);
    assert.equal(await lookupPassdb("tim", { passwdFile: join(dir, "missing") }), undefined);
  });
  test("system users come from passwd + shadow only when enabled", async () => {
    const opts = { passwdFile: users, systemUsers: true, passwdPath: passwd, shadowPath: shadow };
    assert.equal((await lookupPassdb("alice", opts))?.password, "$6$salt$hash");
    assert.equal((await lookupPassdb("alice", opts))?.home, "/home/alice");
    assert.equal(await lookupPassdb("alice", { passwdFile: users }), undefined);
    assert.equal((await lookupPassdb("locked", opts))?.password, "");
    assert.equal(await lookupPassdb("alice@example.org", opts), undefined);
    assert.equal((await lookupPassdb("bob", opts))?.source, "passwd-file");
  });
  test("an unreadable shadow file yields no password and a warning", async () => {
    const warnings: string[] = [];
    const e = await lookupPassdb("alice", {
      systemUsers: true,
      passwdPath: passwd,
      shadowPath: join(dir, "none"),
      onWarning: (w) => warnings.push(w),
    });
    assert.equal(e?.password, "");
    assert.equal(warnings.length, 1);
  });
});

describe("verifyApop", () => {
  test("checks the digest against a plaintext password and refuses hashed ones", () => {
    const ts = "<1896.697170952@dbc.mtview.ca.us>";
    assert.equal(verifyApop("{PLAIN}tanstaaf", ts, "c4c9334bac560ecc979e58001b3e22fb"), true);
    assert.equal(verifyApop("{PLAIN}tanstaaf", ts, apopDigest(ts, "other")), false);
    assert.equal(verifyApop("{SHA512-CRYPT}$6$a$b", ts, "c4c9334bac560ecc979e58001b3e22fb"), false);
  });
});
