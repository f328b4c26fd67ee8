import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import type { AliasTable } from "../../lib/delivery/aliases.js";
import {
  deliverLocal,
  type LocalDeliveryConfig,
  type LocalDeliveryRequest,
} from "../../lib/delivery/deliver.js";
import type { UserInfo } from "../../lib/delivery/users.js";
import { tempDir } from "./helpers.js";

const me = process.getuid?.() ?? 0;
const myGid = process.getgid?.() ?? 0;
const message = "Subject: hi\nFrom: s@x.example\n\nFrom the body\n";

function request(recipient: string, over: Partial<LocalDeliveryRequest> = {}): LocalDeliveryRequest {
  return {
    queueId: "4ABC123",
    sender: "s@x.example",
    recipient,
    arrival: new Date(2026, 10, 22, 10, 0, 0),
    openContent: () => Readable.from([Buffer.from(message)]),
    ...over,
  };
}

function setup(dir: string, over: Partial<LocalDeliveryConfig> = {}) {
  mkdirSync(join(dir, "spool"), { recursive: true });
  mkdirSync(join(dir, "spool2"), { recursive: true });
  const cfg: LocalDeliveryConfig = {
    localDomains: ["example.com"],
    recipientDelimiter: "+",
    ownerRequestSpecial: true,
    mailLocation: "",
    homeMailbox: "",
    mailSpoolDirectory: join(dir, "spool"),
    mailboxCommand: "",
    forwardPath: ["$home/.forward"],
    allowMailToCommands: ["alias", "forward"],
    allowMailToFiles: ["alias", "forward"],
    defaultPrivs: { uid: me, gid: myGid, home: "/" },
    commandTimeLimit: 10,
    mailboxSizeLimit: 0,
    prependDeliveredHeader: ["command", "file", "forward"],
    lockTimeoutMs: 300,
    hostname: "mx.example.com",
    ...over,
  };
  const users: Record<string, UserInfo> = {
    alice: { user: "alice", uid: me, gid: myGid, home: join(dir, "alice"), shell: "/bin/sh", kind: "system" },
    "vic@example.com": {
      user: "vic@example.com",
      uid: me,
      gid: myGid,
      home: join(dir, "vic"),
      shell: "",
      kind: "virtual",
    },
  };
  const aliases: Record<string, string> = {
    postmaster: "alice",
    log: `|cat > ${join(dir, "log.out")}`,
    archive: join(dir, "archive.mbox"),
    list: "alice, friend@remote.example",
    away: "friend@remote.example",
  };
  const aliasMaps: AliasTable[] = [{ spec: "test:aliases", lookup: async (k) => aliases[k] }];
  const deps = {
    aliasMaps,
    lookupUser: async (user: string, domain: string) => users[`${user}@${domain}`] ?? users[user],
  };
  return { cfg, deps };
}

test("deliverLocal delivers to the spool mbox with trace headers: delivered to mailbox", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir);
    const out = await deliverLocal(request("Alice@example.com"), cfg, deps);
    assert.equal(`${out.status} ${out.dsn} ${out.text}`, "sent 2.0.0 delivered to mailbox");
    assert.equal(
      readFileSync(join(dir, "spool", "alice"), "utf8"),
      "From s@x.example  Sun Nov 22 10:00:00 2026\nReturn-Path: <s@x.example>\nX-Original-To: Alice@example.com\n" +
        `Delivered-To: alice@example.com\n${message.replace("\nFrom the", "\n>From the")}\n`,
    );
  } finally {
    cleanup();
  }
});

test("deliverLocal delivers a virtual user through mail_location: delivered to maildir", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir, { mailLocation: "maildir:%h/Maildir" });
    const out = await deliverLocal(
      request("vic+tag@example.com", { originalRecipient: "Vic+Tag@Example.com" }),
      cfg,
      deps,
    );
    assert.equal(`${out.status} ${out.text}`, "sent delivered to maildir");
    const files = readdirSync(join(dir, "vic", "Maildir", "new"));
    assert.equal(files.length, 1);
    const text = readFileSync(join(dir, "vic", "Maildir", "new", files[0] ?? ""), "utf8");
    assert.equal(
      text,
      `Return-Path: <s@x.example>\nX-Original-To: Vic+Tag@Example.com\nDelivered-To: vic+tag@example.com\n${message}`,
    );
  } finally {
    cleanup();
  }
});

test("deliverLocal bounces an unknown user with 5.1.1 and a Delivered-To loop with 5.4.6", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir);
    const unknown = await deliverLocal(request("nobody@example.com"), cfg, deps);
    assert.deepEqual(unknown, { status: "bounced", dsn: "5.1.1", text: 'unknown user: "nobody"' });
    const looped = request("alice@example.com", {
      openContent: () => Readable.from([Buffer.from(`Delivered-To: ALICE@example.com\n${message}`)]),
    });
    assert.deepEqual(await deliverLocal(looped, cfg, deps), {
      status: "bounced",
      dsn: "5.4.6",
      text: "mail forwarding loop for alice@example.com",
    });
  } finally {
    cleanup();
  }
});

test("deliverLocal runs alias commands and appends to alias files", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir);
    const cmd = await deliverLocal(request("log@example.com"), cfg, deps);
    assert.equal(cmd.text, `delivered to command: cat > ${join(dir, "log.out")}`);
    assert.match(
      readFileSync(join(dir, "log.out"), "utf8"),
      /^From s@x\.example {2}.*\nReturn-Path: <s@x\.example>\n/,
    );
    const file = await deliverLocal(request("archive@example.com"), cfg, deps);
    assert.equal(file.text, `delivered to file: ${join(dir, "archive.mbox")}`);
    assert.match(readFileSync(join(dir, "archive.mbox"), "utf8"), /Delivered-To: archive@example.com\n/);
  } finally {
    cleanup();
  }
});

test("deliverLocal hands mailbox delivery to mailbox_command when set", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, "procmail.out");
    const { cfg, deps } = setup(dir, { mailboxCommand: `echo "$EXTENSION" > ${out}; cat >> ${out}` });
    const r = await deliverLocal(request("alice+news@example.com"), cfg, deps);
    assert.equal(r.text, `delivered to command: ${cfg.mailboxCommand}`);
    assert.match(readFileSync(out, "utf8"), /^news\nFrom s@x\.example/);
  } finally {
    cleanup();
  }
});

test("deliverLocal returns remote alias members as forwards with a Delivered-To header", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir);
    const list = await deliverLocal(request("list@example.com"), cfg, deps);
    assert.equal(list.status, "sent");
    assert.deepEqual(list.forwards, ["friend@remote.example"]);
    assert.equal(list.forwardHeaders, "Delivered-To: list@example.com\n");
    const away = await deliverLocal(request("away@example.com"), cfg, deps);
    assert.equal(away.text, "forwarded to friend@remote.example");
  } finally {
    cleanup();
  }
});

test("deliverLocal defers on a held mailbox lock and bounces over the size limit", async () => {
  const { dir, cleanup } = tempDir();
  try {
    mkdirSync(join(dir, "spool"));
    writeFileSync(join(dir, "spool", "alice.lock"), "0");
    const { cfg, deps } = setup(dir);
    const locked = await deliverLocal(request("alice@example.com"), cfg, deps);
    assert.equal(locked.status, "deferred");
    assert.equal(locked.dsn, "4.2.0");
    assert.match(
      locked.text,
      /^cannot update mailbox .*\/spool\/alice for user alice\. unable to create lock file/,
    );
    const small = setup(dir, { mailSpoolDirectory: join(dir, "spool2"), mailboxSizeLimit: 10 });
    const big = await deliverLocal(request("alice@example.com"), small.cfg, small.deps);
    assert.equal(`${big.status} ${big.dsn}`, "bounced 5.2.2");
    assert.match(big.text, /File too large$/);
  } finally {
    cleanup();
  }
});

test("deliverLocal turns an unexpected failure into a deferral with the detail kept for the log", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { cfg, deps } = setup(dir);
    const broken = request("alice@example.com", {
      openContent: () => {
        throw new Error("queue file vanished");
      },
    });
    assert.deepEqual(await deliverLocal(broken, cfg, deps), {
      status: "deferred",
      dsn: "4.3.0",
      text: "local delivery failed: internal error",
      detail: "queue file vanished",
    });
  } finally {
    cleanup();
  }
});
