import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mainCfFromText } from "../../lib/config/index.js";
import { confinementArgv, confinementWarning, pathsIn, withoutOverlaps } from "../../lib/master/confine.js";

describe("confine", () => {
  it("finds the absolute paths in parameter values, maps and mailbox specs included", () => {
    assert.deepEqual(pathsIn("hash:/etc/postern/access, regexp:/etc/postern/re"), [
      "/etc/postern/access",
      "/etc/postern/re",
    ]);
    assert.deepEqual(pathsIn("/etc/ssl/certs/x.pem"), ["/etc/ssl/certs/x.pem"]);
    assert.deepEqual(pathsIn("maildir:/var/vmail/%d/%n"), ["/var/vmail"]);
    assert.deepEqual(pathsIn("/dev/stdout yes 10s"), []);
  });

  it("drops grants another covers (Node aborts on some overlaps)", () => {
    assert.deepEqual(withoutOverlaps(["/d", "/d/*", "/d/x*", "/e", "/d*"]), ["/d*", "/e"]);
    assert.deepEqual(withoutOverlaps(["/a/b", "/a/*", "/ab"]), ["/a/*", "/ab"]);
  });

  it("gives chroot = y services the queue, config and named files, never the mailboxes", () => {
    const main = mainCfFromText(
      [
        "queue_directory = /var/spool/postern",
        "data_directory = /var/lib/postern",
        "maillog_file = /var/log/postern.log",
        "alias_maps = hash:/etc/aliases",
        "smtpd_tls_cert_file = /etc/ssl/certs/mail.pem",
        "mail_spool_directory = /var/mail",
        "virtual_home = /srv/vmail/%d/%n",
      ].join("\n"),
      { configDir: "/etc/postern" },
    );
    assert.deepEqual(confinementArgv(main, { chroot: false, overrides: {} }), []);
    const argv = confinementArgv(main, {
      chroot: true,
      overrides: { smtpd_tls_key_file: "/etc/ssl/private/k.pem" },
    });
    const reads = argv.filter((a) => a.startsWith("--allow-fs-read=")).map((a) => a.slice(16));
    const writes = argv.filter((a) => a.startsWith("--allow-fs-write=")).map((a) => a.slice(17));
    for (const p of [
      "/etc/postern/*",
      "/var/spool/postern/*",
      "/etc/aliases*",
      "/etc/ssl/certs/mail.pem*",
      "/etc/ssl/private/k.pem*",
    ])
      assert.ok(reads.includes(p), `${p} in ${reads.join(" ")}`);
    assert.ok(!reads.some((p) => p.startsWith("/var/mail") || p.startsWith("/srv/vmail")), reads.join(" "));
    assert.deepEqual(writes.sort(), ["/var/lib/postern/*", "/var/log/postern.log", "/var/spool/postern/*"]);
    assert.ok(!argv.includes("--allow-child-process") && !argv.includes("--allow-addons"));
  });

  it("check names services that cannot work confined", () => {
    const svc = { name: "local", type: "unix" as const, line: 7, command: "local" };
    assert.equal(confinementWarning({ ...svc, chroot: false }), undefined);
    assert.match(
      confinementWarning({ ...svc, chroot: true }) ?? "",
      /^master\.cf, line 7: local\/unix: local must not be chrooted/,
    );
    assert.equal(confinementWarning({ ...svc, command: "smtpd", chroot: true }), undefined);
  });
});
