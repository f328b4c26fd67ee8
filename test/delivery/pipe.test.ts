import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  commandEnvironment,
  commandOutcome,
  deliverToCommand,
  deliverToFile,
} from "../../lib/delivery/pipe.js";
import { chunks, failingAfter, tempDir } from "./helpers.js";

const env = commandEnvironment({
  home: "/home/alice",
  user: "alice",
  shell: "/bin/zsh",
  sender: "s@x.example",
  recipient: "alice+lists@example.com",
  originalRecipient: "Alice+Lists@example.com",
  extension: "lists",
});

test("commandEnvironment sets local(8)'s variables and a fixed PATH", () => {
  assert.equal(env["PATH"], "/usr/bin:/bin");
  assert.equal(env["HOME"], "/home/alice");
  assert.equal(env["USER"], "alice");
  assert.equal(env["LOGNAME"], "alice");
  assert.equal(env["SHELL"], "/bin/zsh");
  assert.equal(env["SENDER"], "s@x.example");
  assert.equal(env["RECIPIENT"], "alice+lists@example.com");
  assert.equal(env["LOCAL"], "alice+lists");
  assert.equal(env["DOMAIN"], "example.com");
  assert.equal(env["EXTENSION"], "lists");
  assert.equal(env["ORIGINAL_RECIPIENT"], "Alice+Lists@example.com");
});

test("commandEnvironment replaces shell metacharacters in message-derived values", () => {
  const e = commandEnvironment({
    home: "/h",
    user: "u",
    shell: "",
    sender: "`rm -rf /`;$x@y",
    recipient: "u@x",
  });
  assert.equal(e["SENDER"], "_rm_-rf_/___x@y");
  assert.equal(e["SHELL"], "/bin/sh");
});

const outcomes: Array<
  [string, { code: number | null; signal: string | null; timedOut: boolean }, string, string, string, string]
> = [
  ["exit 0", { code: 0, signal: null, timedOut: false }, "", "sent", "2.0.0", "delivered to command: cmd"],
  ["EX_TEMPFAIL", { code: 75, signal: null, timedOut: false }, "", "deferred", "4.3.0", "temporary failure"],
  [
    "EX_OSERR",
    { code: 71, signal: null, timedOut: false },
    "",
    "deferred",
    "4.3.0",
    "system resource problem",
  ],
  [
    "EX_NOUSER with output",
    { code: 67, signal: null, timedOut: false },
    "no such user\nmore",
    "bounced",
    "5.1.1",
    "user unknown. Command output: no such user",
  ],
  ["EX_NOPERM", { code: 77, signal: null, timedOut: false }, "", "bounced", "5.7.0", "permission denied"],
  [
    "EX_CONFIG",
    { code: 78, signal: null, timedOut: false },
    "",
    "bounced",
    "5.3.5",
    "local configuration error",
  ],
  [
    "EX_CANTCREAT",
    { code: 73, signal: null, timedOut: false },
    "",
    "bounced",
    "5.2.0",
    "can't create user output file",
  ],
  [
    "an unknown status",
    { code: 1, signal: null, timedOut: false },
    "oops\n",
    "bounced",
    "5.3.0",
    'Command died with status 1: "cmd". Command output: oops',
  ],
  [
    "a DSN in the output",
    { code: 1, signal: null, timedOut: false },
    "4.2.2 mailbox full\n",
    "deferred",
    "4.2.2",
    "mailbox full",
  ],
  [
    "a signal",
    { code: null, signal: "SIGSEGV", timedOut: false },
    "",
    "deferred",
    "4.3.0",
    'Command died with signal SIGSEGV: "cmd"',
  ],
  [
    "the time limit",
    { code: null, signal: "SIGKILL", timedOut: true },
    "",
    "deferred",
    "4.3.0",
    'Command time limit exceeded: "cmd"',
  ],
];

for (const [name, end, output, status, dsn, text] of outcomes) {
  test(`commandOutcome maps ${name} to ${status} ${dsn}`, () => {
    assert.deepEqual(commandOutcome("cmd", end, output), { status, dsn, text });
  });
}

test("commandOutcome quotes only the first line of output, printable and truncated", () => {
  const o = commandOutcome(
    "cmd",
    { code: 2, signal: null, timedOut: false },
    `\n\x01bad\t${"x".repeat(500)}\nsecond`,
  );
  assert.match(o.text, /Command output: _bad x+\.\.\.$/);
  assert.ok(o.text.length < 300);
});

test("deliverToCommand feeds the message on stdin with the environment and returns sent", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, "out");
    const cmd = `cat > ${out}; echo "$RECIPIENT $EXTENSION $HOME" >> ${out}`;
    const r = await deliverToCommand(cmd, chunks("Subject: x\n\n", "body\n"), {
      prepend: "Delivered-To: a@b\n",
      env,
      timeLimitMs: 5000,
    });
    assert.deepEqual(r, { status: "sent", dsn: "2.0.0", text: `delivered to command: ${cmd}` });
    assert.equal(
      readFileSync(out, "utf8"),
      "Delivered-To: a@b\nSubject: x\n\nbody\nalice+lists@example.com lists /home/alice\n",
    );
  } finally {
    cleanup();
  }
});

test("deliverToCommand maps a real exit 75 to a deferral and exit 1 to a bounce with output", async () => {
  const t = await deliverToCommand("exit 75", chunks("x\n"), { prepend: "", env, timeLimitMs: 5000 });
  assert.equal(`${t.status} ${t.dsn}`, "deferred 4.3.0");
  const b = await deliverToCommand("echo 'cannot deliver' >&2; exit 1", chunks("x\n"), {
    prepend: "",
    env,
    timeLimitMs: 5000,
  });
  assert.deepEqual(b, {
    status: "bounced",
    dsn: "5.3.0",
    text: `Command died with status 1: "echo 'cannot deliver' >&2; exit 1". Command output: cannot deliver`,
  });
});

test("deliverToCommand survives a command that does not read its input", async () => {
  const r = await deliverToCommand("exit 0", chunks("x".repeat(1_000_000)), {
    prepend: "",
    env,
    timeLimitMs: 5000,
  });
  assert.equal(r.status, "sent");
});

test("deliverToCommand kills a command past the time limit, with its children, and defers", async () => {
  const started = Date.now();
  const r = await deliverToCommand("sleep 30 & sleep 30", chunks("x\n"), {
    prepend: "",
    env,
    timeLimitMs: 200,
  });
  assert.equal(`${r.status} ${r.dsn}`, "deferred 4.3.0");
  assert.match(r.text, /^Command time limit exceeded/);
  assert.ok(Date.now() - started < 5000);
});

test("deliverToCommand defers and kills the command when the message cannot be read", async () => {
  const r = await deliverToCommand("cat > /dev/null", failingAfter("partial"), {
    prepend: "",
    env,
    timeLimitMs: 5000,
  });
  assert.equal(`${r.status} ${r.dsn}`, "deferred 4.3.0");
});

test("deliverToFile appends mbox-style to a file, or to a Maildir for a trailing slash", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const arrival = new Date(2026, 10, 22, 10, 0, 0);
    const file = join(dir, "archive");
    await deliverToFile(file, chunks("Subject: x\n\nFrom me\n"), { sender: "s@x", arrival, prepend: "" });
    assert.equal(
      readFileSync(file, "utf8"),
      "From s@x  Sun Nov 22 10:00:00 2026\nSubject: x\n\n>From me\n\n",
    );
    const size = await deliverToFile(`${join(dir, "md")}/`, chunks("x\n"), {
      sender: "s@x",
      arrival,
      prepend: "",
    });
    assert.equal(size, 2);
  } finally {
    cleanup();
  }
});
