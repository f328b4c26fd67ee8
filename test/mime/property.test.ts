/*
 * Property tests: arbitrary bytes never make the MIME code throw, chunking never changes
 * the parsed tree, and offsets always describe a consistent, in-bounds tree.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { buildBodyStructure } from "../../lib/mime/bodystructure.js";
import { decodeHeaderValue } from "../../lib/mime/decode.js";
import { buildEnvelope, parseAddressList } from "../../lib/mime/envelope.js";
import { renderImapValue } from "../../lib/mime/imap-value.js";
import { resolveSection } from "../../lib/mime/sections.js";
import { type MimePart, MimeStructureParser, parseStructureSync } from "../../lib/mime/structure.js";

const settings = { seed: 20250301, numRuns: 150 };

/** MIME-shaped noise: lines drawn from header, boundary and body fragments. */
const mimeish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        "Content-Type: multipart/mixed; boundary=a",
        "Content-Type: multipart/digest; boundary=b",
        "Content-Type: message/rfc822",
        "Content-Type: text/plain; charset=utf-8",
        "From: x <y@z>",
        "--a",
        "--a--",
        "--b",
        "--b--",
        "",
        " folded",
        "\r",
      ),
      fc.string(),
    ),
    { maxLength: 40 },
  )
  .map((lines) => Buffer.from(lines.join("\n"), "latin1"));

function checkTree(part: MimePart, size: number): void {
  assert.ok(part.headerStart <= part.bodyStart && part.bodyStart <= part.end && part.end <= size);
  for (const child of part.children) {
    assert.ok(child.headerStart >= part.bodyStart && child.end <= part.end);
    checkTree(child, size);
  }
}

test("arbitrary bytes never throw and give an in-bounds tree", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
        mimeish,
      ),
      (bytes) => {
        const parser = new MimeStructureParser();
        parser.write(bytes);
        const tree = parser.end();
        checkTree(tree, parser.size);
        renderImapValue(buildBodyStructure(tree));
        renderImapValue(buildEnvelope(tree.envelope));
        resolveSection(tree, { part: [1, 1], text: "MIME" });
      },
    ),
    settings,
  );
});

test("feeding any split of the input gives the same tree", () => {
  fc.assert(
    fc.property(mimeish, fc.array(fc.nat({ max: 400 }), { maxLength: 10 }), (bytes, cuts) => {
      const parser = new MimeStructureParser();
      let from = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        parser.write(bytes.subarray(from, Math.max(from, cut)));
        from = Math.max(from, cut);
      }
      parser.write(bytes.subarray(from));
      assert.deepEqual(parser.end(), parseStructureSync(bytes));
    }),
    settings,
  );
});

test("address lists and header decoding never throw on arbitrary text", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (text) => {
      parseAddressList(text);
      decodeHeaderValue(text);
    }),
    settings,
  );
});
