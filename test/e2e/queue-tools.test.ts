/*
 * Queue tools against a running system with really deferred mail (the next hop refuses
 * connections): mailq shows it with the reason, super holds, releases, requeues (through
 * pickup, keeping the envelope) and deletes it, cat shows it, and bad IDs are refused.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Sandbox } from "../helpers/sandbox.js";
import { smtpDialog } from "../helpers/smtp.js";

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 1;
      s.close(() => resolve(port));
    });
  });
}

const queueFiles = (dir: string, q: string) =>
  readdirSync(join(dir, "spool", q)).filter((f) => !f.startsWith("."));

describe("queue tools on deferred mail", () => {
  let sb: Sandbox;
  let id = "";

  before(async () => {
    sb = await Sandbox.create({ user: "otto" });
    const port = await closedPort();
    assert.equal(
      (
        await sb.cli([
          "conf",
          "-e",
          `relayhost = [127.0.0.1]:${port}`,
          "minimal_backoff_time = 1h",
          "queue_run_delay = 1h",
        ])
      ).code,
      0,
    );
    await sb.start();
    await smtpDialog(sb.smtpPort, [
      "EHLO c\r\n",
      "MAIL FROM:<otto@localhost>\r\n",
      "RCPT TO:<far@away.example>\r\n",
      "DATA\r\n",
      "Subject: waiting\r\n\r\nbody\r\n.\r\n",
      "QUIT\r\n",
    ]);
    const m = await sb.waitLog(
      /(\w+): to=<far@away\.example>, relay=none, .*status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: Connection refused\)/,
    );
    id = m[1] ?? "";
    await sb.waitFor(() => queueFiles(sb.dir, "deferred").includes(id) || undefined, "the deferred file");
  });
  after(async () => {
    await sb.destroy();
  });

  it("lists deferred mail with its reason, as mailq and as JSON", async () => {
    const p = await sb.cli(["queue", "-p"]);
    assert.match(
      p.stdout,
      new RegExp(
        `^${id} +\\d+ \\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d  otto@localhost\\n +\\(connect to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:\\d+: Connection refused\\)\\n +far@away\\.example`,
        "m",
      ),
    );
    assert.match(p.stdout, /^-- \d+ Kbytes in 1 Request\.$/m);
    const j = JSON.parse((await sb.cli(["queue", "-j"])).stdout.trim()) as {
      queue_id: string;
      queue_name: string;
      recipients: { address: string }[];
    };
    assert.equal(j.queue_id, id);
    assert.equal(j.queue_name, "deferred");
    assert.equal(j.recipients[0]?.address, "far@away.example");
  });

  it("shows the message with postern cat", async () => {
    const c = await sb.cli(["cat", id]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /Subject: waiting/);
    assert.match(c.stdout, /far@away\.example/);
  });

  it("holds and releases a message", async () => {
    assert.equal((await sb.cli(["super", "-h", id])).code, 0);
    assert.ok(queueFiles(sb.dir, "hold").includes(id));
    assert.match((await sb.cli(["queue", "-p"])).stdout, new RegExp(`^${id}! `, "m"));
    assert.equal((await sb.cli(["super", "-H", id])).code, 0);
    assert.ok(queueFiles(sb.dir, "deferred").includes(id) || queueFiles(sb.dir, "active").includes(id));
  });

  it("requeues a message through pickup with its envelope, and deletes it", async () => {
    await sb.waitFor(() => queueFiles(sb.dir, "deferred").includes(id) || undefined, "back in deferred");
    const r = await sb.cli(["super", "-r", id]);
    assert.equal(r.code, 0, r.stderr);
    const m = await sb.waitLog(/postern\/pickup\[\d+\]: (\w+): uid=\d+ from=<otto@localhost>/);
    const newId = m[1] ?? "";
    await sb.waitLog(new RegExp(`${newId}: to=<far@away\\.example>, relay=none, .*status=deferred`));
    assert.equal(queueFiles(sb.dir, "corrupt").length, 0);
    const c = await sb.cli(["cat", newId]);
    assert.equal((c.stdout.match(/^Received: /gm) ?? []).length, 1, "requeueing adds no Received header");
    const d = await sb.cli(["super", "-d", "ALL"]);
    assert.equal(d.code, 0, d.stderr);
    assert.equal((await sb.cli(["queue", "-p"])).stdout, "Mail queue is empty\n");
  });

  it("refuses bad and unknown queue IDs clearly", async () => {
    const bad = await sb.cli(["super", "-d", "../etc"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid queue ID/);
    const unknown = await sb.cli(["cat", "8DnhAAAAAAAAA001"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no such message/);
  });
});
