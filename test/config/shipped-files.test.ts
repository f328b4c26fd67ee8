/*
 * The /etc/postern files the package ships: `postern check` accepts them as they are (only
 * the paths that need root are pointed into a temp directory, and the users and group the
 * services run as name the invoking user, since the package's users may not exist here),
 * and every service they name has its daemon.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { REPO, run } from "../helpers/sandbox.js";

function selfAsServiceUsers(): string {
  const me = userInfo();
  return (
    ["mail_owner", "login_user", "virtual_uid"].map((p) => `${p} = ${me.username}\n`).join("") +
    `setgid_group = ${me.gid}\n`
  );
}

test("postern check accepts the shipped main.cf, master.cf and users", async () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-etc-"));
  try {
    for (const f of ["main.cf", "master.cf", "users"]) copyFileSync(join(REPO, "etc", f), join(dir, f));
    writeFileSync(
      join(dir, "main.cf"),
      `${readFileSync(join(dir, "main.cf"), "utf8")}\nqueue_directory = ${dir}/spool\nmaillog_file = ${dir}/maillog\n${selfAsServiceUsers()}`,
    );
    const r = await run(["-c", dir, "check"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "no warnings about the shipped files");
    const services = (await run(["-c", dir, "conf", "-M"])).stdout;
    for (const name of [
      "smtp ",
      "submission ",
      "submissions ",
      "pop3 ",
      "pop3s ",
      "qmgr ",
      "local ",
      "auth ",
    ])
      assert.ok(services.includes(name), name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
