/*
 * The postern command end to end against a real sandbox: usage errors, conf (postconf),
 * check, user, map, aliases, logrotate, and idle workers exiting after max_idle.
 */
import assert from "node:assert/strict";
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { processesOf, run, Sandbox, sleep } from "../helpers/sandbox.js";
import { smtpDialog } from "../helpers/smtp.js";

describe("postern command", () => {
  let sb: Sandbox;

  before(async () => {
    sb = await Sandbox.create({ user: "dora" });
  });
  after(async () => {
    await sb.destroy();
  });

  it("prints usage and exits 2 for no command, an unknown command or a bad flag", async () => {
    for (const args of [[], ["frobnicate"], ["-x", "status"], ["-c", sb.dir, "conf", "--nope"]]) {
      const r = await run(args);
      assert.equal(r.code, 2, `postern ${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /usage: postern/);
    }
  });

  it("conf prints defaults, non-default values and single parameters like postconf", async () => {
    assert.equal((await sb.cli(["conf", "-d", "myorigin"])).stdout, "myorigin = $myhostname\n");
    assert.equal((await sb.cli(["conf", "mail_name"])).stdout, "mail_name = Postern\n");
    assert.equal((await sb.cli(["conf", "-h", "queue_directory"])).stdout, `${sb.dir}/spool\n`);
    const n = (await sb.cli(["conf", "-n"])).stdout;
    assert.match(n, new RegExp(`^queue_directory = ${sb.dir}/spool$`, "m"));
    assert.doesNotMatch(n, /^mail_name =/m);
    assert.match(
      (await sb.cli(["conf", "-x", "smtpd_banner"])).stdout,
      /^smtpd_banner = \S+ ESMTP Postern\n$/,
    );
    const unknown = await sb.cli(["conf", "no_such_parameter"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /warning: no_such_parameter: unknown parameter/);
  });

  it("conf -e edits main.cf in place keeping comments, and -X removes a setting", async () => {
    const file = join(sb.dir, "main.cf");
    assert.equal((await sb.cli(["conf", "-e", "mail_name = Testmail", "smtpd_timeout=60s"])).code, 0);
    assert.equal(
      (await sb.cli(["conf", "mail_name", "smtpd_timeout"])).stdout,
      "mail_name = Testmail\nsmtpd_timeout = 60s\n",
    );
    assert.match(readFileSync(file, "utf8"), /^# postern development sandbox/m);
    assert.equal((await sb.cli(["conf", "-X", "mail_name", "smtpd_timeout"])).code, 0);
    assert.equal((await sb.cli(["conf", "mail_name"])).stdout, "mail_name = Postern\n");
  });

  it("conf -M prints master.cf entries", async () => {
    const r = await sb.cli(["conf", "-M"]);
    assert.equal(r.code, 0);
    assert.match(
      r.stdout,
      new RegExp(`^127\\.0\\.0\\.1:${sb.smtpPort} inet  n       y       n       -       100     smtpd$`, "m"),
    );
    assert.match(r.stdout, /^qmgr {7}fifo {2}n {7}y {7}n {7}300 {5}1 {7}qmgr$/m);
  });

  it("check warns about unknown parameters and names file and line of an error", async () => {
    const file = join(sb.dir, "main.cf");
    const original = readFileSync(file, "utf8");
    appendFileSync(file, "frobnication_level = 11\n");
    const warned = await sb.cli(["check"]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /warning: .*main\.cf, line \d+: unused parameter: frobnication_level=11/);
    const lines = original.split("\n").length;
    writeFileSync(file, `${original}this line has no equals sign\n`);
    const bad = await sb.cli(["check"]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      `postern: fatal: ${file}, line ${lines}: missing '=' after attribute name: "this line has no equals sign"\n`,
    );
    writeFileSync(file, `${original}message_size_limit = lots\n`);
    const typed = await sb.cli(["check"]);
    assert.equal(typed.code, 1);
    assert.match(
      typed.stderr,
      new RegExp(`fatal: ${file}, line ${lines}: bad numerical configuration: message_size_limit = lots`),
    );
    writeFileSync(
      file,
      `${original}smtpd_recipient_restrictions = permit_mynetwork, reject_unauth_destination\n`,
    );
    const restriction = await sb.cli(["check"]);
    assert.equal(restriction.code, 1);
    assert.match(
      restriction.stderr,
      /fatal: .*main\.cf: smtpd_recipient_restrictions: unknown restriction: permit_mynetwork/,
    );
    writeFileSync(file, original);
  });

  it("user add, passwd, list and del maintain the passwd-file", async () => {
    const users = join(sb.dir, "users");
    assert.equal((await sb.cli(["user", "add", "erin"], { input: "s3cret\n" })).code, 0);
    const line = readFileSync(users, "utf8")
      .split("\n")
      .find((l) => l.startsWith("erin:"));
    assert.match(
      line ?? "",
      new RegExp(`^erin:\\{SHA512-CRYPT\\}\\$6\\$[^:]+:::${"".padEnd(0)}:${sb.dir}/mail/erin::$`),
    );
    assert.equal((await sb.cli(["user", "add", "erin"], { input: "x\n" })).code, 1);
    assert.equal((await sb.cli(["user", "passwd", "erin"], { input: "other\n" })).code, 0);
    const changed = readFileSync(users, "utf8")
      .split("\n")
      .find((l) => l.startsWith("erin:"));
    assert.notEqual(changed, line);
    assert.deepEqual((await sb.cli(["user", "list"])).stdout.split("\n").filter(Boolean), ["dora", "erin"]);
    assert.equal((await sb.cli(["user", "del", "erin"])).code, 0);
    assert.equal((await sb.cli(["user", "del", "erin"])).code, 1);
    assert.match(readFileSync(users, "utf8"), /^# user:password/);
  });

  it("map compiles a table and -q queries it; aliases -q reads the alias database", async () => {
    const access = join(sb.dir, "access");
    writeFileSync(access, "# client access\n192.0.2.1   REJECT go away\nexample.com OK\n");
    assert.equal((await sb.cli(["map", access])).code, 0);
    assert.equal((await sb.cli(["map", "-q", "192.0.2.1", `hash:${access}`])).stdout, "REJECT go away\n");
    assert.equal((await sb.cli(["map", "-q", "nothere", access])).code, 1);
    assert.equal((await sb.cli(["aliases", "-q", "postmaster"])).stdout, "dora\n");
  });

  it("logrotate makes every process reopen the maillog, and idle workers exit after max_idle", async () => {
    assert.equal((await sb.cli(["conf", "-e", "max_idle = 1s"])).code, 0);
    await sb.start();
    try {
      await smtpDialog(sb.smtpPort, ["QUIT\r\n"]);
      await sb.waitLog(/postern\/smtpd\[\d+\]: disconnect from/);
      renameSync(join(sb.dir, "maillog"), join(sb.dir, "maillog.1"));
      assert.equal((await sb.cli(["logrotate"])).code, 0);
      await sleep(200);
      await smtpDialog(sb.smtpPort, ["QUIT\r\n"]);
      await sb.waitLog(/postern\/smtpd\[\d+\]: connect from/);
      const isWorker = (pid: number) => !readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("master.js");
      await sb.waitFor(
        () => processesOf(sb.dir).filter(isWorker).length === 0,
        "every idle worker to exit",
        10_000,
      );
      assert.equal(processesOf(sb.dir).length, 1, "only master is left");
    } finally {
      await sb.stop();
    }
  });
});
