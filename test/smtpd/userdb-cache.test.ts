/*
 * userdb-cache — smtpd answers repeated auth:userdb lookups (local_recipient_maps) itself,
 * from auth's answers and the signatures of the files they were read from, with the same
 * freshness as asking auth: a user removed from the passwd-file is unknown at the very
 * next lookup, a new one known at once, positive and negative answers are both kept.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileDeps } from "../../lib/auth/file-deps.js";
import { AuthPenalty } from "../../lib/auth/penalty.js";
import { serveAuth } from "../../lib/auth/service.js";
import { mainCfFromText } from "../../lib/config/index.js";
import { Logger } from "../../lib/log/index.js";
import { localRecipientLookup } from "../../lib/smtpd/policy-hooks.js";
import { UserdbCache } from "../../lib/smtpd/userdb-cache.js";

async function withAuth(
  run: (ctx: { dir: string; passwdFile: string; requests: () => number }) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "postern-udbc-"));
  mkdirSync(join(dir, "private"));
  const passwdFile = join(dir, "users");
  writeFileSync(passwdFile, `bob:*::::${dir}/bob::\n`);
  const svc = {
    settings: { passwdFile, systemUsers: false, maxDelayMs: 0, timeoutMs: 5000 },
    log: new Logger({ file: join(dir, "log"), tag: "postern/auth", host: "test" }),
    penalty: new AuthPenalty(),
  };
  let requests = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("data", () => requests++);
    void serveAuth(socket, svc);
  });
  await new Promise<void>((resolve) => server.listen(join(dir, "private", "auth"), resolve));
  try {
    await run({ dir, passwdFile, requests: () => requests });
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("repeated lookups are answered without auth while the passwd-file is unchanged", async () => {
  await withAuth(async ({ dir, passwdFile, requests }) => {
    const main = mainCfFromText(
      `queue_directory = ${dir}\nmydestination = localhost\nlocal_recipient_maps = auth:userdb\n`,
      { configDir: dir },
    );
    const { lookup } = localRecipientLookup(main, () => undefined);
    assert.equal(await lookup("bob@localhost"), true);
    assert.equal(await lookup("eve@localhost"), false);
    const asked = requests();
    assert.equal(asked, 2);
    for (let i = 0; i < 5; i++) {
      assert.equal(await lookup("bob@localhost"), true);
      assert.equal(await lookup("Bob@localhost"), true);
      assert.equal(await lookup("eve@localhost"), false);
    }
    assert.equal(requests(), asked, "answered from the cache");

    // bob removed, eve added (a rewrite in place: same inode): the very next lookups see it.
    writeFileSync(passwdFile, `eve:*::::${dir}/eve-home::\n`);
    assert.equal(await lookup("bob@localhost"), false);
    assert.equal(await lookup("eve@localhost"), true);
    assert.ok(requests() > asked);

    // Replaced by a rename, same size and content: still asked again (another inode).
    const before = requests();
    writeFileSync(`${passwdFile}.new`, `eve:*::::${dir}/eve-home::\n`);
    renameSync(`${passwdFile}.new`, passwdFile);
    assert.equal(await lookup("eve@localhost"), true);
    assert.equal(requests(), before + 1);

    // The file removed: nobody is known.
    rmSync(passwdFile);
    assert.equal(await lookup("eve@localhost"), false);
  });
});

test("the cache keeps only answers with their file signatures, least recently used out", () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-udbc-"));
  try {
    const file = join(dir, "users");
    writeFileSync(file, "a\n");
    const deps = fileDeps([file]);
    assert.ok(deps);
    const cache = new UserdbCache(2);
    cache.set(["x"], "x", undefined);
    assert.equal(cache.get(["x"]), undefined, "no proof of freshness: not kept");
    assert.equal(fileDeps(["relative/users"]), undefined);
    cache.set(["a"], "a", deps);
    cache.set(["b"], undefined, deps);
    assert.deepEqual(cache.get(["a"])?.user, "a");
    cache.set(["c"], "c", deps); // b is the least recently used
    assert.equal(cache.get(["b"]), undefined);
    assert.equal(cache.get(["c"])?.user, "c");
    writeFileSync(file, "ab\n");
    assert.equal(cache.get(["a"]), undefined, "stale after the file changed");
    assert.equal(cache.size, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
