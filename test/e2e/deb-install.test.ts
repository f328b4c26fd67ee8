/*
 * deb-install — builds the .deb with scripts/build-deb, checks its contents and lintian,
 * then installs it the way an administrator does and uses it: dpkg -i, start master with
 * the unit's own ExecStartPre/ExecStart (no systemd here), a message over SMTP from swaks
 * and one through /usr/sbin/sendmail, both read back over POP3 (curl), then dpkg -r (whose
 * prerm must stop master) and dpkg --purge (queue and config gone, delivered mail kept).
 *
 * Runs as root when dpkg-deb, unshare, nsenter, swaks and curl are there (lintian when
 * installed), as in CI; POSTERN_DEB_TEST=0 skips it. It does not change this machine: everything happens in a
 * throwaway root, an overlay of / on a tmpfs, inside new mount, network and PID namespaces.
 * There the test may purge a conflicting MTA (Postfix), use the real ports 25 and 110 on a
 * private loopback, and create accounts; all of it disappears with the namespaces.
 *   node --test dist/test/e2e/deb-install.test.js
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const enabled =
  process.env["POSTERN_DEB_TEST"] !== "0" &&
  process.getuid?.() === 0 &&
  ["dpkg-deb", "unshare", "nsenter", "swaks", "curl"].every(has);
const skip = enabled ? false : "needs root, dpkg-deb, unshare, nsenter, swaks and curl (see the header)";

interface Run {
  status: number | null;
  out: string;
}

/** A throwaway copy of this system: overlay of / in private mount, net and PID namespaces. */
class ThrowawayRoot {
  readonly base: string;
  readonly merged: string;
  private holder: ChildProcess | undefined;
  private nsPid = 0;

  constructor() {
    this.base = mkdtempSync(join(tmpdir(), "postern-deb-"));
    this.merged = join(this.base, "merged");
  }

  async open(): Promise<void> {
    this.holder = spawn(
      "unshare",
      ["-m", "-n", "-p", "-f", "--kill-child", "--propagation", "private", "sleep", "3600"],
      {
        stdio: "ignore",
      },
    );
    const unsharePid = this.holder.pid ?? 0;
    for (let i = 0; i < 100 && this.nsPid === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const children = spawnSync("cat", [`/proc/${unsharePid}/task/${unsharePid}/children`], {
        encoding: "utf8",
      });
      this.nsPid = Number(children.stdout.trim().split(/\s+/)[0] ?? 0);
    }
    assert.ok(this.nsPid > 0, "the namespaces did not start");
    const m = this.merged;
    const setup = [
      "ip link set lo up",
      // The upper layer on tmpfs: an overlay upper directory cannot live on an overlay /.
      `mount -t tmpfs tmpfs ${this.base}`,
      `mkdir ${this.base}/upper ${this.base}/work ${m}`,
      `mount -t overlay overlay -o lowerdir=/,upperdir=${this.base}/upper,workdir=${this.base}/work ${m}`,
      `mount -t proc proc ${m}/proc && mount --rbind /dev ${m}/dev && mount --rbind /sys ${m}/sys`,
      `mount -t tmpfs tmpfs ${m}/run && mount -t tmpfs tmpfs ${m}/tmp`,
      // A chroot's usual guard: no maintainer script starts or stops a real service.
      `printf '#!/bin/sh\\nexit 101\\n' >${m}/usr/sbin/policy-rc.d && chmod 755 ${m}/usr/sbin/policy-rc.d`,
    ];
    const r = this.host(setup.join(" && "));
    assert.equal(r.status, 0, r.out);
  }

  /** A shell command in the namespaces, outside the chroot (sees the host's files). */
  host(script: string): Run {
    const r = spawnSync("nsenter", ["-t", String(this.nsPid), "-m", "-n", "-p", "sh", "-c", script], {
      encoding: "utf8",
    });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  /** A shell command inside the throwaway root. */
  sh(script: string, input?: string): Run {
    const args = ["-t", String(this.nsPid), "-m", "-n", "-p", "chroot", this.merged, "sh", "-c", script];
    const r = spawnSync("nsenter", args, {
      encoding: "utf8",
      env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C.UTF-8" },
      ...(input === undefined ? {} : { input }),
    });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  /** A long-running command inside the throwaway root. */
  spawn(command: string[]): ChildProcess {
    return spawn("nsenter", ["-t", String(this.nsPid), "-m", "-n", "-p", "chroot", this.merged, ...command], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LC_ALL: "C.UTF-8" },
    });
  }

  close(): void {
    this.holder?.kill("SIGKILL"); // the PID namespace ends, and everything in it
    rmSync(this.base, { recursive: true, force: true });
  }
}

function ok(r: Run, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.out}`);
  return r.out;
}

/** Polls probe; on timeout fails with what (a function: evaluated then, e.g. to show a log). */
async function until(what: string | (() => string), probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline)
      assert.fail(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let deb = "";
let outDir = "";
// Made in before(), and only when the test is enabled: a skipped run leaves nothing behind.
let sys: ThrowawayRoot;
let master: ChildProcess | undefined;
let masterLog = "";

before(async () => {
  if (!enabled) return;
  outDir = mkdtempSync(join(tmpdir(), "postern-deb-out-"));
  const r = spawnSync(join(ROOT, "scripts", "build-deb"), ["-o", outDir, "--no-build"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  deb = r.stdout.trim().split("\n").pop() ?? "";
  sys = new ThrowawayRoot();
  await sys.open();
});

after(() => {
  if (!enabled) return;
  master?.kill("SIGKILL");
  if (sys !== undefined) sys.close();
  rmSync(outDir, { recursive: true, force: true });
});

test("the package is built for this architecture with the MTA relations", { skip }, () => {
  const field = (name: string) =>
    spawnSync("dpkg-deb", ["-f", deb, name], { encoding: "utf8" }).stdout.trim();
  const arch = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout.trim();
  assert.equal(field("Architecture"), arch);
  assert.match(field("Depends"), /^nodejs \(>= 20\), libc6/);
  for (const rel of ["Provides", "Conflicts", "Replaces"]) assert.equal(field(rel), "mail-transport-agent");
  const conffiles = spawnSync("sh", ["-c", `dpkg-deb --ctrl-tarfile ${deb} | tar -xOf - ./conffiles`], {
    encoding: "utf8",
  }).stdout;
  assert.deepEqual(conffiles.trim().split("\n"), [
    "/etc/logrotate.d/postern",
    "/etc/postern/main.cf",
    "/etc/postern/master.cf",
    "/etc/postern/users",
  ]);
});

test("the package holds the code, the commands, the unit and gzipped man pages", { skip }, () => {
  const listing = spawnSync("dpkg-deb", ["-c", deb], { encoding: "utf8" }).stdout;
  for (const path of [
    "./usr/lib/postern/daemons/master.js",
    "./usr/lib/postern/node_modules/os-lock/build/Release/addon.node",
    "./usr/sbin/postern -> ../lib/postern/daemons/postern.js",
    "./usr/sbin/sendmail -> ../lib/postern/daemons/postern.js",
    "./usr/bin/mailq -> ../lib/postern/daemons/postern.js",
    "./usr/bin/newaliases -> ../lib/postern/daemons/postern.js",
    "./lib/systemd/system/postern.service",
    "./usr/share/man/man8/postern-smtpd.8.gz",
    "./usr/share/man/man1/postern.1.gz",
    "./usr/share/doc/postern/copyright",
  ]) {
    assert.ok(listing.includes(path), `${path} is not in the package`);
  }
  assert.ok(!listing.includes("/test/"), "the package must not contain the tests");
});

test("lintian reports no errors on the package", { skip: skip || (!has("lintian") && "no lintian") }, () => {
  const r = spawnSync("lintian", [deb], { encoding: "utf8" });
  const errors = r.stdout.split("\n").filter((l) => l.startsWith("E: "));
  assert.deepEqual(errors, []);
});

test("dpkg -i installs it: accounts, queue with Postfix's modes, conffiles", { skip }, () => {
  ok(sys.host(`cp ${deb} ${sys.merged}/tmp/postern.deb`), "copy");
  // Another MTA would conflict; this root is throwaway, so it goes (Postfix on CI machines).
  sys.sh("for p in postfix exim4-daemon-light exim4-daemon-heavy; do dpkg --purge --force-depends $p; done");
  ok(sys.sh("dpkg -i /tmp/postern.deb"), "dpkg -i");
  ok(sys.sh("getent passwd postern && getent passwd postern-login && getent passwd vmail"), "accounts");
  ok(sys.sh("getent group postdrop"), "postdrop");
  const modes = ok(
    sys.sh("stat -c '%n %a %U %G' /var/spool/postern/maildrop /var/spool/postern/public"),
    "stat",
  );
  assert.match(modes, /maildrop 3733 postern postdrop/);
  assert.match(modes, /public 711 postern postdrop/);
  ok(sys.sh("test -f /etc/postern/main.cf && test -f /etc/aliases.db"), "config and aliases");
});

test("reinstalling (an upgrade) keeps the administrator's main.cf and changes nothing else", { skip }, () => {
  // The test's override: only loopback (a private one), and a fixed host name.
  ok(
    sys.sh("postern conf -e 'inet_interfaces = loopback-only' 'myhostname = debtest.localdomain'"),
    "conf -e",
  );
  ok(sys.sh("dpkg -i /tmp/postern.deb"), "dpkg -i again");
  assert.match(ok(sys.sh("postern conf -n"), "conf -n"), /^myhostname = debtest\.localdomain$/m);
  ok(sys.sh('test "$(stat -c %a /var/spool/postern/maildrop)" = 3733'), "maildrop mode kept");
});

test("master starts from the unit's ExecStartPre and ExecStart and takes mail over SMTP", {
  skip,
}, async () => {
  const unit = sys.sh("cat /lib/systemd/system/postern.service").out;
  const exec = (key: string) => (unit.match(new RegExp(`^${key}=(.*)$`, "m"))?.[1] ?? "").split(" ");
  // The test's override: only loopback (a private one), and a fixed host name.
  ok(
    sys.sh("postern conf -e 'inet_interfaces = loopback-only' 'myhostname = debtest.localdomain'"),
    "conf -e",
  );
  ok(sys.sh(exec("ExecStartPre").join(" ")), "ExecStartPre");
  master = sys.spawn(exec("ExecStart"));
  master.stdout?.on("data", (d: Buffer) => (masterLog += d.toString()));
  master.stderr?.on("data", (d: Buffer) => (masterLog += d.toString()));
  const listening = (port: number) =>
    sys.sh(`node -e "require('net').connect(${port},'127.0.0.1').on('connect',()=>process.exit(0))"`)
      .status === 0;
  await until(
    () => `SMTP, POP3 and IMAP listeners (${masterLog})`,
    () => listening(25) && listening(110) && listening(143),
  );
  ok(sys.sh("postern user add --home /var/vmail/alice alice", "s3cret\n"), "user add");
  const swaks = "swaks -s 127.0.0.1:25 -t alice@localhost -f tester@example.org --h-Subject 'via smtp'";
  ok(sys.sh(`${swaks} --body 'delivered over SMTP'`), "swaks");
  const viaSendmail = "Subject: via sendmail\n\ndelivered by /usr/sbin/sendmail\n";
  ok(sys.sh("/usr/sbin/sendmail -i alice@localhost", viaSendmail), "sendmail");
  const maillog = () =>
    `two messages in alice's Maildir; maillog:\n${sys.sh("tail -30 /var/log/maillog").out}`;
  await until(maillog, () => /^2$/m.test(sys.sh("ls /var/vmail/alice/Maildir/new | wc -l").out));
});

test("the messages are read back over POP3", { skip }, () => {
  const pop3 = (path: string) => ok(sys.sh(`curl -sS --user alice:s3cret pop3://127.0.0.1${path}`), "curl");
  assert.match(pop3("/"), /^1 \d+\r?\n2 \d+/);
  const both = pop3("/1") + pop3("/2");
  assert.match(both, /delivered over SMTP/);
  assert.match(both, /delivered by \/usr\/sbin\/sendmail/);
  assert.match(
    sys.sh("cat /var/log/maillog").out,
    /postern\/local\[\d+\]: \w+: to=<alice@localhost>.*status=sent/,
  );
});

test("the messages are read over IMAP by a process that became the mail's owner", { skip }, () => {
  const imap = (path: string, extra = "") =>
    ok(sys.sh(`curl -sS --user alice:s3cret ${extra} 'imap://127.0.0.1${path}'`), "curl imap");
  assert.match(imap("/"), /LIST \(.*\) "\/" (INBOX|Sent)/);
  const both = imap("/INBOX;UID=1") + imap("/INBOX;UID=2");
  assert.match(both, /delivered over SMTP/);
  assert.match(both, /delivered by \/usr\/sbin\/sendmail/);
  assert.match(
    sys.sh("cat /var/log/maillog").out,
    /postern\/imap-login\[\d+\]: imap-login: Login: user=<alice>/,
  );
  assert.match(
    sys.sh("cat /var/log/maillog").out,
    /postern\/imap\[\d+\]: imap\(alice\)<\d+><[^>]*>: Disconnected: Logged out/,
  );
});

test("dpkg -r stops master and removes the program but keeps config and queue", { skip }, async () => {
  ok(sys.sh("dpkg -r postern"), "dpkg -r");
  await until("master to exit", () => master?.exitCode !== null || master?.signalCode !== null, 10_000);
  assert.equal(master?.exitCode, 0, masterLog);
  ok(
    sys.sh("! test -e /usr/sbin/postern && ! test -e /usr/lib/postern && ! test -e /usr/sbin/sendmail"),
    "gone",
  );
  ok(sys.sh("test -f /etc/postern/main.cf && test -d /var/spool/postern/incoming"), "kept");
});

test("dpkg --purge removes config, queue and log but never delivered mail", { skip }, () => {
  ok(sys.sh("dpkg --purge postern"), "dpkg --purge");
  ok(
    sys.sh("! test -e /etc/postern && ! test -e /var/spool/postern && ! test -e /var/log/maillog"),
    "purged",
  );
  // Read over POP3, the two messages moved from new/ to cur/: both must still be there.
  const mail = sys.sh("find /var/vmail/alice/Maildir/new /var/vmail/alice/Maildir/cur -type f | wc -l");
  assert.match(ok(mail, "mail"), /^2$/m);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
  const status = sys.sh("dpkg-query -W -f '${Status}' postern").out;
  assert.doesNotMatch(status, /install ok/);
});
