/*
 * packaging — the static parts of the Debian package, checked without building it: the
 * systemd unit passes `systemd-analyze verify` (when systemd-analyze is installed) and keeps
 * the promised behaviour (foreground master, reload = SIGHUP, graceful stop, restart on
 * failure, a limited capability set); the maintainer scripts are valid POSIX sh; the
 * changelog matches package.json's version. The package itself (build, contents,
 * conffiles, lintian, installation) is tested in test/e2e/deb-install.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const UNIT = readFileSync(join(ROOT, "scripts", "postern.service"), "utf8");
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

/** Every value of a directive, in order (a directive may repeat, like ExecReload). */
function directive(name: string): string[] {
  return [...UNIT.matchAll(new RegExp(`^${name}=(.*)$`, "gm"))].map((m) => m[1] ?? "");
}

test("postern.service passes systemd-analyze verify, man pages in Documentation= included", {
  skip: !hasAnalyze && "no systemd-analyze",
}, () => {
  // The unit's programs are not installed here: point them at a stub, change nothing else.
  const dir = mkdtempSync(join(tmpdir(), "postern-unit-"));
  try {
    const stub = join(dir, "postern");
    writeFileSync(stub, "#!/bin/sh\n");
    chmodSync(stub, 0o755);
    for (const section of ["1", "5", "8"]) mkdirSync(join(dir, "man", `man${section}`), { recursive: true });
    for (const page of ["postern.1", "postern.conf.5", "postern-master.cf.5"]) {
      const text = readFileSync(join(ROOT, "man", page));
      writeFileSync(join(dir, "man", `man${page.slice(-1)}`, page), text);
    }
    const unit = join(dir, "postern.service");
    writeFileSync(unit, UNIT.replaceAll("/usr/sbin/postern", stub));
    const r = spawnSync("systemd-analyze", ["verify", unit], {
      encoding: "utf8",
      env: { ...process.env, MANPATH: join(dir, "man"), SYSTEMD_LOG_LEVEL: "notice" },
    });
    assert.equal(r.stderr + r.stdout, "");
    assert.equal(r.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("postern.service runs master in the foreground, reloads with SIGHUP and restarts on failure", () => {
  assert.deepEqual(directive("Type"), ["simple"]);
  assert.deepEqual(directive("ExecStart"), ["/usr/sbin/postern start-fg"]);
  assert.deepEqual(directive("ExecReload"), ["/usr/sbin/postern check", "/bin/kill -HUP $MAINPID"]);
  assert.deepEqual(directive("KillMode"), ["mixed"]);
  assert.deepEqual(directive("Restart"), ["on-failure"]);
  // Longer than shutdown_timeout's default of 30 s, so a graceful stop is not cut short.
  assert.ok(Number(directive("TimeoutStopSec")[0]) > 30);
});

test("postern.service bounds capabilities to what master and local delivery need", () => {
  const allowed = new Set([
    "CAP_NET_BIND_SERVICE",
    "CAP_SETUID",
    "CAP_SETGID",
    "CAP_CHOWN",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_KILL",
  ]);
  const caps = (directive("CapabilityBoundingSet")[0] ?? "").split(/\s+/);
  assert.ok(caps.length > 0 && caps.every((c) => allowed.has(c)), caps.join(" "));
  assert.deepEqual(directive("ProtectSystem"), ["full"]);
  assert.deepEqual(directive("PrivateTmp"), ["yes"]);
  // Home mailboxes are the shipped default (home_mailbox = Maildir/): homes stay writable.
  assert.deepEqual(directive("ProtectHome"), ["no"]);
});

test("the maintainer scripts and build-deb are valid POSIX sh", () => {
  for (const script of ["deb/postinst", "deb/prerm", "deb/postrm", "build-deb"]) {
    const r = spawnSync("sh", ["-n", join(ROOT, "scripts", script)], { encoding: "utf8" });
    assert.equal(r.status, 0, `${script}: ${r.stderr}`);
  }
});

test("the Debian changelog is for the version in package.json", () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const first = readFileSync(join(ROOT, "scripts", "deb", "changelog"), "utf8").split("\n")[0];
  assert.equal(first, `postern (${version}) unstable; urgency=medium`);
});
