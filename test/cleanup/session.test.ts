import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import fc from "fast-check";
import { type CleanupRequest, CleanupSession, mailDate } from "../../lib/cleanup/index.js";
import { ensureQueueDirs, openContent, queuePath, readQueueFile } from "../../lib/queue/index.js";

process.env["TZ"] = "UTC";
const ARRIVAL = Date.UTC(2026, 10, 22, 10, 0, 0);
let queueDir = "";

before(() => {
  queueDir = mkdtempSync(join(tmpdir(), "postern-cleanup-"));
  ensureQueueDirs(queueDir);
});
after(() => rmSync(queueDir, { recursive: true, force: true }));

const smtpRequest: CleanupRequest = {
  envelope: {
    sender: "alice@example.org",
    recipients: [{ address: "bob@example.net" }],
    arrivalTime: ARRIVAL,
    attrs: { origin: "smtpd", client_address: "192.0.2.1" },
  },
  myhostname: "mx.example.net",
  myorigin: "example.net",
  received: {
    heloName: "client.example.org",
    clientName: "mail.example.org",
    clientIp: "192.0.2.1",
    protocol: "ESMTP",
  },
  addMissing: false,
  headerSizeLimit: 102400,
  inputIsCrlf: true,
};

async function cleanup(
  req: CleanupRequest,
  input: string | Buffer,
  split = false,
): Promise<{
  text: string;
  id: string;
  messageId: string;
  attrs: Record<string, string>;
  sender: string;
  rcpts: string[];
}> {
  const session = await CleanupSession.begin(queueDir, req);
  const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
  // Byte by byte through one reused buffer: cleanup must copy whatever it keeps.
  const scratch = Buffer.alloc(1);
  if (split)
    for (const b of bytes) {
      scratch[0] = b;
      await session.write(scratch);
    }
  else await session.write(bytes);
  const result = await session.finish();
  assert.equal(result.id, session.id);
  const info = await readQueueFile(queuePath(queueDir, "incoming", result.id));
  const parts: Buffer[] = [];
  for await (const chunk of openContent(info)) parts.push(chunk as Buffer);
  const content = Buffer.concat(parts);
  assert.equal(result.size, content.length);
  assert.equal(info.envelope.attrs["size"], String(content.length));
  assert.equal(result.nrcpt, info.envelope.recipients.length);
  return {
    text: content.toString("latin1"),
    id: result.id,
    messageId: result.messageId,
    attrs: info.envelope.attrs,
    sender: info.envelope.sender,
    rcpts: info.envelope.recipients.map((r) => r.address),
  };
}

test("mailDate formats RFC 5322 dates the way Postfix does", () => {
  assert.equal(mailDate(new Date(ARRIVAL)), "Sun, 22 Nov 2026 10:00:00 +0000 (UTC)");
  assert.equal(mailDate(new Date(Date.UTC(2026, 6, 7, 4, 5, 6))), "Tue,  7 Jul 2026 04:05:06 +0000 (UTC)");
});

test("SMTP mail gets a Received header with client, id and the single recipient, CRLF turned into LF", async () => {
  for (const split of [false, true]) {
    const r = await cleanup(smtpRequest, "Subject: hi\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\nline\r\n", split);
    assert.equal(
      r.text,
      "Received: from client.example.org (mail.example.org [192.0.2.1])\n" +
        `\tby mx.example.net (Postern) with ESMTP id ${r.id}\n` +
        "\tfor <bob@example.net>; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)\n" +
        "Subject: hi\nMessage-ID: <m1@x>\n\nbody\nline\n",
    );
    assert.equal(r.messageId, "<m1@x>");
    assert.equal(r.attrs["message_id"], "<m1@x>");
    assert.equal(r.attrs["client_address"], "192.0.2.1");
  }
});

test("Received shows TLS and the authenticated sender, and omits 'for' with several recipients", async () => {
  const req: CleanupRequest = {
    ...smtpRequest,
    envelope: { ...smtpRequest.envelope, recipients: [{ address: "b@x.org" }, { address: "c@x.org" }] },
    received: {
      heloName: "[192.0.2.1]",
      clientName: "unknown",
      clientIp: "2001:db8::1",
      protocol: "ESMTPSA",
      tls: "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
      saslUser: "alice",
    },
  };
  const r = await cleanup(req, "Subject: x\r\n\r\nb\r\n");
  assert.equal(
    r.text.split("\nSubject:")[0],
    "Received: from [192.0.2.1] (unknown [IPv6:2001:db8::1])\n" +
      "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n" +
      "\t(No client certificate requested)\n" +
      "\t(Authenticated sender: alice)\n" +
      `\tby mx.example.net (Postern) with ESMTPSA id ${r.id};\n` +
      "\tSun, 22 Nov 2026 10:00:00 +0000 (UTC)",
  );
});

test("local mail gets the pickup Received form and missing Message-ID, Date and From", async () => {
  const { received: _unused, ...rest } = smtpRequest;
  const req: CleanupRequest = {
    ...rest,
    envelope: {
      sender: "alice",
      recipients: [{ address: "bob" }],
      arrivalTime: ARRIVAL,
      attrs: { uid: "1000" },
    },
    inputIsCrlf: false,
  };
  const r = await cleanup(req, "Subject: local\nTo: bob\n\nhello\n");
  const messageId = `<20261122100000.${r.id}@mx.example.net>`;
  assert.equal(
    r.text,
    "Received: by mx.example.net (Postern, from userid 1000)\n" +
      `\tid ${r.id}; Sun, 22 Nov 2026 10:00:00 +0000 (UTC)\n` +
      "Subject: local\nTo: bob\n" +
      `Message-ID: ${messageId}\nDate: Sun, 22 Nov 2026 10:00:00 +0000 (UTC)\nFrom: alice@example.net\n` +
      "\nhello\n",
  );
  assert.equal(r.messageId, messageId);
  assert.equal(r.attrs["message_id"], messageId);
  assert.equal(r.sender, "alice@example.net");
  assert.deepEqual(r.rcpts, ["bob@example.net"]);
});

test("missing headers are added to SMTP mail only with addMissing, and present ones are kept", async () => {
  const bare = await cleanup(smtpRequest, "Subject: x\r\n\r\nb\r\n");
  assert.doesNotMatch(bare.text, /^(Message-ID|Date|From):/m);
  assert.equal(bare.messageId, "");
  assert.equal(bare.attrs["message_id"], undefined);
  const added = await cleanup(
    { ...smtpRequest, addMissing: true },
    "Subject: x\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nb\r\n",
  );
  assert.match(added.text, /\nMessage-ID: <20261122100000\.[0-9A-Za-z]+@mx\.example\.net>\n/);
  assert.equal((added.text.match(/^Date:/gm) ?? []).length, 1);
  assert.match(added.text, /\nFrom: alice@example\.org\n\nb\n$/);
  const nullSender = await cleanup(
    { ...smtpRequest, addMissing: true, envelope: { ...smtpRequest.envelope, sender: "" } },
    "Subject: x\r\n\r\n",
  );
  assert.match(nullSender.text, /\nFrom: MAILER-DAEMON\n\n$/);
});

test("Return-Path, Bcc and Content-Length headers are removed, folded ones included", async () => {
  const r = await cleanup(
    smtpRequest,
    "Return-Path: <evil@x>\r\nSubject: a\r\n folded\r\nBcc: hidden@x,\r\n more@x\r\nContent-Length: 3\r\nTo: b@x\r\n\r\nbody\r\n",
  );
  assert.equal(r.text.split("\n").slice(3).join("\n"), "Subject: a\n folded\nTo: b@x\n\nbody\n");
});

test("a message with only headers and no final newline is queued with its headers", async () => {
  const r = await cleanup({ ...smtpRequest, addMissing: true }, "Subject: only headers");
  assert.match(
    r.text,
    /\nSubject: only headers\nMessage-ID: <[^>]+>\nDate: [^\n]+\nFrom: alice@example\.org\n$/,
  );
});

test("an empty message still gets its Received header", async () => {
  const r = await cleanup(smtpRequest, "");
  assert.match(r.text, /^Received: from client\.example\.org [\s\S]*\(UTC\)\n$/);
});

test("header_size_limit truncates a long header, after which the rest is body; a lone CR survives", async () => {
  const input = `S: a\rb\r\nX-Long: ${"z".repeat(100)}\r\nT: t\r\n\r\nbo\rdy\r\n`;
  const r = await cleanup({ ...smtpRequest, headerSizeLimit: 30 }, input);
  assert.equal(
    r.text.split("\n").slice(3).join("\n"),
    `S: a\rb\nX-Long: ${"z".repeat(22)}\n\nT: t\n\nbo\rdy\n`,
  );
});

test("nothing is left behind when a session is aborted", async () => {
  const session = await CleanupSession.begin(queueDir, smtpRequest);
  await session.write(Buffer.from("Subject: x\r\n"));
  await session.abort();
  assert.ok(!readdirSync(join(queueDir, "incoming")).some((name) => name.includes(session.id)));
});

test("any body round-trips byte for byte after CRLF to LF, however it is split", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 400 }),
      fc.array(fc.nat(400), { maxLength: 5 }),
      async (body, cuts) => {
        const input = Buffer.concat([Buffer.from("Subject: p\r\n\r\n"), Buffer.from(body)]);
        const session = await CleanupSession.begin(queueDir, smtpRequest);
        let start = 0;
        for (const cut of [...cuts.map((c) => Math.min(c, input.length))].sort((a, b) => a - b)) {
          await session.write(input.subarray(start, cut));
          start = cut;
        }
        await session.write(input.subarray(start));
        const { id } = await session.finish();
        const info = await readQueueFile(queuePath(queueDir, "incoming", id));
        const parts: Buffer[] = [];
        for await (const chunk of openContent(info)) parts.push(chunk as Buffer);
        const text = Buffer.concat(parts).toString("latin1");
        const expected = Buffer.from(body).toString("latin1").replace(/\r\n/g, "\n");
        assert.equal(text.slice(text.indexOf("\nSubject: p\n\n") + 13), expected);
      },
    ),
    { seed: 11, numRuns: 40 },
  );
});
