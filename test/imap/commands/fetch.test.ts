/*
 * FETCH and UID FETCH on a real Maildir: every index item, RFC822*, implicit \Seen vs PEEK
 * vs EXAMINE, CONDSTORE (MODSEQ, CHANGEDSINCE), UID FETCH, invalid sets, item order and
 * repeats, partials, 8-bit headers as literals, BINARY, ghosts and vanished files.
 */
import assert from "node:assert/strict";
import { readdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { after, beforeEach, describe, it } from "node:test";
import fc from "fast-check";
import { FolderSession } from "../../../lib/mailbox/folder.js";
import { toCrlfBuffer } from "../../../lib/mime/sections.js";
import { maildirWith, removeTempDirs, TestSession } from "./fetch-helper.js";

// INTERNALDATE is written in the server's zone: pin one with a non-zero offset
process.env.TZ = "Europe/Berlin";

const PLAIN = "From: Alice <alice@example.org>\nSubject: hello\n\nline one\nline two\n";
const ATTACHMENT = Buffer.from([0x50, 0x00, 0x4b, 0xff, 0x0a]);
const MULTIPART = [
  "From: Bob <bob@example.org>",
  "Subject: files",
  "Content-Type: multipart/mixed; boundary=b",
  "",
  "--b",
  "Content-Type: text/plain",
  "Content-Transfer-Encoding: quoted-printable",
  "",
  "caf=C3=A9",
  "--b",
  "Content-Type: application/octet-stream",
  "Content-Transfer-Encoding: base64",
  "",
  ATTACHMENT.toString("base64"),
  "--b--",
  "",
].join("\n");
const EIGHT_BIT = Buffer.from("From: carol@example.org\nSubject: Grüße\n\nhallo\n", "utf8");

const crlf = (text: string | Buffer) => toCrlfBuffer(Buffer.from(text)).toString("latin1");
const literal = (text: string | Buffer) => `{${Buffer.byteLength(crlf(text), "latin1")}}\r\n${crlf(text)}`;

after(removeTempDirs);

let s: TestSession;
beforeEach(async () => {
  const root = await maildirWith([
    { text: PLAIN, flags: ["\\Flagged"] },
    { text: MULTIPART, flags: ["\\Seen", "$Junk"] },
    { text: EIGHT_BIT },
  ]);
  s = await TestSession.open(root);
});

const OK = { status: "OK", code: null, text: "Fetch completed." };

describe("items answered from the index", () => {
  const table: [string, string][] = [
    ["FETCH 1 FLAGS", "* 1 FETCH (FLAGS (\\Flagged \\Recent))\r\n"],
    ["FETCH 2 FLAGS", "* 2 FETCH (FLAGS ($Junk \\Seen \\Recent))\r\n"],
    ["FETCH 1 UID", "* 1 FETCH (UID 1)\r\n"],
    ["FETCH 1 INTERNALDATE", '* 1 FETCH (INTERNALDATE "03-Mar-2025 10:15:00 +0100")\r\n'],
    ["FETCH 1 RFC822.SIZE", `* 1 FETCH (RFC822.SIZE ${crlf(PLAIN).length})\r\n`],
    [
      "FETCH 1 FAST",
      `* 1 FETCH (FLAGS (\\Flagged \\Recent) INTERNALDATE "03-Mar-2025 10:15:00 +0100" RFC822.SIZE ${crlf(PLAIN).length})\r\n`,
    ],
    [
      "FETCH 1:2 (UID FLAGS UID)",
      "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))\r\n* 2 FETCH (UID 2 FLAGS ($Junk \\Seen \\Recent))\r\n",
    ],
  ];
  for (const [line, wire] of table)
    it(`${line} answers ${JSON.stringify(wire)}`, async () => {
      const run = await s.run(line);
      assert.deepEqual(run.result, OK);
      assert.equal(run.wire, wire);
      assert.equal(s.opened, 0);
    });

  it("answers without \\Recent in a session that did not claim the messages", async () => {
    const other = await TestSession.open(s.folder.dir);
    assert.equal((await other.run("FETCH 1 FLAGS")).wire, "* 1 FETCH (FLAGS (\\Flagged))\r\n");
  });

  it("answers FETCH 1:* of index items with each message's own bytes, again after flags change", async () => {
    const other = await TestSession.open(s.folder.dir);
    const single = async (t: TestSession, items: string) => {
      let wire = "";
      for (let i = 1; i <= 3; i++) wire += (await t.run(`FETCH ${i} ${items}`)).wire;
      return wire;
    };
    const expected = await single(other, "(UID FLAGS)");
    assert.match(expected, /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\)\)\r\n/);
    for (const line of ["FETCH 1:* (UID FLAGS)", "UID FETCH 1:* FLAGS", "FETCH 1:* (UID FLAGS)"]) {
      const run = await other.run(line);
      assert.deepEqual(run.result, OK);
      assert.equal(run.wire, expected, line);
    }
    // a third session on the same view gets the same bytes; the one holding \Recent its own
    const third = await TestSession.open(s.folder.dir);
    assert.equal((await third.run("FETCH 1:* (UID FLAGS)")).wire, expected);
    assert.equal((await s.run("FETCH 1:* (UID FLAGS)")).wire, await single(s, "(UID FLAGS)"));
    assert.match((await s.run("FETCH 1:* (UID FLAGS)")).wire, /\\Recent/);
    await s.folder.store([1], { mode: "add", flags: ["\\Answered"] });
    await other.folder.sync();
    const changed = await other.run("FETCH 1:* (FLAGS UID)");
    assert.match(changed.wire, /^\* 1 FETCH \(FLAGS \(\\Answered \\Flagged\) UID 1\)\r\n/);
    assert.equal(changed.wire, await single(other, "(FLAGS UID)"));
    assert.equal(
      (await other.run("FETCH 1:* (FLAGS UID RFC822.SIZE)")).wire,
      await single(other, "(FLAGS UID RFC822.SIZE)"),
    );
  });

  it("sends one response per message, in ascending order, through send()", async () => {
    const run = await s.run("FETCH 3,1:2 (UID BODY.PEEK[HEADER])");
    assert.deepEqual(
      run.responses.map((r) => (r.type === "FETCH" ? r.seq : 0)),
      [1, 2, 3],
    );
  });

  it("answers index-only fetches with the same bytes, in ascending order, as text", async () => {
    const run = await s.run("FETCH 3,1:2 (UID FLAGS RFC822.SIZE)");
    assert.deepEqual(
      [...run.wire.matchAll(/^\* (\d+) FETCH \(UID \d+ FLAGS \([^)]*\) RFC822\.SIZE \d+\)\r$/gm)].map((m) =>
        Number(m[1]),
      ),
      [1, 2, 3],
    );
  });
});

describe("item order", () => {
  it("puts index items first, then the others in the order asked", async () => {
    const run = await s.run("FETCH 1 (ENVELOPE FLAGS BODY.PEEK[TEXT] UID)");
    assert.equal(
      run.wire,
      `* 1 FETCH (FLAGS (\\Flagged \\Recent) UID 1 ENVELOPE (NIL "hello" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) NIL NIL NIL NIL NIL) BODY[TEXT] ${literal("line one\nline two\n")})\r\n`,
    );
  });

  it("answers FULL with FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY", async () => {
    const run = await s.run("FETCH 1 FULL");
    const names = run.responses[0]?.type === "FETCH" ? run.responses[0].items.map(([n]) => n) : [];
    assert.deepEqual(names, ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"]);
  });
});

describe("RFC822 items and \\Seen", () => {
  it("RFC822 sets \\Seen and reports FLAGS in the same response, then the refresh keeps quiet", async () => {
    const run = await s.run("FETCH 1 RFC822");
    assert.equal(run.wire, `* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent) RFC822 ${literal(PLAIN)})\r\n`);
    assert.deepEqual(s.refreshes, [{ expunges: false, quiet: new Set([1]) }]);
    const other = await FolderSession.open(s.folder.dir);
    assert.deepEqual(other.byUid(1)?.flags, ["\\Flagged", "\\Seen"]);
  });

  it("RFC822.TEXT sets \\Seen, RFC822.HEADER does not", async () => {
    assert.equal(
      (await s.run("FETCH 1 RFC822.HEADER")).wire,
      `* 1 FETCH (RFC822.HEADER ${literal("From: Alice <alice@example.org>\nSubject: hello\n\n")})\r\n`,
    );
    assert.equal(
      (await s.run("FETCH 1 RFC822.TEXT")).wire,
      `* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent) RFC822.TEXT ${literal("line one\nline two\n")})\r\n`,
    );
  });

  it("BODY[] sets \\Seen only on unseen messages and reports FLAGS only for them", async () => {
    const run = await s.run("FETCH 1:2 BODY[HEADER.FIELDS (Subject)]");
    assert.equal(
      run.wire,
      `* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent) BODY[HEADER.FIELDS (SUBJECT)] ${literal("Subject: hello\n\n")})\r\n` +
        `* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] ${literal("Subject: files\n\n")})\r\n`,
    );
  });

  it("BODY.PEEK[] leaves \\Seen alone", async () => {
    const run = await s.run("FETCH 1 (BODY.PEEK[] FLAGS)");
    assert.equal(run.wire, `* 1 FETCH (FLAGS (\\Flagged \\Recent) BODY[] ${literal(PLAIN)})\r\n`);
    assert.deepEqual(s.refreshes, []);
  });

  it("EXAMINE never sets \\Seen", async () => {
    const ro = await TestSession.open(s.folder.dir, { readOnly: true });
    const run = await ro.run("FETCH 1 BODY[]");
    assert.equal(run.wire, `* 1 FETCH (BODY[] ${literal(PLAIN)})\r\n`);
    assert.deepEqual((await FolderSession.open(s.folder.dir)).byUid(1)?.flags, ["\\Flagged"]);
  });

  it("with CONDSTORE on, a message whose \\Seen was set also gets UID and MODSEQ", async () => {
    s.condstore = true;
    const run = await s.run("FETCH 1 BODY[TEXT]<0.4>");
    const modseq = s.folder.byUid(1)?.modseq;
    assert.equal(
      run.wire,
      `* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent) UID 1 MODSEQ (${modseq}) BODY[TEXT]<0> {4}\r\nline)\r\n`,
    );
  });
});

describe("CONDSTORE", () => {
  it("MODSEQ answers the message's mod-sequence and enables CONDSTORE", async () => {
    const run = await s.run("FETCH 2 MODSEQ");
    assert.equal(run.wire, `* 2 FETCH (MODSEQ (${s.folder.byUid(2)?.modseq}))\r\n`);
    assert.equal(s.condstore, true);
  });

  it("CHANGEDSINCE answers only messages changed later, with MODSEQ", async () => {
    const before = s.folder.highestModseq;
    const other = await FolderSession.open(s.folder.dir);
    await other.store([3], { mode: "add", flags: ["\\Answered"] });
    await s.folder.sync();
    const run = await s.run(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${before})`);
    assert.equal(
      run.wire,
      `* 3 FETCH (FLAGS (\\Answered \\Recent) MODSEQ (${s.folder.byUid(3)?.modseq}))\r\n`,
    );
    assert.equal(s.condstore, true);
  });
});

describe("UID FETCH and sequence sets", () => {
  it("UID FETCH puts UID first and ignores UIDs that do not exist", async () => {
    const run = await s.run("UID FETCH 2:9,42 FLAGS");
    assert.equal(
      run.wire,
      "* 2 FETCH (UID 2 FLAGS ($Junk \\Seen \\Recent))\r\n* 3 FETCH (UID 3 FLAGS (\\Recent))\r\n",
    );
    assert.deepEqual((await s.run("UID FETCH 42 FLAGS")).result, OK);
  });

  it("a sequence number above EXISTS is BAD", async () => {
    const run = await s.run("FETCH 1:4 FLAGS");
    assert.deepEqual(run.result, {
      status: "BAD",
      code: null,
      text: "Error in IMAP command FETCH: Invalid messageset",
    });
    assert.equal(run.wire, "");
  });
});

describe("sections", () => {
  it("a part that does not exist is an empty literal", async () => {
    assert.equal((await s.run("FETCH 1 BODY.PEEK[4.2]")).wire, "* 1 FETCH (BODY[4.2] {0}\r\n)\r\n");
  });

  it("a partial past the end is an empty literal named by its origin", async () => {
    assert.equal(
      (await s.run("FETCH 1 BODY.PEEK[TEXT]<900.10>")).wire,
      "* 1 FETCH (BODY[TEXT]<900> {0}\r\n)\r\n",
    );
  });

  it("any partial of BODY[] is that slice of the CRLF form", async () => {
    const whole = crlf(MULTIPART);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(whole.length + 5),
        fc.integer({ min: 1, max: whole.length + 5 }),
        async (o, n) => {
          const run = await s.run(`FETCH 2 BODY.PEEK[]<${o}.${n}>`);
          const slice = whole.slice(o, o + n);
          assert.equal(run.wire, `* 2 FETCH (BODY[]<${o}> {${slice.length}}\r\n${slice})\r\n`);
        },
      ),
      { seed: 7, numRuns: 40 },
    );
  });

  it("sends an 8-bit header in ENVELOPE as a literal of its raw bytes", async () => {
    const run = await s.run("FETCH 3 ENVELOPE");
    const subject = Buffer.from("Grüße", "utf8").toString("latin1");
    assert.equal(
      run.wire,
      `* 3 FETCH (ENVELOPE (NIL {7}\r\n${subject} ((NIL NIL "carol" "example.org")) ((NIL NIL "carol" "example.org")) ((NIL NIL "carol" "example.org")) NIL NIL NIL NIL NIL))\r\n`,
    );
  });

  it("streams a large message from disk with the announced size", async () => {
    const big = `Subject: big\n\n${"0123456789abcdef\n".repeat(100_000)}`;
    const root = await maildirWith([{ text: big }]);
    const t = await TestSession.open(root);
    const run = await t.run("FETCH 1 BODY.PEEK[]");
    const value = run.responses[0]?.type === "FETCH" ? run.responses[0].items[0]?.[1] : null;
    assert.ok(value !== null && typeof value === "object" && "stream" in value);
    assert.equal(run.wire, `* 1 FETCH (BODY[] ${literal(big)})\r\n`);
  });
});

describe("BINARY (RFC 3516)", () => {
  it("decodes quoted-printable, and base64 holding NUL as a literal8", async () => {
    const run = await s.run("FETCH 2 (BINARY.PEEK[1] BINARY.PEEK[2] BINARY.SIZE[2])");
    const cafe = Buffer.from("café", "utf8").toString("latin1");
    const bin = ATTACHMENT.toString("latin1");
    assert.equal(
      run.wire,
      `* 2 FETCH (BINARY[1] {5}\r\n${cafe} BINARY[2] ~{5}\r\n${bin} BINARY.SIZE[2] 5)\r\n`,
    );
  });

  it("answers a partial of the decoded content and a missing part as empty", async () => {
    const run = await s.run("FETCH 2 (BINARY.PEEK[2]<1.2> BINARY.SIZE[7])");
    assert.equal(run.wire, `* 2 FETCH (BINARY[2]<1> ~{2}\r\n\x00K BINARY.SIZE[7] 0)\r\n`);
  });
});

describe("messages whose file is gone", () => {
  async function expungeElsewhere(uid: number): Promise<void> {
    const other = await FolderSession.open(s.folder.dir);
    await other.expunge({ uids: [uid], all: true });
    await s.folder.sync({ announceExpunges: false });
    assert.ok(s.folder.isExpunged(uid));
  }

  it("answers a ghost from the index with Dovecot's NIL replies and OK [EXPUNGEISSUED]", async () => {
    await expungeElsewhere(2);
    const run = await s.run("FETCH 1:3 (UID RFC822.SIZE BODY.PEEK[] ENVELOPE BODY BODYSTRUCTURE)");
    assert.deepEqual(run.result, {
      status: "OK",
      code: { name: "EXPUNGEISSUED" },
      text: "Some messages were already expunged.",
    });
    const size = crlf(MULTIPART).length;
    assert.equal(
      run.wire.split("\r\n").find((l) => l.startsWith("* 2 ")),
      `* 2 FETCH (UID 2 RFC822.SIZE ${size} BODY[] NIL ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) BODY ("text" "plain" NIL NIL NIL "7bit" 0 0) BODYSTRUCTURE ("text" "plain" NIL NIL NIL "7bit" 0 0 NIL NIL NIL NIL))`,
    );
    assert.equal(run.responses.length, 3);
  });

  it("does not try to set \\Seen on a ghost", async () => {
    await expungeElsewhere(1);
    const run = await s.run("FETCH 1 BODY[]");
    assert.equal(run.wire, "* 1 FETCH (BODY[] NIL)\r\n");
    assert.deepEqual(s.refreshes, []);
  });

  it("still answers ENVELOPE of a ghost from the cache", async () => {
    await s.run("FETCH 2 ENVELOPE");
    const cached = s.sent[0];
    await expungeElsewhere(2);
    const run = await s.run("FETCH 2 ENVELOPE");
    assert.equal(run.wire, cached);
    assert.deepEqual(run.result, OK);
  });

  it("answers NIL, logs, and ends NO [SERVERBUG] when a file cannot be read", async () => {
    s.folder.messagePath = async () => {
      throw new Error("EIO: i/o error");
    };
    const run = await s.run("FETCH 1:2 (UID BODY.PEEK[1])");
    assert.equal(run.wire, "* 1 FETCH (UID 1 BODY[1] NIL)\r\n* 2 FETCH (UID 2 BODY[1] NIL)\r\n");
    assert.deepEqual(run.result, {
      status: "NO",
      code: { name: "SERVERBUG" },
      text: "Internal error occurred. Refer to server log for more information.",
    });
    assert.equal(s.errors.length, 2);
    assert.match(s.errors[0] ?? "", /uid=1: EIO/);
  });

  it("answers a file removed behind the index's back the same way", async () => {
    const cur = join(s.folder.dir, "cur");
    for (const f of readdirSync(cur))
      if (f.includes(`,S=${Buffer.byteLength(PLAIN)},`)) unlinkSync(join(cur, f));
    const run = await s.run("FETCH 1 (FLAGS BODY.PEEK[TEXT])");
    assert.equal(run.wire, "* 1 FETCH (FLAGS (\\Flagged \\Recent) BODY[TEXT] NIL)\r\n");
    assert.equal(run.result.code?.name, "EXPUNGEISSUED");
    assert.deepEqual(s.errors, []);
  });
});
