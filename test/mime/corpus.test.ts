/*
 * Corpus test: BODY, BODYSTRUCTURE and ENVELOPE of every message in test/fixtures/mime/corpus
 * must equal what Dovecot 2.3.19 answered for it (the .dovecot files were recorded from a real
 * dovecot-imapd with `FETCH n (BODY BODYSTRUCTURE ENVELOPE)`), whether the message is parsed
 * all at once, byte by byte, or in odd-sized chunks.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { buildBody, buildBodyStructure } from "../../lib/mime/bodystructure.js";
import { buildEnvelope } from "../../lib/mime/envelope.js";
import { renderImapValue } from "../../lib/mime/imap-value.js";
import { type MimePart, MimeStructureParser, parseStructureSync } from "../../lib/mime/structure.js";

const corpusDir = new URL("../../../test/fixtures/mime/corpus/", import.meta.url);
const names = readdirSync(corpusDir)
  .filter((n) => n.endsWith(".eml"))
  .sort();

function fetchLine(tree: MimePart): string {
  const parts = [
    Buffer.from("BODY "),
    renderImapValue(buildBody(tree)),
    Buffer.from(" BODYSTRUCTURE "),
    renderImapValue(buildBodyStructure(tree)),
    Buffer.from(" ENVELOPE "),
    renderImapValue(buildEnvelope(tree.envelope)),
  ];
  return Buffer.concat(parts).toString("latin1");
}

function parseInChunks(message: Buffer, size: number): MimePart {
  const parser = new MimeStructureParser();
  for (let i = 0; i < message.length; i += size) parser.write(message.subarray(i, i + size));
  return parser.end();
}

test("the corpus holds at least 25 messages with recorded Dovecot answers", () => {
  assert.ok(names.length >= 25);
});

for (const name of names) {
  const message = readFileSync(new URL(name, corpusDir));
  const expected = readFileSync(new URL(name.replace(/\.eml$/, ".dovecot"), corpusDir)).toString("latin1");

  test(`${name} gives Dovecot's BODY, BODYSTRUCTURE and ENVELOPE`, () => {
    assert.equal(fetchLine(parseStructureSync(message)), expected);
  });

  test(`${name} parses to the same tree byte by byte and in 7-byte chunks`, () => {
    const whole = parseStructureSync(message);
    assert.deepEqual(parseInChunks(message, 1), whole);
    assert.deepEqual(parseInChunks(message, 7), whole);
  });
}
