/*
 * becomeMailUser: a root mail process becomes the owner of the mail it serves, once, and
 * only when it serves a single session. Each case runs in a child process, since a switch
 * cannot be undone; the switching cases need root and are skipped otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";

const MODULE = new URL("../../lib/login/mail-user.js", import.meta.url).href;
const ROOT = process.getuid?.() === 0;

function run(handoff: object, opts: object): { result: unknown; uid: number; gid: number; groups: number[] } {
  const code = `
    const { becomeMailUser } = await import(${JSON.stringify(MODULE)});
    const result = becomeMailUser(${JSON.stringify(handoff)}, ${JSON.stringify(opts)});
    console.log(JSON.stringify({ result, uid: process.getuid(), gid: process.getgid(), groups: process.getgroups() }));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { result: unknown; uid: number; gid: number; groups: number[] };
}

const base = {
  user: "vera",
  home: "/nonexistent",
  extra: {},
  pipelined: "",
  rip: "127.0.0.1",
  lip: "127.0.0.1",
  tls: false,
  session: "x",
};

describe("a root mail process and the mail owner", { skip: ROOT ? false : "needs root" }, () => {
  it("switches to the userdb's uid and gid, with no other groups, when it serves one session", () => {
    const r = run({ ...base, uid: 65534, gid: 65534 }, { virtualUser: "root", singleSession: true });
    assert.deepEqual(r.result, { ok: true, switched: true });
    assert.equal(r.uid, 65534);
    assert.equal(r.gid, 65534);
    assert.deepEqual(r.groups, [65534]);
  });

  it("falls back to virtual_uid for users without ids", () => {
    const r = run(base, { virtualUser: "nobody", singleSession: true });
    assert.deepEqual(r.result, { ok: true, switched: true });
    assert.equal(r.uid, 65534);
  });

  it("refuses to switch in a process shared by several sessions, and stays root", () => {
    const r = run({ ...base, uid: 65534, gid: 65534 }, { virtualUser: "root", singleSession: false });
    assert.equal((r.result as { ok: boolean }).ok, false);
    assert.equal(r.uid, 0);
  });

  it("does nothing when the mail belongs to the user it already runs as (a sandbox run by root)", () => {
    const r = run(base, { virtualUser: "root", singleSession: false });
    assert.deepEqual(r.result, { ok: true, switched: false });
    assert.equal(r.uid, 0);
  });

  it("names an unknown virtual_uid", () => {
    const r = run(base, { virtualUser: "no-such-user-here", singleSession: true });
    assert.match(String((r.result as { reason?: string }).reason), /virtual_uid no-such-user-here/);
  });
});
