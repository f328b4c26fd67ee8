import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { catCommand } from "../../lib/cli/cat.js";
import { newQueueId, queuePath } from "../../lib/queue/index.js";
import { placeMessage, runTool, type ToolSandbox, toolSandbox } from "./helpers.js";

let sb: ToolSandbox;

before(async () => {
  sb = await toolSandbox();
});
after(() => sb.remove());

const CONTENT = "Subject: caf\u00e9\nFrom: alice@example.org\n\nhello\nworld";

test("cat prints envelope, contents and status in postcat's sections", async () => {
  const m = await placeMessage(sb.queueDir, "deferred", {
    envelope: {
      recipients: [
        { address: "bob@example.net", orcpt: "rfc822;bob@example.net", notify: "FAILURE" },
        { address: "carol@example.net" },
      ],
    },
    content: CONTENT,
    bounced: [1],
    deferText: "connect to mx: Connection refused",
  });
  const r = await runTool(catCommand, sb.dir, [m.id]);
  assert.equal(r.code, 0);
  const name = `deferred/${m.id}`;
  const sections = [...r.out.matchAll(/^\*\*\* (.+) \*\*\*$/gm)].map((x) => x[1]);
  assert.deepEqual(sections, [
    `ENVELOPE RECORDS ${name}`,
    `MESSAGE CONTENTS ${name}`,
    `HEADER EXTRACTED ${name}`,
    `MESSAGE FILE END ${name}`,
  ]);
  assert.match(r.out, new RegExp(`^message_size: ${Buffer.byteLength(CONTENT)}$`, "m"));
  assert.match(r.out, /^message_arrival_time: \w{3} Jan [ \d]\d \d\d:\d\d:\d\d 2026$/m);
  assert.match(r.out, /^sender: alice@example\.org$/m);
  assert.match(r.out, /^named_attribute: origin=test$/m);
  assert.match(
    r.out,
    /^original_recipient: rfc822;bob@example\.net\ndsn_notify_flags: FAILURE\nrecipient: bob@example\.net\ndone_recipient: carol@example\.net$/m,
  );
  assert.ok(r.out.includes(`*** MESSAGE CONTENTS ${name} ***\n${CONTENT}\n*** HEADER EXTRACTED`));
  assert.match(
    r.out,
    /^recipient_status: bob@example\.net: status=deferred, dsn=4\.4\.1, relay=none, .*\(connect to mx: Connection refused\)$/m,
  );
  assert.match(
    r.out,
    /^recipient_status: carol@example\.net: status=bounced, dsn=5\.1\.1, relay=local, .*\(unknown user\)$/m,
  );
  assert.match(r.out, /^delivery_attempts: 1$/m);
});

test("cat -h and -b print only the header or only the body", async () => {
  const m = await placeMessage(sb.queueDir, "hold", { content: CONTENT });
  const h = await runTool(catCommand, sb.dir, ["-h", m.id]);
  assert.equal(
    h.out,
    `*** MESSAGE CONTENTS hold/${m.id} ***\nSubject: caf\u00e9\nFrom: alice@example.org\n*** MESSAGE FILE END hold/${m.id} ***\n`,
  );
  const b = await runTool(catCommand, sb.dir, ["-b", m.id]);
  assert.equal(
    b.out,
    `*** MESSAGE CONTENTS hold/${m.id} ***\nhello\nworld\n*** MESSAGE FILE END hold/${m.id} ***\n`,
  );
  const e = await runTool(catCommand, sb.dir, ["-e", m.id]);
  assert.doesNotMatch(e.out, /MESSAGE CONTENTS|hello/);
  assert.match(e.out, /ENVELOPE RECORDS/);
});

test("cat refuses bad, unknown and corrupt queue files clearly", async () => {
  const ghost = newQueueId();
  const broken = newQueueId();
  writeFileSync(queuePath(sb.queueDir, "deferred", broken), "not a queue file\n");
  const cases: [string[], number, string][] = [
    [["nope"], 1, "postern: fatal: invalid queue ID: nope\n"],
    [[ghost], 1, `postern: fatal: ${ghost}: no such message\n`],
    [[broken], 1, `postern: fatal: deferred/${broken}: corrupt queue file: truncated envelope\n`],
    [[], 2, "postern: give exactly one queue ID\n"],
  ];
  for (const [args, code, err] of cases) {
    const r = await runTool(catCommand, sb.dir, args);
    assert.deepEqual({ code: r.code, err: r.err }, { code, err }, args.join(" "));
  }
});
