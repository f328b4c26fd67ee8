/*
 * permissions: the expected queue tree, socket modes, what inspect reports and what
 * repair changes, in a temp directory. Owner changes are exercised only as root.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  ensureQueueTree,
  formatProblem,
  inspect,
  maillogExpectation,
  type Owners,
  queueExpectations,
  repair,
  socketMode,
} from "../../lib/master/permissions.js";

const asRoot = process.getuid?.() === 0;
const modeOf = (path: string) => statSync(path).mode & 0o7777;

describe("queueExpectations", () => {
  it("gives each queue directory Postfix's mode (with postern's maildrop and public)", () => {
    const modes = Object.fromEntries(
      queueExpectations("/q", undefined).map((e) => [e.path, e.mode?.toString(8)]),
    );
    assert.equal(modes["/q"], "755");
    assert.equal(modes["/q/maildrop"], "3733");
    assert.equal(modes["/q/public"], "711");
    assert.equal(modes["/q/private"], "710");
    assert.equal(modes["/q/incoming"], "700");
    assert.equal(modes["/q/pid"], "700");
  });

  it("checks no owner without owners, and with them gives pid/ to root and the rest to mail_owner", () => {
    assert.ok(queueExpectations("/q", undefined).every((e) => e.uid === undefined && e.gid === undefined));
    const owners: Owners = {
      root: { uid: 0, gid: 0 },
      mailOwner: { name: "postern", uid: 105, gid: 110 },
      group: { name: "postdrop", gid: 120 },
    };
    const byPath = new Map(queueExpectations("/q", owners).map((e) => [e.path, e]));
    assert.equal(byPath.get("/q")?.uid, 0);
    assert.equal(byPath.get("/q/pid")?.uid, 0);
    assert.deepEqual([byPath.get("/q/maildrop")?.uid, byPath.get("/q/maildrop")?.gid], [105, 120]);
    assert.deepEqual([byPath.get("/q/incoming")?.uid, byPath.get("/q/incoming")?.gid], [105, undefined]);
    assert.equal(byPath.get("/q/incoming")?.tree, true);
    assert.equal(byPath.get("/q/maildrop")?.tree, undefined, "maildrop files keep their submitter as owner");
  });
});

describe("socketMode", () => {
  const table: [string, boolean, "unix" | "fifo", number][] = [
    ["auth", true, "unix", 0o660],
    ["pop3", true, "unix", 0o660],
    ["imap", true, "unix", 0o660],
    ["local", true, "unix", 0o600],
    ["smtp", true, "unix", 0o600],
    ["pickup", false, "fifo", 0o666],
    ["qmgr", false, "fifo", 0o666],
    ["showq", false, "unix", 0o666],
    ["cleanup", false, "unix", 0o660],
  ];
  for (const [command, priv, type, mode] of table) {
    it(`makes the ${priv ? "private" : "public"} ${command} socket ${mode.toString(8)}`, () => {
      assert.equal(socketMode({ command, private: priv, type }), mode);
    });
  }
});

describe("maillogExpectation", () => {
  const owners: Owners = {
    root: { uid: 0, gid: 0 },
    mailOwner: { name: "p", uid: 1, gid: 1 },
    group: { name: "g", gid: 7 },
  };
  it("asks for group write by setgid_group on a real file only", () => {
    assert.deepEqual(maillogExpectation("/var/log/maillog", owners), {
      path: "/var/log/maillog",
      what: "file",
      gid: 7,
      bits: 0o020,
    });
    assert.equal(maillogExpectation("/dev/stdout", owners), undefined);
    assert.equal(maillogExpectation("/var/log/maillog", undefined), undefined);
  });
});

describe("inspect and repair", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "postern-perms-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("ensureQueueTree creates every missing directory with its mode and reports nothing", () => {
    const q = join(dir, "spool");
    assert.deepEqual(ensureQueueTree(q, undefined), []);
    assert.equal(modeOf(join(q, "maildrop")), 0o3733);
    assert.equal(modeOf(join(q, "private")), 0o710);
    assert.equal(modeOf(join(q, "incoming")), 0o700);
  });

  it("reports a wrong mode with path, expected and actual, and repair fixes it", () => {
    const q = join(dir, "spool");
    ensureQueueTree(q, undefined);
    chmodSync(join(q, "incoming"), 0o755);
    rmSync(join(q, "hold"), { recursive: true });
    const problems = inspect(queueExpectations(q, undefined));
    assert.deepEqual(
      problems.map((p) => formatProblem(p)),
      [
        `${q}/incoming: expected mode 0700; found owner ${process.getuid?.()}, group ${process.getgid?.()}, mode 0755`,
        `${q}/hold: expected mode 0700; missing`,
      ],
    );
    const changes = repair(queueExpectations(q, undefined), { trees: true });
    assert.deepEqual(changes, [`${q}/incoming: mode 0700`, `created ${q}/hold`]);
    assert.deepEqual(inspect(queueExpectations(q, undefined)), []);
  });

  it("adds group write to the maillog without touching its other bits", () => {
    const log = join(dir, "maillog");
    writeFileSync(log, "");
    chmodSync(log, 0o640);
    const gid = process.getgid?.() ?? 0;
    const e = { path: log, what: "file" as const, gid, bits: 0o020 };
    assert.equal(inspect([e]).length, 1);
    repair([e], { trees: false });
    assert.equal(modeOf(log), 0o660);
    assert.deepEqual(inspect([e]), []);
  });

  it("gives queue files to mail_owner and names users in messages", {
    skip: !asRoot && "chown needs root",
  }, () => {
    const q = join(dir, "spool");
    const owners: Owners = {
      root: { uid: 0, gid: 0 },
      mailOwner: { name: "nobody", uid: 65534, gid: 65534 },
      group: { name: "nogroup", gid: 65534 },
    };
    ensureQueueTree(q, undefined);
    mkdirSync(join(q, "deferred", "A"));
    writeFileSync(join(q, "deferred", "A", "ABC123"), "queue file");
    const names = {
      user: (u: number) => (u === 65534 ? "nobody" : String(u)),
      group: (g: number) => String(g),
    };
    const found = inspect(queueExpectations(q, owners)).map((p) => formatProblem(p, names));
    assert.ok(
      found.includes(`${q}/deferred/A/ABC123: expected owner nobody; found owner 0`),
      found.join("\n"),
    );
    assert.ok(
      found.some((l) => l.startsWith(`${q}/maildrop: expected owner nobody, group 65534, mode 3733;`)),
    );
    repair(queueExpectations(q, owners), { trees: true, names });
    assert.deepEqual(inspect(queueExpectations(q, owners)), []);
    assert.equal(statSync(join(q, "deferred", "A", "ABC123")).uid, 65534);
    assert.equal(modeOf(join(q, "maildrop")), 0o3733, "the set-id bits survive chown");
    chownSync(join(q, "deferred"), 0, 0);
  });
});
