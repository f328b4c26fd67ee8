/*
 * journal — logging to the journal the way the shipped unit runs postern: `postern start-fg`
 * as systemd starts it (ExecStart), with maillog_file = /dev/stdout, its standard output a
 * pipe as journald gives it. Every process' lines (master and the workers it forks) arrive on
 * that pipe in Postfix's syslog format, no maillog file is written, and SIGTERM (systemctl
 * stop) ends master with its last line on the pipe.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { POSTERN, Sandbox, sleep } from "../helpers/sandbox.js";
import { smtpDialog } from "../helpers/smtp.js";

const LINE = /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postern\/([a-z0-9-]+)\[(\d+)\]: (.*)$/;

describe("maillog_file = /dev/stdout (the journal under systemd)", () => {
  let sb: Sandbox;
  let master: ChildProcess;
  let out = "";
  let exited: Promise<number | null>;

  async function waitOut(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = out.match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${re} on stdout:\n${out.slice(-3000)}`);
      await sleep(50);
    }
  }

  before(async () => {
    sb = await Sandbox.create();
    const r = await sb.cli(["conf", "-e", "maillog_file=/dev/stdout"]);
    assert.equal(r.code, 0, r.stderr);
    master = spawn(process.execPath, [POSTERN, "-c", sb.dir, "start-fg"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    master.stdout?.on("data", (d: Buffer) => (out += d.toString("utf8")));
    master.stderr?.on("data", (d: Buffer) => (out += d.toString("utf8")));
    exited = new Promise((resolve) => master.on("exit", (code) => resolve(code)));
    await waitOut(/postern\/master\[\d+\]: daemon started/);
  });
  after(async () => {
    if (master.exitCode === null) master.kill("SIGKILL");
    await sb.destroy();
  });

  it("a delivery's lines from smtpd, cleanup, qmgr and local all reach master's stdout", async () => {
    const user = process.env["USER"] ?? "root";
    const replies = await smtpDialog(sb.smtpPort, [
      "EHLO client.example\r\n",
      "MAIL FROM:<sender@example.org>\r\n",
      `RCPT TO:<${user}@localhost>\r\n`,
      "DATA\r\n",
      "Subject: journal\r\n\r\nto the journal\r\n.\r\n",
      "QUIT\r\n",
    ]);
    const queued = replies.find((r) => r.startsWith("250 2.0.0 Ok: queued as "));
    assert.ok(queued, replies.join("\n"));
    const id = queued.slice("250 2.0.0 Ok: queued as ".length);
    await waitOut(new RegExp(`postern/local\\[\\d+\\]: ${id}: to=<[^>]+>.*status=sent`));
    await waitOut(new RegExp(`postern/qmgr\\[\\d+\\]: ${id}: removed`));
    const programs = new Set<string>();
    for (const line of out.split("\n").filter((l) => l.includes(`${id}: `))) {
      const m = line.match(LINE);
      assert.ok(m, `not a syslog-format line: ${JSON.stringify(line)}`);
      programs.add(m[1] as string);
    }
    for (const p of ["smtpd", "cleanup", "qmgr", "local"])
      assert.ok(programs.has(p), `no ${p} line for ${id}`);
    assert.match(out, /postern\/smtpd\[\d+\]: connect from /);
  });

  it("no maillog file is written", () => {
    assert.equal(existsSync(join(sb.dir, "maillog")), false, readdirSync(sb.dir).join(" "));
  });

  it("SIGTERM stops master with its last line on stdout and exit status 0", async () => {
    master.kill("SIGTERM");
    const code = await Promise.race([exited, sleep(40_000).then(() => "timeout" as const)]);
    assert.equal(code, 0, out.slice(-2000));
    assert.match(out, /postern\/master\[\d+\]: terminating on signal 15/);
    assert.match(out.trimEnd().split("\n").at(-1) ?? "", LINE);
  });
});
