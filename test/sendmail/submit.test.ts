/*
 * Tests for submitMessage: the maildrop file is written without any daemon running, with
 * the right envelope, attributes, headers and mode.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureQueueDirs, openContent, queuePath, readQueueFile } from "../../lib/queue/index.js";
import { parseSendmailArgs, type SendmailOptions } from "../../lib/sendmail/args.js";
import { encodeDisplayName, type SubmitSettings, submitMessage } from "../../lib/sendmail/submit.js";

let queueDir: string;
let root: string;

function settings(overrides: Partial<SubmitSettings> = {}): SubmitSettings {
  return {
    queueDir,
    myorigin: "example.org",
    headerSizeLimit: 102400,
    messageSizeLimit: 0,
    uid: 1234,
    userName: "ann",
    ...overrides,
  };
}

function options(argv: string[]): SendmailOptions {
  const r = parseSendmailArgs(argv);
  if (!r.ok) throw new Error(r.error);
  return r.options;
}

async function* chunks(text: string, size = 7): AsyncIterable<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function content(
  id: string,
): Promise<{ info: Awaited<ReturnType<typeof readQueueFile>>; text: string }> {
  const info = await readQueueFile(queuePath(queueDir, "maildrop", id));
  const parts: Buffer[] = [];
  for await (const c of openContent(info)) parts.push(c as Buffer);
  return { info, text: Buffer.concat(parts).toString("utf8") };
}

describe("submitMessage", () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), "postern-sendmail-"));
    queueDir = join(root, "spool");
    ensureQueueDirs(queueDir);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("writes a maildrop file with the user's envelope and no daemon running", async () => {
    const r = await submitMessage(settings(), options(["bob@example.net"]), chunks("Subject: hi\n\nhello\n"));
    assert.ok(r.ok);
    const { info, text } = await content(r.id);
    assert.equal(info.envelope.sender, "ann@example.org");
    assert.deepEqual(info.envelope.recipients, [{ address: "bob@example.net" }]);
    assert.deepEqual(info.envelope.attrs, { origin: "sendmail", uid: "1234", rewrite_context: "local" });
    assert.equal(text, "Subject: hi\n\nhello\n");
    assert.equal(statSync(queuePath(queueDir, "maildrop", r.id)).mode & 0o777, 0o640);
    assert.ok(!readdirSync(join(queueDir, "maildrop")).some((f) => f.startsWith(".")));
  });

  it("with -t takes To, Cc and Bcc recipients and removes Bcc", async () => {
    const message =
      "To: Ann <ann@x>,\r\n\tbob@y\r\nCc: cid@z\r\nBcc: dan@w, ann@x\r\nSubject: t\r\n\r\nbody\r\n";
    const r = await submitMessage(settings(), options(["-t", "extra@q"]), chunks(message, 1));
    assert.ok(r.ok);
    const { info, text } = await content(r.id);
    assert.deepEqual(
      info.envelope.recipients.map((x) => x.address),
      ["extra@q", "ann@x", "bob@y", "cid@z", "dan@w"],
    );
    assert.equal(text, "To: Ann <ann@x>,\n\tbob@y\nCc: cid@z\nSubject: t\n\nbody\n");
  });

  it("records -f, -F, -N, -R, -V and -B", async () => {
    const argv = [
      "-f",
      "<me@there>",
      "-F",
      "Ann Example",
      "-N",
      "failure",
      "-R",
      "hdrs",
      "-V",
      "E1",
      "-B",
      "8BITMIME",
      "z@z",
    ];
    const r = await submitMessage(settings(), options(argv), chunks("Subject: x\n\nb\n"));
    assert.ok(r.ok);
    const { info, text } = await content(r.id);
    assert.equal(info.envelope.sender, "me@there");
    assert.deepEqual(info.envelope.recipients, [{ address: "z@z", notify: "FAILURE" }]);
    assert.equal(info.envelope.attrs["full_name"], "Ann Example");
    assert.equal(info.envelope.attrs["ret"], "HDRS");
    assert.equal(info.envelope.attrs["envid"], "E1");
    assert.equal(info.envelope.attrs["body"], "8BITMIME");
    assert.equal(text, "Subject: x\nFrom: Ann Example <me@there>\n\nb\n");
  });

  it("does not add From: when the message has one", async () => {
    const r = await submitMessage(settings(), options(["-F", "Ann", "z@z"]), chunks("From: x@y\n\nb\n"));
    assert.ok(r.ok);
    assert.equal((await content(r.id)).text, "From: x@y\n\nb\n");
  });

  it("stops at a '.' line unless -i", async () => {
    const a = await submitMessage(settings(), options(["z@z"]), chunks("S: 1\n\nx\n.\ny\n"));
    const b = await submitMessage(settings(), options(["-i", "z@z"]), chunks("S: 1\n\nx\n.\ny\n"));
    assert.ok(a.ok && b.ok);
    assert.equal((await content(a.id)).text, "S: 1\n\nx\n");
    assert.equal((await content(b.id)).text, "S: 1\n\nx\n.\ny\n");
  });

  it("queues an empty message", async () => {
    const r = await submitMessage(settings(), options(["z@z"]), chunks(""));
    assert.ok(r.ok);
    assert.equal((await content(r.id)).text, "");
  });

  it("refuses -t with no recipients in the headers (EX_DATAERR) and leaves nothing behind", async () => {
    const before = readdirSync(join(queueDir, "maildrop")).length;
    const r = await submitMessage(settings(), options(["-t"]), chunks("To: undisclosed-recipients:;\n\nx\n"));
    assert.deepEqual(r, { ok: false, status: 65, error: "No recipient addresses found in message header" });
    assert.equal(readdirSync(join(queueDir, "maildrop")).length, before);
  });

  it("refuses a message over message_size_limit (EX_DATAERR) and removes the temporary file", async () => {
    const before = readdirSync(join(queueDir, "maildrop")).length;
    const r = await submitMessage(
      settings({ messageSizeLimit: 100 }),
      options(["z@z"]),
      chunks(`S: x\n\n${"y".repeat(500)}\n`),
    );
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.status, 65);
    assert.equal(readdirSync(join(queueDir, "maildrop")).length, before);
  });

  it("answers EX_TEMPFAIL when the queue cannot be written", async () => {
    const r = await submitMessage(
      settings({ queueDir: join(root, "missing") }),
      options(["z@z"]),
      chunks("S: x\n\nb\n"),
    );
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.status, 75);
      assert.match(r.error, /cannot write to the maildrop queue/);
    }
  });
});

describe("encodeDisplayName", () => {
  const CASES: [string, string][] = [
    ["Ann Example", "Ann Example"],
    ["Example, Ann", '"Example, Ann"'],
    ['Ann "the" Ex', '"Ann \\"the\\" Ex"'],
    ["Zoë", "=?UTF-8?B?Wm/Dqw==?="],
  ];
  for (const [name, expected] of CASES) {
    it(`writes ${JSON.stringify(name)} as ${expected}`, () =>
      assert.equal(encodeDisplayName(name), expected));
  }
});
