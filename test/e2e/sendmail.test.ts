/*
 * Local submission end to end: the sendmail program (through sendmailMain, run as its
 * own process from a shell pipe) writes to maildrop with no master running; mailq lists
 * the waiting mail; after start, pickup → cleanup → qmgr → local deliver it to a real
 * Maildir; with the master running, `sendmail -t -i` and an SMTP session on stdin/stdout
 * (-bs) are delivered too.
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, runProgram, Sandbox } from "../helpers/sandbox.js";
import { maildirMessages } from "../helpers/smtp.js";

const USER = "alice";
const UID = process.getuid?.() ?? 0;

/** A shell-quoted string for sh -c. */
function q(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

describe("sendmail and pickup, end to end", () => {
  let sb: Sandbox;
  let maildir: string;
  let program: string;

  /** `printf INPUT | sendmail ARGS` as a shell runs it; the program name selects the mode. */
  const pipe = (input: string, args: string[], name = "sendmail") =>
    runProgram("sh", [
      "-c",
      `printf %s ${q(input)} | POSTERN_CONFIG_DIR=${q(sb.dir)} ${q(process.execPath)} ${q(program)} ${name} ${args.map(q).join(" ")}`,
    ]);

  const waitMessages = (n: number): Promise<string[]> =>
    sb.waitFor(() => {
      const m = maildirMessages(maildir);
      return m.length >= n ? m : undefined;
    }, `${n} messages in ${maildir}`);

  before(async () => {
    sb = await Sandbox.create({ user: USER });
    maildir = join(sb.dir, "mail", USER, "Maildir");
    program = join(sb.dir, "sendmail.mjs");
    const cli = join(REPO, "dist/lib/sendmail/cli.js");
    writeFileSync(
      program,
      `import { sendmailMain } from ${JSON.stringify(cli)};\nprocess.exitCode = await sendmailMain(process.argv.slice(3), process.argv[2]);\n`,
    );
  });
  after(async () => {
    await sb.destroy();
  });

  it("queues into maildrop with the master stopped, and mailq lists it", async () => {
    const r = await pipe(`Subject: while down\nX-Seq: down-1\n\nwritten while stopped\n`, [
      `${USER}@localhost`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const waiting = readdirSync(join(sb.dir, "spool", "maildrop"));
    assert.equal(waiting.length, 1);
    const q1 = await pipe("", [], "mailq");
    assert.equal(q1.code, 0, q1.stderr);
    assert.match(q1.stderr, /Mail system is down -- accessing queue directly/);
    assert.match(
      q1.stdout,
      new RegExp(
        `^${waiting[0]}\\s+\\d+ \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d  \\S+@\\S+\\n\\s+${USER}@localhost$`,
        "m",
      ),
    );
    assert.match(q1.stdout, /-- \d+ Kbytes in 1 Request\.\n$/);
  });

  it("delivers the waiting mail once the master starts", async () => {
    await sb.start();
    const [msg] = await waitMessages(1);
    assert.match(msg ?? "", /^X-Seq: down-1$/m);
    assert.match(
      msg ?? "",
      new RegExp(`^Received: by \\S+ \\(Postern, from userid ${UID}\\)\\n\\tid \\w+;`, "m"),
    );
    assert.match(msg ?? "", /^Message-ID: <.+>$/m);
    assert.match(msg ?? "", /^Date: /m);
    await sb.waitLog(new RegExp(`postern/pickup\\[\\d+\\]: \\w{16}: uid=${UID} from=<\\S+@\\S+>`));
    assert.deepEqual(readdirSync(join(sb.dir, "spool", "maildrop")), []);
  });

  it("delivers `sendmail -t -i` from a shell pipe, without the Bcc header and keeping '.' lines", async () => {
    const message = `From ${USER} Thu Jan  1 00:00:00 2026\nTo: Alice <${USER}@localhost>\nBcc: ${USER}@localhost\nSubject: piped\nX-Seq: pipe-1\n\nfirst\n.\nlast\n`;
    const r = await pipe(message, ["-t", "-i", "-F", "Cron Daemon", "-f", "cron@example.org"]);
    assert.equal(r.code, 0, r.stderr);
    const messages = await waitMessages(2);
    const msg = messages.find((m) => m.includes("X-Seq: pipe-1")) ?? "";
    assert.match(msg, /^Return-Path: <cron@example\.org>$/m);
    assert.match(msg, /^From: "?Cron Daemon"? <cron@example\.org>$/m);
    assert.doesNotMatch(msg, /^Bcc:/im);
    assert.doesNotMatch(msg, /^From alice /m);
    assert.match(msg, /\n\nfirst\n\.\nlast\n$/);
  });

  it("runs an SMTP session on stdin and stdout with -bs", async () => {
    const dialog = [
      "EHLO client.example",
      "MAIL FROM:<bs@example.org>",
      `RCPT TO:<${USER}@localhost>`,
      "DATA",
      "Subject: over bs",
      "X-Seq: bs-1",
      "",
      "..dot-stuffed line",
      ".",
      "QUIT",
      "",
    ].join("\r\n");
    const r = await pipe(dialog, ["-bs"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^220 .*\r\n/);
    assert.match(r.stdout, /250 2\.0\.0 Ok: queued as \w{16}\r\n221 /);
    const messages = await waitMessages(3);
    const msg = messages.find((m) => m.includes("X-Seq: bs-1")) ?? "";
    assert.match(msg, /^Return-Path: <bs@example\.org>$/m);
    assert.match(msg, /\n\n\.dot-stuffed line\n$/);
  });

  it("lists an empty queue through showq while postern runs", async () => {
    await sb.waitFor(
      () => readdirSync(join(sb.dir, "spool", "active")).length === 0,
      "an empty active queue",
    );
    const r = await pipe("", ["-bp"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "Mail queue is empty\n");
  });

  it("exits with EX_USAGE (64) on an unknown option and without recipients", async () => {
    const bad = await pipe("x\n", ["-z"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /sendmail: fatal: invalid option -- 'z'/);
    const none = await pipe("x\n", []);
    assert.equal(none.code, 64);
    assert.match(none.stderr, /Recipient addresses must be specified/);
  });
});
