/*
 * search-message fed the stored file one byte per chunk and in large chunks: the same text
 * tests must hit either way (header fields, encoded words, QP soft breaks, base64 quanta
 * and multi-byte characters all split across chunks).
 */
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { after, before, describe, it } from "node:test";
import { compileSearch, type TextKnowledge } from "../../../lib/imap/commands/search-eval.js";
import { type MessageSource, readBodies, readTopHeader } from "../../../lib/imap/commands/search-message.js";
import type { SearchKey } from "../../../lib/imap/parser/types.js";
import { CORPUS } from "./search-corpus.js";
import { type Harness, harness } from "./search-harness.js";

let h: Harness;
before(async () => {
  h = await harness(CORPUS);
});
after(() => h.close());

const words = [
  "noon",
  "café crème",
  "soft break joins",
  "ünïcödé invoice",
  "second line",
  "rechnung",
  "secretword",
  "forwarded text",
  "inner subject",
  "data.bin",
  "grüße aus köln",
  "andré",
];
const keys: SearchKey[] = [
  ...words.map((value): SearchKey => ({ key: "BODY", value })),
  ...words.map((value): SearchKey => ({ key: "TEXT", value })),
  { key: "SUBJECT", value: "grüße" },
  { key: "FROM", value: "andré grün" },
  { key: "HEADER", field: "content-type", value: "multipart/mixed" },
];
const plan = compileSearch(keys, { messageCount: 4, lastUid: 4, saved: [], nowSeconds: 0 });

function source(chunk: number): MessageSource {
  return {
    openMessage: async (uid) => createReadStream(await h.folder.messagePath(uid), { highWaterMark: chunk }),
  };
}

async function hitsOf(uid: number, chunk: number): Promise<string[]> {
  const k: TextKnowledge = { sentDay: undefined, hits: new Set(), headerDone: false, bodyDone: false };
  await readTopHeader(source(chunk), uid, plan, k);
  await readBodies(source(chunk), uid, { plan, k, settled: () => false });
  return plan.tests.filter((t) => k.hits.has(t.id)).map((t) => `${t.scope}:${t.field}:${t.folded}`);
}

describe("reading a message for text keys", () => {
  for (const uid of [1, 2, 3, 4])
    it(`finds the same words in message ${uid} byte by byte as all at once`, async () => {
      const whole = await hitsOf(uid, 1 << 20);
      assert.deepEqual(await hitsOf(uid, 1), whole);
      assert.deepEqual(await hitsOf(uid, 5), whole);
      assert.ok(whole.length > 0);
    });

  it("stops reading a large body once the answer is settled", async () => {
    let chunks = 0;
    const counting: MessageSource = {
      openMessage: async (uid) => {
        const s = createReadStream(await h.folder.messagePath(uid));
        s.on("data", () => chunks++);
        return s;
      },
    };
    const k: TextKnowledge = { sentDay: undefined, hits: new Set(), headerDone: true, bodyDone: false };
    const early = compileSearch([{ key: "BODY", value: "grüße" }], {
      messageCount: 5,
      lastUid: 5,
      saved: [],
      nowSeconds: 0,
    });
    await readBodies(counting, 5, { plan: early, k, settled: () => k.hits.size > 0 });
    assert.equal(k.hits.size, 1);
    // the structure pass reads the whole file; the text pass stops after its first chunks
    const whole = Math.ceil((h.folder.byUid(5)?.size ?? 0) / (64 * 1024));
    assert.ok(whole >= 3);
    assert.ok(chunks <= whole + 2, `read ${chunks} chunks; the file has ${whole}`);
  });
});
