/*
 * service — local's request handler on a real queue-file-like content region: a small
 * message (read whole with one pread) and a large one (streamed) both deliver byte-exact,
 * the Delivered-To loop check works on both, and a missing queue file defers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { CleanupClient } from "../../lib/cleanup/client.js";
import type { LocalDeliveryConfig, LocalDeliveryDeps } from "../../lib/delivery/deliver.js";
import { deliverOne, type LocalService, readSmallContent, SMALL_CONTENT } from "../../lib/local/service.js";
import { Logger } from "../../lib/log/index.js";
import type { DeliveryRequest } from "../../lib/qmgr/agents.js";

const me = process.getuid?.() ?? 0;
const myGid = process.getgid?.() ?? 0;

function setup(dir: string): LocalService {
  const cfg: LocalDeliveryConfig = {
    localDomains: ["example.com"],
    recipientDelimiter: "+",
    ownerRequestSpecial: true,
    mailLocation: "maildir:%h/Maildir",
    homeMailbox: "",
    mailSpoolDirectory: join(dir, "spool"),
    mailboxCommand: "",
    forwardPath: [],
    allowMailToCommands: [],
    allowMailToFiles: [],
    defaultPrivs: { uid: me, gid: myGid, home: "/" },
    commandTimeLimit: 10,
    mailboxSizeLimit: 0,
    prependDeliveredHeader: ["command", "file", "forward"],
    hostname: "mx.example.com",
  };
  const alice = {
    user: "alice",
    uid: me,
    gid: myGid,
    home: join(dir, "alice"),
    shell: "",
    kind: "virtual",
  } as const;
  const deps: LocalDeliveryDeps = {
    aliasMaps: [],
    lookupUser: async (u) => (u === "alice" ? alice : undefined),
  };
  return {
    cfg,
    deps,
    cleanup: {} as CleanupClient,
    log: new Logger({ file: join(dir, "maillog"), tag: "postern/local", host: "mx" }),
    timeoutMs: 5000,
  };
}

/** A file with junk around the content region, as a queue file has records around it. */
function queueFile(dir: string, name: string, content: Buffer): DeliveryRequest {
  const before = Buffer.from("C 123 456\nS sender\n");
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([before, content, Buffer.from("\nE end-of-records\n")]));
  return {
    op: "deliver",
    queueId: `Q${name}`,
    path,
    index: 0,
    recipient: "alice@example.com",
    sender: "s@x.example",
    arrival: Date.UTC(2026, 11, 7, 10, 0, 0),
    activeTime: Date.UTC(2026, 11, 7, 10, 0, 0),
    attrs: {},
    contentOffset: before.length,
    contentLength: content.length,
  };
}

function message(bodyBytes: number): Buffer {
  const line = "abcdefghijklmnopqrstuvwxyz0123456789 From here\n";
  const body = line.repeat(Math.ceil(bodyBytes / line.length)).slice(0, bodyBytes);
  return Buffer.from(`Subject: size ${bodyBytes}\n\n${body}`);
}

const trace =
  "Return-Path: <s@x.example>\nX-Original-To: alice@example.com\nDelivered-To: alice@example.com\n";

test("small (read whole) and large (streamed) messages deliver byte-exact", async () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-local-"));
  try {
    const svc = setup(dir);
    const small = message(2000);
    const large = message(SMALL_CONTENT + 100_000);
    const empty = Buffer.alloc(0);
    for (const [name, content] of [
      ["small", small],
      ["large", large],
      ["empty", empty],
    ] as const) {
      const reply = await deliverOne(queueFile(dir, name, content), svc);
      assert.deepEqual(reply, { status: "sent", dsn: "2.0.0", relay: "local", text: "delivered to maildir" });
      const newDir = join(dir, "alice", "Maildir", "new");
      const file = readdirSync(newDir).find((f) =>
        f.startsWith(`${Math.floor(Date.UTC(2026, 11, 7, 10) / 1000)}.PQ${name}_0.`),
      );
      assert.ok(file, name);
      assert.deepEqual(readFileSync(join(newDir, file)), Buffer.concat([Buffer.from(trace), content]), name);
    }
    const log = readFileSync(join(dir, "maillog"), "utf8");
    assert.match(log, /Qsmall: to=<alice@example.com>, relay=local, .*status=sent \(delivered to maildir\)/);
    assert.match(log, /Qlarge: to=<alice@example.com>, relay=local, .*status=sent \(delivered to maildir\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("readSmallContent reads the region only, stops at the end of a short file and skips large ones", () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-local-"));
  try {
    const content = message(500);
    const req = queueFile(dir, "q", content);
    assert.deepEqual(readSmallContent(req), content);
    assert.equal(readSmallContent({ ...req, contentLength: SMALL_CONTENT + 1 }), undefined);
    const whole = readFileSync(req.path);
    assert.deepEqual(
      readSmallContent({ ...req, contentLength: whole.length }),
      whole.subarray(req.contentOffset),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the loop check works on small and large messages; a missing queue file defers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-local-"));
  try {
    const svc = setup(dir);
    for (const size of [100, SMALL_CONTENT + 10]) {
      const looped = Buffer.concat([Buffer.from("Delivered-To: Alice@Example.com\n"), message(size)]);
      const reply = await deliverOne(queueFile(dir, `loop${size}`, looped), svc);
      assert.deepEqual(reply, {
        status: "bounced",
        dsn: "5.4.6",
        relay: "local",
        text: "mail forwarding loop for alice@example.com",
      });
    }
    const missing = { ...queueFile(dir, "gone", message(10)), path: join(dir, "no-such-file") };
    const reply = await deliverOne(missing, svc);
    assert.equal(reply.status, "deferred");
    assert.equal(reply.dsn, "4.3.0");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
