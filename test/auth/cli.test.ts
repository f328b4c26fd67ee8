import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { verifyPassword } from "../../lib/auth/schemes.js";
import { authTestCommand } from "../../lib/cli/auth-test.js";
import type { CliContext } from "../../lib/cli/context.js";
import { pwCommand } from "../../lib/cli/pw.js";

const dir = mkdtempSync(join(tmpdir(), "postern-authcli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function context(stdin = ""): { ctx: CliContext; out: string[] } {
  const out: string[] = [];
  const ctx: CliContext = {
    configDir: dir,
    verbose: false,
    out: (t) => void out.push(t),
    err: (t) => void out.push(t),
    warn: (t) => void out.push(`warning: ${t}`),
    stdin: async () => Buffer.from(stdin),
  };
  return { ctx, out };
}

test("postern pw -s SCHEME prints a {SCHEME} hash of the -p password or the stdin line", async () => {
  const a = context();
  assert.equal(await pwCommand.run(a.ctx, ["-s", "sha256-crypt", "-p", "pw"]), 0);
  assert.match(a.out[0] ?? "", /^\{SHA256-CRYPT\}\$5\$/);
  assert.equal(await verifyPassword(a.out[0] ?? "", "pw"), true);
  const b = context("from stdin\n");
  await pwCommand.run(b.ctx, ["-s", "PLAIN"]);
  assert.deepEqual(b.out, ["{PLAIN}from stdin"]);
});

test("postern auth test succeeds with exit 0 and fails with exit 77", async () => {
  writeFileSync(join(dir, "main.cf"), `user_passdb = ${join(dir, "users")}\nlocal_system_users = no\n`);
  writeFileSync(join(dir, "users"), "tim:{PLAIN}secret::::/home/tim::\n");
  const good = context();
  assert.equal(await authTestCommand.run(good.ctx, ["test", "tim", "secret"]), 0);
  assert.deepEqual(good.out, ["passdb: tim auth succeeded"]);
  const bad = context("wrong\n");
  assert.equal(await authTestCommand.run(bad.ctx, ["test", "tim"]), 77);
  assert.deepEqual(bad.out, ["passdb: tim auth failed"]);
  assert.equal(await authTestCommand.run(context().ctx, ["test", "nobody", "x"]), 77);
});
