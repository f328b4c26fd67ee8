import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { test } from "node:test";
import fc from "fast-check";
import {
  buildDsn,
  type DsnOptions,
  type DsnRecipient,
  diagnosticCode,
  remoteMta,
  streamHeaders,
  xtextDecode,
} from "../../lib/bounce/dsn.js";
import type { QueueFileInfo } from "../../lib/queue/index.js";

const HEADER = "From: alice@example.org\nTo: bob@example.net\nSubject: hello\n";
const BODY = "line one\n--not-a-boundary\nline three\n";
const CONTENT = `${HEADER}\n${BODY}`;

function info(over: { attrs?: Record<string, string>; content?: string } = {}): QueueFileInfo {
  return {
    id: "0ABCDEFGHIJKLMNO",
    queue: "active",
    path: "/nonexistent",
    envelope: {
      sender: "alice@example.org",
      recipients: [{ address: "bob@example.net", orcpt: "rfc822;bob+2Bx@example.net" }],
      arrivalTime: Date.UTC(2026, 0, 2, 3, 4, 5),
      attrs: over.attrs ?? {},
    },
    contentOffset: 0,
    contentLength: Buffer.byteLength(over.content ?? CONTENT),
    done: new Map(),
    deferred: new Map(),
    attempts: 1,
    nextAttempt: 0,
    warned: false,
  };
}

const FAILED: DsnRecipient = {
  address: "bob@example.net",
  orcpt: "rfc822;bob+2Bx@example.net",
  action: "failed",
  status: "5.1.1",
  relay: "mx.example.net[192.0.2.7]:25",
  text: "host mx.example.net[192.0.2.7] said: 550 5.1.1 <bob@example.net>: User unknown (in reply to RCPT TO command)",
  time: Date.UTC(2026, 0, 2, 4, 0, 0),
};

/** The content, either all at once or byte by byte. */
function contentStream(text: string, byteByByte: boolean): () => NodeJS.ReadableStream {
  const bytes = Buffer.from(text);
  const chunks = byteByByte ? [...bytes].map((b) => Buffer.from([b])) : [bytes];
  return () => Readable.from(chunks);
}

async function render(q: QueueFileInfo, opts: Partial<DsnOptions> & { byteByByte?: boolean } = {}) {
  const parts: Buffer[] = [];
  for await (const chunk of buildDsn(q, {
    kind: "failure",
    recipients: [FAILED],
    myhostname: "mail.example.org",
    to: q.envelope.sender,
    openContent: contentStream(CONTENT, opts.byteByByte ?? false),
    now: Date.UTC(2026, 0, 2, 5, 0, 0),
    ...opts,
  }))
    parts.push(chunk);
  return Buffer.concat(parts).toString("utf8");
}

/** A small MIME splitter: top header text, and each part's header and body. */
function split(text: string): { head: string; parts: { head: string; body: string }[] } {
  const headEnd = text.indexOf("\n\n");
  const head = text.slice(0, headEnd);
  const boundary = /boundary="([^"]+)"/.exec(head)?.[1];
  assert.ok(boundary, "multipart boundary present");
  const end = text.indexOf(`\n--${boundary}--\n`);
  assert.ok(end > 0, "closing boundary present");
  assert.ok(text.endsWith(`\n--${boundary}--\n`), "nothing after the closing boundary");
  const pieces = text.slice(0, end).split(`\n--${boundary}\n`).slice(1);
  return {
    head,
    parts: pieces.map((p) => {
      const cut = p.indexOf("\n\n");
      return { head: p.slice(0, cut), body: p.slice(cut + 2) };
    }),
  };
}

function field(block: string, name: string): string[] {
  return block
    .split("\n")
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((l) => l.slice(name.length + 1).trim());
}

test("a failure notice has Postfix's headers and three report parts", async () => {
  const { head, parts } = split(await render(info()));
  assert.deepEqual(field(head, "From"), ["MAILER-DAEMON@mail.example.org (Mail Delivery System)"]);
  assert.deepEqual(field(head, "Subject"), ["Undelivered Mail Returned to Sender"]);
  assert.deepEqual(field(head, "To"), ["alice@example.org"]);
  assert.deepEqual(field(head, "Auto-Submitted"), ["auto-replied"]);
  assert.match(head, /Content-Type: multipart\/report; report-type=delivery-status;\n\tboundary="/);
  assert.equal(parts.length, 3);
  assert.deepEqual(
    parts.map((p) => field(p.head, "Content-Type")[0]),
    ["text/plain; charset=utf-8", "message/delivery-status", "message/rfc822"],
  );
});

test("the human part uses Postfix's wording and lists each recipient with its reason", async () => {
  const human = split(await render(info())).parts[0]?.body ?? "";
  assert.match(
    human,
    /^This is the mail system at host mail\.example\.org\.\n\nI'm sorry to have to inform you/,
  );
  assert.match(
    human,
    /The mail system\n\n<bob@example\.net> \(expanded from <bob\+x@example\.net>\): host mx/,
  );
});

test("the delivery-status part carries every RFC 3464 field we know", async () => {
  const status = split(await render(info({ attrs: { envid: "env+2Bid-1" } }))).parts[1]?.body ?? "";
  const [perMessage, perRecipient] = status.split("\n\n");
  assert.deepEqual(field(perMessage ?? "", "Reporting-MTA"), ["dns; mail.example.org"]);
  assert.deepEqual(field(perMessage ?? "", "X-Postern-Queue-ID"), ["0ABCDEFGHIJKLMNO"]);
  assert.deepEqual(field(perMessage ?? "", "Original-Envelope-Id"), ["env+id-1"]);
  assert.equal(field(perMessage ?? "", "Arrival-Date").length, 1);
  const r = perRecipient ?? "";
  assert.deepEqual(field(r, "Final-Recipient"), ["rfc822; bob@example.net"]);
  assert.deepEqual(field(r, "Original-Recipient"), ["rfc822;bob+x@example.net"]);
  assert.deepEqual(field(r, "Action"), ["failed"]);
  assert.deepEqual(field(r, "Status"), ["5.1.1"]);
  assert.deepEqual(field(r, "Remote-MTA"), ["dns; mx.example.net"]);
  assert.deepEqual(field(r, "Diagnostic-Code"), ["smtp; 550 5.1.1 <bob@example.net>: User unknown"]);
  assert.equal(field(r, "Last-Attempt-Date").length, 1);
});

test("RET=FULL returns the whole original, fed all at once or byte by byte", async () => {
  for (const byteByByte of [false, true]) {
    const original = split(await render(info(), { byteByByte })).parts[2];
    assert.equal(original?.body, CONTENT, `byteByByte=${byteByByte}`);
  }
});

test("RET=HDRS, delay notices and oversized originals return the headers only", async () => {
  const cases: { name: string; q: QueueFileInfo; opts: Partial<DsnOptions> }[] = [
    { name: "RET=HDRS", q: info({ attrs: { ret: "HDRS" } }), opts: {} },
    { name: "over the size limit", q: info(), opts: { returnSizeLimit: 10 } },
    {
      name: "delay",
      q: info(),
      opts: { kind: "delay", recipients: [{ ...FAILED, action: "delayed", status: "4.4.1" }] },
    },
  ];
  for (const c of cases) {
    for (const byteByByte of [false, true]) {
      const original = split(await render(c.q, { ...c.opts, byteByByte })).parts[2];
      assert.deepEqual(field(original?.head ?? "", "Content-Type"), ["text/rfc822-headers"], c.name);
      assert.equal(original?.body, HEADER, `${c.name} byteByByte=${byteByByte}`);
    }
  }
});

test("a delay notice warns, says when retries end and marks recipients delayed", async () => {
  const q = info();
  const text = await render(q, {
    kind: "delay",
    recipients: [
      {
        ...FAILED,
        action: "delayed",
        status: "4.4.1",
        text: "connect to mx: Connection refused",
        relay: "none",
      },
    ],
    willRetryUntil: q.envelope.arrivalTime + 5 * 86_400_000,
  });
  const { head, parts } = split(text);
  assert.deepEqual(field(head, "Subject"), ["Delayed Mail (still being retried)"]);
  assert.match(
    parts[0]?.body ?? "",
    /# THIS IS A WARNING ONLY\. {2}YOU DO NOT NEED TO RESEND YOUR MESSAGE\. #/,
  );
  assert.match(
    parts[0]?.body ?? "",
    /for more than 1 hour\(s\)\.\nIt will be retried until it is 5 day\(s\) old\./,
  );
  const r = (parts[1]?.body ?? "").split("\n\n")[1] ?? "";
  assert.deepEqual(field(r, "Action"), ["delayed"]);
  assert.deepEqual(field(r, "Remote-MTA"), []);
  assert.deepEqual(field(r, "Diagnostic-Code"), ["X-Postern; connect to mx: Connection refused"]);
  assert.equal(field(r, "Will-Retry-Until").length, 1);
});

test("sender-controlled text cannot add header fields to the report", async () => {
  const evil = { ...FAILED, address: "x@y\nAction: delivered", text: "bad\r\nStatus: 2.0.0" };
  const r = (split(await render(info(), { recipients: [evil] })).parts[1]?.body ?? "").split("\n\n")[1] ?? "";
  assert.deepEqual(field(r, "Action"), ["failed"]);
  assert.deepEqual(field(r, "Status"), ["5.1.1"]);
});

test("a message without a final newline still gets a well-formed closing boundary", async () => {
  const q = info({ content: "Subject: x\n\nno newline" });
  const text = await render(q, { openContent: contentStream("Subject: x\n\nno newline", false) });
  assert.equal(split(text).parts[2]?.body, "Subject: x\n\nno newline\n");
});

test("Python's email package parses the notice as a multipart/report", async (t) => {
  const text = await render(info({ attrs: { envid: "E1" } }));
  const script = [
    "import email, json, sys",
    "m = email.message_from_bytes(sys.stdin.buffer.read())",
    "parts = m.get_payload()",
    "ds = parts[1].get_payload()",
    "print(json.dumps({'type': m.get_content_type(), 'report': m.get_param('report-type'),",
    " 'parts': [p.get_content_type() for p in parts], 'defects': [str(d) for d in m.defects],",
    " 'blocks': [dict(b.items()) for b in ds],",
    " 'inner': parts[2].get_payload()[0]['Subject']}))",
  ].join("\n");
  let out: string;
  try {
    out = execFileSync("python3", ["-c", script], { input: text }).toString();
  } catch {
    t.skip("python3 not available");
    return;
  }
  const parsed = JSON.parse(out) as {
    type: string;
    report: string;
    parts: string[];
    defects: string[];
    blocks: Record<string, string>[];
    inner: string;
  };
  assert.equal(parsed.type, "multipart/report");
  assert.equal(parsed.report, "delivery-status");
  assert.deepEqual(parsed.parts, ["text/plain", "message/delivery-status", "message/rfc822"]);
  assert.deepEqual(parsed.defects, []);
  assert.equal(parsed.blocks[0]?.["Original-Envelope-Id"], "E1");
  assert.equal(parsed.blocks[1]?.["Final-Recipient"], "rfc822; bob@example.net");
  assert.equal(parsed.blocks[1]?.["Action"], "failed");
  assert.equal(parsed.inner, "hello");
});

test("remoteMta names only real remote hosts", () => {
  const table: [string, string | undefined][] = [
    ["mx.example.net[192.0.2.7]:25", "mx.example.net"],
    ["mx.example.net[2001:db8::1]", "mx.example.net"],
    ["local", undefined],
    ["none", undefined],
  ];
  for (const [relay, want] of table) assert.equal(remoteMta(relay), want, relay);
});

test("diagnosticCode keeps the SMTP reply and labels our own reasons", () => {
  const table: [string, string][] = [
    [
      "host h[1.2.3.4] said: 552 5.2.2 Mailbox full (in reply to end of DATA command)",
      "smtp; 552 5.2.2 Mailbox full",
    ],
    ["550 5.7.1 Relaying denied", "smtp; 550 5.7.1 Relaying denied"],
    ['unknown user: "bob"', 'X-Postern; unknown user: "bob"'],
  ];
  for (const [text, want] of table) assert.equal(diagnosticCode(text), want, text);
});

test("xtextDecode turns +HH escapes back into characters", () => {
  assert.equal(xtextDecode("a+2Bb+3Dc"), "a+b=c");
  assert.equal(xtextDecode("plain"), "plain");
});

test("streamHeaders yields exactly the header section however the content is chunked", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.stringMatching(/^[A-Za-z-]{1,8}: [ -~]{0,20}$/), { maxLength: 5 }),
      fc.string({ maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
      async (headers, body, sizes) => {
        const head = headers.map((h) => `${h}\n`).join("");
        const bytes = Buffer.from(`${head}\n${body}`);
        const chunks: Buffer[] = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const size = sizes[i % sizes.length] ?? 1;
          chunks.push(bytes.subarray(at, at + size));
          at += size;
        }
        const got: Buffer[] = [];
        for await (const c of streamHeaders(Readable.from(chunks))) got.push(c);
        assert.equal(Buffer.concat(got).toString(), head);
      },
    ),
    { seed: 4242, numRuns: 150 },
  );
});
