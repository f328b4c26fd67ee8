/*
 * identity: which user each master.cf service runs as, how users and groups are read from
 * passwd/group files, and when a fork changes nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { mainCfFromText } from "../../lib/config/index.js";
import {
  forkIdentity,
  idNames,
  lookupGroup,
  lookupUser,
  PrivilegeError,
  type Privileges,
  readSystemAccounts,
  resolvePrivileges,
  serviceRole,
} from "../../lib/master/identity.js";

const dir = mkdtempSync(join(tmpdir(), "postern-identity-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const passwd = join(dir, "passwd");
const group = join(dir, "group");
writeFileSync(
  passwd,
  [
    "root:x:0:0:root:/root:/bin/bash",
    "postern:x:105:110::/nonexistent:/usr/sbin/nologin",
    "postern-login:x:106:111::/nonexistent:/usr/sbin/nologin",
    "vmail:x:5000:5000::/var/vmail:/usr/sbin/nologin",
    "postern:x:999:999:a second entry is ignored:/:/bin/false",
    "broken line",
    "bad:x:notanumber:1::/:/bin/false",
  ].join("\n"),
);
writeFileSync(group, ["root:x:0:", "postdrop:x:120:", "postdrop:x:121:", "vmail:x:5000:"].join("\n"));
const accounts = readSystemAccounts(passwd, group);

const privs: Privileges = {
  mailOwner: { name: "postern", uid: 105, gid: 110 },
  loginUser: { name: "postern-login", uid: 106, gid: 111 },
  mailUser: { name: "vmail", uid: 5000, gid: 5000 },
  group: { name: "postdrop", gid: 120 },
};

describe("readSystemAccounts", () => {
  it("keeps the first entry of a name and skips malformed lines", () => {
    assert.deepEqual(accounts.users.get("postern"), { uid: 105, gid: 110 });
    assert.equal(accounts.users.has("bad"), false);
    assert.equal(accounts.users.has("broken line"), false);
    assert.equal(accounts.groups.get("postdrop"), 120);
  });

  it("returns empty maps for missing files", () => {
    const none = readSystemAccounts(join(dir, "nope"), join(dir, "nope2"));
    assert.equal(none.users.size + none.groups.size, 0);
  });
});

describe("lookupUser and lookupGroup", () => {
  const cases: [string, ReturnType<typeof lookupUser>][] = [
    ["postern", { name: "postern", uid: 105, gid: 110 }],
    ["5000", { name: "vmail", uid: 5000, gid: 5000 }],
    ["4242", { name: "4242", uid: 4242, gid: 4242 }],
    ["nobody-here", undefined],
  ];
  for (const [query, want] of cases) {
    it(`lookupUser(${query}) finds ${want ? want.name : "nothing"}`, () => {
      assert.deepEqual(lookupUser(accounts, query), want);
    });
  }

  it("lookupGroup accepts names and numbers", () => {
    assert.equal(lookupGroup(accounts, "postdrop"), 120);
    assert.equal(lookupGroup(accounts, "77"), 77);
    assert.equal(lookupGroup(accounts, "nogroup-here"), undefined);
  });

  it("idNames names known ids and prints unknown ones as numbers", () => {
    const names = idNames(accounts);
    assert.equal(names.user(105), "postern");
    assert.equal(names.user(31337), "31337");
    assert.equal(names.group(120), "postdrop");
  });
});

describe("serviceRole", () => {
  const table: [string, boolean, string][] = [
    ["smtpd", true, "mail_owner"],
    ["qmgr", true, "mail_owner"],
    ["pop3-login", true, "login_user"],
    ["imap-login", true, "login_user"],
    ["pop3", true, "virtual_uid"],
    ["imap", true, "virtual_uid"],
    ["auth", false, "root"],
    ["local", false, "root"],
    ["pop3", false, "root"],
  ];
  for (const [command, unpriv, role] of table) {
    it(`runs ${command} with unpriv ${unpriv ? "y" : "n"} as ${role}`, () => {
      assert.equal(serviceRole({ command, unpriv }), role);
    });
  }
});

describe("forkIdentity", () => {
  const root = { uid: 0, gid: 0 };
  it("changes nothing when master is not root (no privileges resolved)", () => {
    assert.equal(forkIdentity({ command: "smtpd", unpriv: true }, undefined, root), undefined);
  });
  it("changes nothing for an unpriv n service", () => {
    assert.equal(forkIdentity({ command: "auth", unpriv: false }, privs, root), undefined);
  });
  it("gives every dropped service its user's uid and the setgid_group gid", () => {
    assert.deepEqual(forkIdentity({ command: "smtpd", unpriv: true }, privs, root), { uid: 105, gid: 120 });
    assert.deepEqual(forkIdentity({ command: "pop3-login", unpriv: true }, privs, root), {
      uid: 106,
      gid: 120,
    });
    assert.deepEqual(forkIdentity({ command: "pop3", unpriv: true }, privs, root), { uid: 5000, gid: 120 });
  });
  it("changes nothing when the service's ids are master's own (a sandbox run as root)", () => {
    const self: Privileges = {
      ...privs,
      mailOwner: { name: "root", uid: 0, gid: 0 },
      group: { name: "root", gid: 0 },
    };
    assert.equal(forkIdentity({ command: "smtpd", unpriv: true }, self, root), undefined);
  });
});

describe("resolvePrivileges", () => {
  const main = (extra: string) =>
    mainCfFromText(`mail_owner = postern\nlogin_user = postern-login\nvirtual_uid = vmail\n${extra}`, {
      configDir: dir,
    });

  it("resolves the three users and the group", () => {
    assert.deepEqual(resolvePrivileges(main(""), accounts), {
      mailOwner: { name: "postern", uid: 105, gid: 110 },
      loginUser: { name: "postern-login", uid: 106, gid: 111 },
      mailUser: { name: "vmail", uid: 5000, gid: 5000 },
      group: { name: "postdrop", gid: 120 },
    });
  });

  it("names the parameter of an unknown user or group", () => {
    assert.throws(
      () => resolvePrivileges(main("login_user = ghost\n"), accounts),
      (e: unknown) => e instanceof PrivilegeError && /^login_user: unknown user: ghost/.test(e.message),
    );
    assert.throws(
      () => resolvePrivileges(main("setgid_group = ghosts\n"), accounts),
      (e: unknown) => e instanceof PrivilegeError && /^setgid_group: unknown group: ghosts/.test(e.message),
    );
  });
});
