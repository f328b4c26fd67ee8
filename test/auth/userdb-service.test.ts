/*
 * userdb-service — the auth service's userdb request over its real socket protocol: the
 * user, or else the first of alsoTry that exists (smtpd sends every form of a recipient
 * address in one request), and unknown when none does.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { AuthClient } from "../../lib/auth/client.js";
import { AuthPenalty } from "../../lib/auth/penalty.js";
import { serveAuth } from "../../lib/auth/service.js";
import { Logger } from "../../lib/log/index.js";

test("userdb answers for the user or the first of alsoTry that exists, in one request", async () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-userdb-"));
  mkdirSync(join(dir, "private"));
  const passwdFile = join(dir, "users");
  writeFileSync(passwdFile, `bob:*::::${dir}/bob::\nann@example.org:*::::${dir}/ann::\n`);
  const svc = {
    settings: { passwdFile, systemUsers: false, maxDelayMs: 0, timeoutMs: 5000 },
    log: new Logger({ file: join(dir, "log"), tag: "postern/auth", host: "test" }),
    penalty: new AuthPenalty(),
  };
  const server = createServer((socket) => void serveAuth(socket, svc));
  await new Promise<void>((resolve) => server.listen(join(dir, "private", "auth"), resolve));
  const client = new AuthClient(dir, 5000);
  try {
    const bob = await client.userdb("bob@localhost", ["bob@localhost", "bob"]);
    assert.equal(bob.ok && bob.user.user, "bob");
    const ann = await client.userdb("ann@example.org", ["ann"]);
    assert.equal(ann.ok && ann.user.user, "ann@example.org");
    const nobody = await client.userdb("eve@localhost", ["eve"]);
    assert.equal(nobody.ok, false);
    assert.deepEqual(
      { ...nobody, deps: undefined },
      { ok: false, temporary: false, reason: "unknown user", deps: undefined },
    );
    assert.deepEqual(
      nobody.deps?.map((d) => d.path),
      [passwdFile],
    );
    const plain = await client.userdb("bob");
    assert.equal(plain.ok && plain.user.user, "bob");
  } finally {
    client.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
