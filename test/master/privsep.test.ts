/*
 * Privilege separation end to end (root only): a sandbox whose services run as the
 * system users postern (mail_owner), postern-login (login_user) and vmail (virtual_uid)
 * with group postdrop (setgid_group) — created with useradd/groupadd when absent, removed
 * afterwards. `postern check` names the wrong owners, `postern set-permissions` repairs
 * them, mail goes in over SMTP and out over POP3, and /proc/<pid>/status shows each
 * worker's uid, gid and (empty) supplementary groups; a process with the login process'
 * ids cannot read the Maildir or the passwd-file, while one with the mail process' can.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { processesOf, runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages } from "../helpers/smtp.js";

const asRoot = process.getuid?.() === 0;
const USERS = ["postern", "postern-login", "vmail"] as const;
const GROUP = "postdrop";
const MAIL_USER = "vera";
const PASSWORD = "vera-secret";

interface ProcIds {
  uid: number;
  gid: number;
  groups: string;
}

function idsOf(pid: number): ProcIds {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => status.match(new RegExp(`^${name}:\\t(.*)$`, "m"))?.[1] ?? "";
  const uids = field("Uid").split("\t").map(Number);
  const gids = field("Gid").split("\t").map(Number);
  // Real, effective, saved and filesystem ids must all have been dropped.
  assert.equal(new Set(uids).size, 1, `pid ${pid} has mixed uids ${uids}`);
  assert.equal(new Set(gids).size, 1, `pid ${pid} has mixed gids ${gids}`);
  return { uid: uids[0] ?? -1, gid: gids[0] ?? -1, groups: field("Groups").trim() };
}

function accountId(kind: "passwd" | "group", name: string): number | undefined {
  const r = spawnSync("getent", [kind, name], { encoding: "utf8" });
  const id = r.status === 0 ? r.stdout.split(":")[2] : undefined;
  return id === undefined ? undefined : Number(id);
}

/** Program name → ids of its running processes in the sandbox. */
function processTable(dir: string): Map<string, ProcIds[]> {
  const table = new Map<string, ProcIds[]>();
  for (const pid of processesOf(dir)) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue;
    }
    const program = cmd.match(/daemons\/([\w-]+)\.js/)?.[1];
    if (program) table.set(program, [...(table.get(program) ?? []), idsOf(pid)]);
  }
  return table;
}

/** Whether a process with exactly these ids (no supplementary groups) can read path. */
function canRead(path: string, ids: { uid: number; gid: number }): boolean {
  return spawnSync("cat", [path], { uid: ids.uid, gid: ids.gid, stdio: "ignore" }).status === 0;
}

describe("privilege separation when master runs as root", {
  skip: !asRoot && "needs root: master can only start services as other users when it runs as root",
}, () => {
  const createdUsers: string[] = [];
  let createdGroup = false;
  let sb: Sandbox;
  const ids = { postern: 0, login: 0, vmail: 0, postdrop: 0 };

  before(async () => {
    if (accountId("group", GROUP) === undefined) {
      assert.equal(spawnSync("groupadd", ["--system", GROUP]).status, 0, "groupadd postdrop");
      createdGroup = true;
    }
    for (const user of USERS) {
      if (accountId("passwd", user) !== undefined) continue;
      const r = spawnSync("useradd", [
        "--system",
        "--user-group",
        "--no-create-home",
        "-s",
        "/usr/sbin/nologin",
        user,
      ]);
      assert.equal(r.status, 0, `useradd ${user}`);
      createdUsers.push(user);
    }
    ids.postern = accountId("passwd", "postern") ?? -1;
    ids.login = accountId("passwd", "postern-login") ?? -1;
    ids.vmail = accountId("passwd", "vmail") ?? -1;
    ids.postdrop = accountId("group", GROUP) ?? -1;
    sb = await Sandbox.create({ user: MAIL_USER });
    const pw = await sb.cli(["user", "passwd", MAIL_USER], { input: `${PASSWORD}\n` });
    assert.equal(pw.code, 0, pw.stderr);
    const conf = await sb.cli([
      "conf",
      "-e",
      "mail_owner = postern",
      "login_user = postern-login",
      "virtual_uid = vmail",
      `setgid_group = ${GROUP}`,
    ]);
    assert.equal(conf.code, 0, conf.stderr);
    // pop3 as master.cf ships it runs as root (system users' home Maildirs); with only
    // virtual users it runs as virtual_uid.
    const masterCf = join(sb.dir, "master.cf");
    // imap stays root as shipped, one session per process: it becomes the mail owner itself.
    writeFileSync(
      masterCf,
      readFileSync(masterCf, "utf8")
        .replace(/^(pop3\s+unix\s+-\s+)n/m, "$1-")
        .replace(/^(imap\s+unix\s.*imap)$/m, "$1\n  -o worker_connection_limit=1\n  -o max_use=1"),
    );
    // The sandbox is a private temp directory: let the service users reach its config.
    chmodSync(sb.dir, 0o755);
    for (const f of ["main.cf", "master.cf"]) chmodSync(join(sb.dir, f), 0o644);
  });

  after(async () => {
    await sb?.destroy();
    for (const user of createdUsers) spawnSync("userdel", [user]);
    if (createdGroup) spawnSync("groupdel", [GROUP]);
  });

  it("check names each queue directory with the wrong owner and set-permissions repairs them", async () => {
    const before = await sb.cli(["check"]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(
      before.stderr,
      /warning: \S+\/spool\/incoming: expected owner postern, mode 0700; found owner root/,
    );
    assert.match(
      before.stderr,
      /warning: \S+\/spool\/maildrop: expected owner postern, group postdrop, mode 3733/,
    );
    assert.match(before.stderr, /smtpd_tls_key_file \S+ is not readable by postern \(group postdrop\)/);
    // smtpd asks auth (auth:userdb) whether a recipient exists: only auth, as root, reads
    // the passwd-file, which stays root's, mode 0600.
    chmodSync(join(sb.dir, "users"), 0o600);
    const fixed = await sb.cli(["set-permissions"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /set-permissions: \S+\/spool\/incoming: owner postern/);
    const after = await sb.cli(["check"]);
    assert.doesNotMatch(after.stderr, /expected owner|local_recipient_maps/);
  });

  it("delivers over SMTP and serves POP3 with every service as its own user", async () => {
    await sb.start();
    const smtp = await runProgram("python3", [
      "-c",
      `import smtplib\ns=smtplib.SMTP("127.0.0.1",${sb.smtpPort})\ns.sendmail("s@example.org",["${MAIL_USER}@localhost"],"Subject: privsep\\r\\n\\r\\nseparated\\r\\n")\ns.quit()`,
    ]);
    assert.equal(smtp.code, 0, smtp.stderr);
    const maildir = join(sb.dir, "mail", MAIL_USER, "Maildir");
    await sb.waitFor(() => maildirMessages(maildir).length === 1, "delivery to the Maildir");
    const pop = await runProgram("python3", [
      "-c",
      `import poplib\np=poplib.POP3("127.0.0.1",${sb.base + 110})\np.user("${MAIL_USER}");p.pass_("${PASSWORD}")\nprint(b"\\n".join(p.retr(1)[1]).decode())\np.quit()`,
    ]);
    assert.equal(pop.code, 0, pop.stderr);
    assert.match(pop.stdout, /separated/);
    // Workers that are not root still append to the maillog master opened (group postdrop).
    await sb.waitLog(/postern\/pop3-login\[\d+\]: pop3-login: Login: user=<vera>/);
    await sb.waitLog(/postern\/smtpd\[\d+\]: connect from/);
  });

  it("shows each worker's uid, gid and supplementary groups in /proc", () => {
    const table = processTable(sb.dir);
    const expect: Record<string, number> = {
      master: 0,
      smtpd: ids.postern,
      cleanup: ids.postern,
      qmgr: ids.postern,
      local: 0,
      auth: 0,
      "pop3-login": ids.login,
      pop3: ids.vmail,
    };
    for (const [program, uid] of Object.entries(expect)) {
      const procs = table.get(program) ?? [];
      assert.ok(procs.length > 0, `${program} is running`);
      for (const p of procs) {
        assert.equal(p.uid, uid, `${program} uid`);
        if (uid === 0) continue;
        assert.equal(p.gid, ids.postdrop, `${program} gid`);
        assert.equal(p.groups, "", `${program} has no supplementary groups`);
      }
    }
  });

  it("an imap process started as root (one session per process) serves the session as virtual_uid", async () => {
    const sock = connect(sb.base + 143, "127.0.0.1");
    let seen = "";
    sock.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
    });
    const until = async (re: RegExp) => {
      for (let i = 0; i < 500 && !re.test(seen); i++) await new Promise((r) => setTimeout(r, 20));
      assert.match(seen, re);
    };
    try {
      await until(/^\* OK/);
      sock.write(`a LOGIN ${MAIL_USER} ${PASSWORD}\r\nb SELECT INBOX\r\n`);
      await until(/b OK \[READ-WRITE\]/);
      const [imap] = processTable(sb.dir).get("imap") ?? [];
      assert.ok(imap, "an imap process serves the session");
      assert.equal(imap.uid, ids.vmail, "imap uid after login");
      assert.notEqual(imap.gid, 0, "imap gid: virtual_uid's group, not root's");
    } finally {
      sock.destroy();
    }
  });

  it("keeps the login process away from the Maildir and the passwd-file", () => {
    const [login] = processTable(sb.dir).get("pop3-login") ?? [];
    const [mail] = processTable(sb.dir).get("pop3") ?? [];
    assert.ok(login && mail);
    const maildir = join(sb.dir, "mail", MAIL_USER, "Maildir");
    const message = readdirSync(join(maildir, "cur"))
      .map((f) => join(maildir, "cur", f))
      .concat(readdirSync(join(maildir, "new")).map((f) => join(maildir, "new", f)))[0];
    assert.ok(message, "a delivered message file");
    assert.equal(canRead(message, login), false, "pop3-login cannot read a message");
    assert.equal(canRead(join(sb.dir, "users"), login), false, "pop3-login cannot read the passwd-file");
    assert.equal(canRead(message, mail), true, "the pop3 mail process can read it");
    assert.equal(canRead(join(sb.dir, "users"), mail), false, "nor can the mail process read passwords");
  });
});
