/*
 * FETCH's whole-message fast path (fetch-whole): BODY[], BODY.PEEK[] and RFC822 with index
 * items come out byte for byte as the serializer writes them for every corpus message and
 * for odd line ends, in order when some messages of the same FETCH need the general path
 * (a big file, a file gone, a file that no longer matches the index), and in few writes.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { responseBuffer } from "../../../lib/imap/serializer/responses.js";
import { toCrlfBuffer, writeCrlf } from "../../../lib/mime/sections.js";
import { maildirWith, removeTempDirs, TestSession } from "./fetch-helper.js";

process.env.TZ = "Europe/Berlin";
after(removeTempDirs);

const corpus = new URL("../../../../test/fixtures/mime/corpus/", import.meta.url);
const CORPUS = readdirSync(corpus)
  .filter((n) => n.endsWith(".eml"))
  .sort()
  .map((n) => readFileSync(new URL(n, corpus)));

const ODD = [
  Buffer.from("Subject: crlf\r\n\r\nalready\r\nCRLF\r\n"),
  Buffer.from("Subject: mixed\n\r\nbare CR\r here\nand LF\n\n"),
  Buffer.from("Subject: no final newline\n\nend"),
  Buffer.from("\n"),
  Buffer.from("Subject: 8bit\n\nGr\xfc\xdfe \x00 NUL\n", "latin1"),
];

/** The general path's bytes for one message: what the serializer writes for these values. */
function expected(seq: number, uid: number, stored: Buffer, name = "BODY[]"): string {
  const body = toCrlfBuffer(stored);
  return responseBuffer({
    type: "FETCH",
    seq,
    items: [
      ["UID", uid],
      ["FLAGS", [{ atom: "\\Recent" }]],
      ["RFC822.SIZE", body.length],
      [name, { literal: body }],
    ],
  }).toString("latin1");
}

describe("whole-message FETCH", () => {
  it("writes every corpus message and odd line ends as the serializer does, in few writes", async () => {
    const all = [...CORPUS, ...ODD];
    const root = await maildirWith(all.map((text) => ({ text })));
    const s = await TestSession.open(root);
    const run = await s.run("FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])");
    assert.deepEqual(run.result, { status: "OK", code: null, text: "Fetch completed." });
    assert.equal(run.wire, all.map((m, i) => expected(i + 1, i + 1, m)).join(""));
    assert.equal(run.responses.length, 0, "no response objects: the batch path answered");
    assert.equal(s.opened, all.length, "each file opened once");
  });

  it("keeps the order when some messages need the general path", async () => {
    const big = Buffer.from(`Subject: big\n\n${"0123456789abcdef\n".repeat(20_000)}`);
    const small = (i: number) => Buffer.from(`Subject: m${i}\n\nbody ${i}\n`);
    const messages = [small(1), big, small(3), small(4), small(5)];
    const root = await maildirWith(messages.map((text) => ({ text })));
    const s = await TestSession.open(root);
    // by content: Maildir names need not sort in delivery order (the microseconds are not padded)
    const fileOf = (text: Buffer) =>
      join(
        root,
        "cur",
        readdirSync(join(root, "cur")).find((f) => readFileSync(join(root, "cur", f)).equals(text)) ?? "",
      );
    const fourth = fileOf(small(4));
    const fifthFile = fileOf(small(5));
    unlinkSync(fourth); // message 4 vanishes behind our back
    // message 5 grows behind our back: the general path answers it, cut at the indexed size
    writeFileSync(fifthFile, Buffer.concat([small(5), Buffer.from("more\n")]));
    const run = await s.run("FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])");
    const fifth = toCrlfBuffer(small(5));
    assert.equal(
      run.wire,
      [
        expected(1, 1, small(1)),
        expected(2, 2, big),
        expected(3, 3, small(3)),
        `* 4 FETCH (UID 4 FLAGS (\\Recent) RFC822.SIZE ${toCrlfBuffer(small(4)).length} BODY[] NIL)\r\n`,
        expected(5, 5, small(5)).replace(
          fifth.toString("latin1"),
          toCrlfBuffer(Buffer.concat([small(5), Buffer.from("more\n")]))
            .subarray(0, fifth.length)
            .toString("latin1"),
        ),
      ].join(""),
    );
    assert.deepEqual(run.result, {
      status: "OK",
      code: { name: "EXPUNGEISSUED" },
      text: "Some messages were already expunged.",
    });
  });

  it("answers RFC822 with the FLAGS of the \\Seen it sets, and BODY[] twice once", async () => {
    const root = await maildirWith([
      { text: ODD[0] as Buffer },
      { text: ODD[1] as Buffer, flags: ["\\Seen"] },
    ]);
    const s = await TestSession.open(root);
    const run = await s.run("FETCH 1:2 (RFC822 BODY.PEEK[] BODY.PEEK[])");
    const lit = (b: Buffer) => {
      const c = toCrlfBuffer(b).toString("latin1");
      return `{${c.length}}\r\n${c}`;
    };
    assert.equal(
      run.wire,
      `* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822 ${lit(ODD[0] as Buffer)} BODY[] ${lit(ODD[0] as Buffer)})\r\n` +
        `* 2 FETCH (RFC822 ${lit(ODD[1] as Buffer)} BODY[] ${lit(ODD[1] as Buffer)})\r\n`,
    );
  });
});

describe("whole-message FETCH in two sessions at once", () => {
  it("never sends one session's file bytes to the other (the read buffer is shared)", async () => {
    const folder = (tag: string) =>
      Array.from({ length: 120 }, (_, i) =>
        Buffer.from(`Subject: ${tag} ${i}\n\n${`${tag} `.repeat(400)}\n`),
      );
    const a = folder("alpha");
    const b = folder("bravo");
    const sessions = await Promise.all(
      [a, b].map(async (m) => TestSession.open(await maildirWith(m.map((text) => ({ text }))))),
    );
    for (const s of sessions) {
      const send = s.ctx.sendWire;
      // the socket is slow: every batch yields to the other session before it is taken
      (s.ctx as { sendWire: typeof send }).sendWire = async (bytes, ends) => {
        await new Promise((resolve) => setImmediate(resolve));
        return send(bytes, ends);
      };
    }
    const runs = await Promise.all(
      sessions.map((s) => s.run("FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[])")),
    );
    assert.equal(runs[0]?.wire, a.map((m, i) => expected(i + 1, i + 1, m)).join(""));
    assert.equal(runs[1]?.wire, b.map((m, i) => expected(i + 1, i + 1, m)).join(""));
  });
});

describe("writeCrlf", () => {
  it("writes toCrlfBuffer's bytes at any offset, with or without CR in the input (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.constantFrom(0x61, 0x0a, 0x0d, 0xe9, 0x00), { maxLength: 60 }),
          fc.array(fc.constantFrom(0x61, 0x0a, 0xe9, 0x00), { maxLength: 60 }),
        ),
        fc.nat(8),
        (bytes, at) => {
          const src = Buffer.from(bytes);
          const dst = Buffer.alloc(at + 2 * src.length, 0x2a);
          const end = writeCrlf(src, dst, at);
          const reference = src.toString("latin1").replace(/(?<!\r)\n/g, "\r\n");
          assert.equal(dst.toString("latin1", at, end), reference);
          assert.deepEqual(dst.subarray(0, at), Buffer.alloc(at, 0x2a), "nothing before `at` touched");
        },
      ),
      { seed: 11, numRuns: 500 },
    );
  });
});
