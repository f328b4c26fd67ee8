import assert from "node:assert/strict";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  createUserResolver,
  expandMailVars,
  mailboxLocation,
  parseSystemPasswd,
  readSystemPasswd,
  splitExtension,
  type UserInfo,
} from "../../lib/delivery/users.js";
import { tempDir } from "./helpers.js";

const alice: UserInfo = {
  user: "alice",
  uid: 1000,
  gid: 1000,
  home: "/home/alice",
  shell: "/bin/sh",
  kind: "system",
};
const vbob: UserInfo = {
  user: "bob@example.org",
  uid: 5000,
  gid: 5000,
  home: "/srv/mail/bob",
  shell: "",
  kind: "virtual",
};

test("splitExtension splits at the first delimiter and keeps owner-/-request names whole", () => {
  assert.deepEqual(splitExtension("alice+lists", "+"), { base: "alice", extension: "lists" });
  assert.deepEqual(splitExtension("alice+a+b", "+"), { base: "alice", extension: "a+b" });
  assert.deepEqual(splitExtension("alice", "+"), { base: "alice" });
  assert.deepEqual(splitExtension("+x", "+"), { base: "+x" });
  assert.deepEqual(splitExtension("alice+x", ""), { base: "alice+x" });
  assert.deepEqual(splitExtension("alice-x", "+-"), { base: "alice", extension: "x" });
  assert.deepEqual(splitExtension("owner-list", "-"), { base: "owner-list" });
  assert.deepEqual(splitExtension("list-request", "-"), { base: "list-request" });
});

test("parseSystemPasswd reads uid, gid, home and shell and skips malformed lines", () => {
  const users = parseSystemPasswd(
    "root:x:0:0:root:/root:/bin/bash\n# c\nbad:line\nalice:x:1000:100:A,,,:/home/alice:/bin/zsh\nnum:x:abc:1::/:/bin/sh\n",
  );
  assert.deepEqual(users.get("alice"), {
    user: "alice",
    uid: 1000,
    gid: 100,
    home: "/home/alice",
    shell: "/bin/zsh",
    kind: "system",
  });
  assert.equal(users.get("root")?.uid, 0);
  assert.equal(users.has("bad"), false);
  assert.equal(users.has("num"), false);
});

test("createUserResolver prefers virtual users, tries user@domain first, then system users when enabled", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const passwd = join(dir, "passwd");
    writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\ncarol:x:1001:1001::/home/carol:/bin/sh\n");
    const virtualUsers = new Map([
      [
        "bob@example.org",
        { user: "bob@example.org", home: "/srv/bob", shell: "", extra: { userdb_mail: "maildir:~/M" } },
      ],
      ["carol", { user: "carol", uid: 7, gid: 8, home: "/srv/carol", shell: "", extra: {} }],
    ]);
    const resolve = createUserResolver({
      virtualUsers,
      virtualUid: 5000,
      virtualGid: 5001,
      systemUsers: true,
      systemPasswdPath: passwd,
    });
    assert.deepEqual(await resolve("bob", "example.org"), {
      user: "bob@example.org",
      uid: 5000,
      gid: 5001,
      home: "/srv/bob",
      shell: "",
      kind: "virtual",
      mailLocation: "maildir:~/M",
    });
    assert.equal((await resolve("carol", "x"))?.kind, "virtual");
    assert.equal((await resolve("alice", "x"))?.uid, 1000);
    assert.equal(await resolve("nobody-here", "x"), undefined);
    const virtualOnly = createUserResolver({ virtualUsers, systemUsers: false, systemPasswdPath: passwd });
    assert.equal(await virtualOnly("alice", "x"), undefined);
  } finally {
    cleanup();
  }
});

test("expandMailVars expands %u %n %d %h %% and a leading ~", () => {
  assert.equal(expandMailVars("~/Maildir", alice), "/home/alice/Maildir");
  assert.equal(expandMailVars("/var/vmail/%d/%n/%%", vbob), "/var/vmail/example.org/bob/%");
  assert.equal(expandMailVars("%h/x/%u", vbob), "/srv/mail/bob/x/bob@example.org");
  assert.equal(expandMailVars("/m/%d/%n", alice, "example.com"), "/m/example.com/alice");
  assert.equal(expandMailVars("%{home}/%{user}", alice), "/home/alice/alice");
});

const cfg = { mailLocation: "", homeMailbox: "", mailSpoolDirectory: "/var/mail" };
const locations: Array<[string, Partial<typeof cfg>, UserInfo, unknown]> = [
  [
    "maildir:~/Maildir",
    { mailLocation: "maildir:~/Maildir" },
    alice,
    { format: "maildir", path: "/home/alice/Maildir" },
  ],
  [
    "maildir:%h/Maildir",
    { mailLocation: "maildir:%h/Maildir:LAYOUT=fs" },
    vbob,
    { format: "maildir", path: "/srv/mail/bob/Maildir" },
  ],
  [
    "mbox with INBOX=",
    { mailLocation: "mbox:~/mail:INBOX=/var/mail/%u" },
    alice,
    { format: "mbox", path: "/var/mail/alice" },
  ],
  [
    "mbox without INBOX=",
    { mailLocation: "mbox:~/mail" },
    alice,
    { format: "mbox", path: "/home/alice/mail/inbox" },
  ],
  [
    "home_mailbox Maildir/",
    { homeMailbox: "Maildir/" },
    alice,
    { format: "maildir", path: "/home/alice/Maildir" },
  ],
  [
    "home_mailbox Mailbox",
    { homeMailbox: "Mailbox" },
    alice,
    { format: "mbox", path: "/home/alice/Mailbox" },
  ],
  ["the spool directory", {}, alice, { format: "mbox", path: "/var/mail/alice" }],
  [
    "a spool directory ending in /",
    { mailSpoolDirectory: "/var/spool/maildirs/" },
    alice,
    { format: "maildir", path: "/var/spool/maildirs/alice" },
  ],
  [
    "a per-user userdb_mail",
    { mailLocation: "mbox:~/mail" },
    { ...alice, mailLocation: "maildir:~/Other" },
    { format: "maildir", path: "/home/alice/Other" },
  ],
];

for (const [name, over, user, expected] of locations) {
  test(`mailboxLocation handles ${name}`, () => {
    assert.deepEqual(mailboxLocation(user, { ...cfg, ...over }), expected);
  });
}

test("mailboxLocation reports errors for unknown formats and missing homes", () => {
  assert.ok("error" in mailboxLocation(alice, { ...cfg, mailLocation: "sdbox:~/x" }));
  assert.ok("error" in mailboxLocation({ ...alice, home: "" }, { ...cfg, mailLocation: "maildir:~/M" }));
  assert.ok("error" in mailboxLocation({ ...alice, home: "" }, { ...cfg, homeMailbox: "Maildir/" }));
  assert.ok("error" in mailboxLocation({ ...alice, user: ".." }, cfg));
});

test("readSystemPasswd caches the parsed file and re-reads it when it changes", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const passwd = join(dir, "passwd");
    writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\n");
    const first = await readSystemPasswd(passwd);
    assert.equal(first.get("alice")?.uid, 1000);
    assert.equal(await readSystemPasswd(passwd), first);
    writeFileSync(passwd, "alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n");
    const resolve = createUserResolver({ systemUsers: true, systemPasswdPath: passwd });
    assert.equal((await resolve("bob", ""))?.uid, 1001);
    // Same size, new inode (an editor's rename over the file): re-read too.
    writeFileSync(
      `${passwd}.new`,
      "alice:x:1000:1000::/home/alice:/bin/sh\ncal:x:1002:1002::/home/bob:/bin/sh\n",
    );
    renameSync(`${passwd}.new`, passwd);
    assert.equal((await resolve("cal", ""))?.uid, 1002);
    assert.equal(await resolve("bob", ""), undefined);
  } finally {
    cleanup();
  }
});
