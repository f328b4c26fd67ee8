/*
 * Tests for the sendmail command-line parser: every flag, clustering, values attached
 * and separate, ignored Sendmail options, and usage errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSendmailArgs, type SendmailOptions } from "../../lib/sendmail/args.js";

const DEFAULTS: SendmailOptions = {
  mode: "deliver",
  extractRecipients: false,
  ignoreDots: false,
  verbose: 0,
  recipients: [],
};

const ACCEPTED: [string, string[], Partial<SendmailOptions>][] = [
  ["no arguments", [], {}],
  ["a recipient", ["ann@example.org"], { recipients: ["ann@example.org"] }],
  ["-t", ["-t"], { extractRecipients: true }],
  ["-i", ["-i"], { ignoreDots: true }],
  ["-oi", ["-oi"], { ignoreDots: true }],
  ["-o i (separate value)", ["-o", "i"], { ignoreDots: true }],
  ["-ti clustered", ["-ti"], { extractRecipients: true, ignoreDots: true }],
  ["-f sender", ["-f", "me@example.org"], { sender: "me@example.org" }],
  ["-fsender attached", ["-fme@example.org"], { sender: "me@example.org" }],
  ["-f <sender> in brackets", ["-f", "<me@example.org>"], { sender: "me@example.org" }],
  ["-f <> null sender", ["-f", "<>"], { sender: "" }],
  ["-r sender", ["-r", "me@example.org"], { sender: "me@example.org" }],
  [
    "-tif clustered with a value",
    ["-tif", "me@x"],
    { extractRecipients: true, ignoreDots: true, sender: "me@x" },
  ],
  ["-F name", ["-F", "Ann Example"], { fullName: "Ann Example" }],
  ["-FCronDaemon attached", ["-FCronDaemon"], { fullName: "CronDaemon" }],
  ["-bm", ["-bm"], { mode: "deliver" }],
  ["-bs", ["-bs"], { mode: "smtp" }],
  ["-bp", ["-bp"], { mode: "mailq" }],
  ["-bi", ["-bi"], { mode: "newaliases" }],
  ["-I", ["-I"], { mode: "newaliases" }],
  ["-q", ["-q"], { mode: "flush" }],
  ["-q30m", ["-q30m"], { mode: "flush" }],
  ["-v -v", ["-v", "-v"], { verbose: 2 }],
  ["-N success,delay", ["-N", "success,delay"], { notify: "SUCCESS,DELAY" }],
  ["-N never", ["-Nnever"], { notify: "NEVER" }],
  ["-R hdrs", ["-R", "hdrs"], { ret: "HDRS" }],
  ["-R full", ["-Rfull"], { ret: "FULL" }],
  ["-V envid", ["-V", "abc123"], { envid: "abc123" }],
  ["-B 8BITMIME", ["-B8BITMIME"], { bodyType: "8BITMIME" }],
  ["-B 7bit", ["-B", "7bit"], { bodyType: "7BIT" }],
  ["-C config dir", ["-C", "/etc/x"], { configDir: "/etc/x" }],
  ["-oA alias file", ["-oA/etc/aliases2", "-bi"], { aliasFile: "/etc/aliases2", mode: "newaliases" }],
  ["ignored -oem -odb -om -o7 -o8", ["-oem", "-odb", "-om", "-o7", "-o8", "a@b"], { recipients: ["a@b"] }],
  ["ignored -G -U -c -m -n -x", ["-G", "-U", "-c", "-m", "-n", "-x"], {}],
  [
    "ignored -L -O -X -e -h -p -A with values",
    ["-Llabel", "-O", "x=y", "-X/tmp/log", "-eq", "-h", "5", "-p", "smtp", "-A", "c"],
    {},
  ],
  ["-- ends the options", ["-i", "--", "-t"], { ignoreDots: true, recipients: ["-t"] }],
  ["options stop at the first operand", ["a@b", "-t"], { recipients: ["a@b", "-t"] }],
  [
    "mutt's call",
    ["-oem", "-oi", "--", "ann@x", "bob@y"],
    { ignoreDots: true, recipients: ["ann@x", "bob@y"] },
  ],
  [
    "cron's call",
    ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
    { fullName: "CronDaemon", ignoreDots: true, bodyType: "8BITMIME", recipients: ["root"] },
  ],
  ["PHP mail()'s call", ["-t", "-i"], { extractRecipients: true, ignoreDots: true }],
];

const REFUSED: [string, string[], RegExp][] = [
  ["an unknown flag", ["-z"], /invalid option -- 'z'/],
  ["an unknown flag in a cluster", ["-tz"], /invalid option -- 'z'/],
  ["-f without its value", ["-f"], /requires an argument -- 'f'/],
  ["a bad -N", ["-N", "sometimes"], /bad -N/],
  ["-N never mixed with others", ["-N", "never,success"], /bad -N/],
  ["a bad -R", ["-R", "body"], /bad -R/],
  ["a bad -B", ["-B", "9BIT"], /bad -B/],
  ["a bad -V", ["-V", "has space"], /bad -V/],
  ["-bd daemon mode", ["-bd"], /not supported/],
  ["-bv", ["-bv"], /not supported/],
  ["an unknown -b mode", ["-bx"], /unsupported -b/],
  ["a control character in -f", ["-f", "a\nb"], /control characters/],
  ["a control character in a recipient", ["a\r@b"], /control characters/],
];

describe("parseSendmailArgs", () => {
  for (const [what, argv, expected] of ACCEPTED) {
    it(`accepts ${what}`, () => {
      const r = parseSendmailArgs(argv);
      assert.deepEqual(r, { ok: true, options: { ...DEFAULTS, ...expected } });
    });
  }
  for (const [what, argv, error] of REFUSED) {
    it(`refuses ${what}`, () => {
      const r = parseSendmailArgs(argv);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }
});
