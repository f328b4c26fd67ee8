/*
 * fuzz-mime — hostile messages through lib/mime's structure parser and the BODYSTRUCTURE /
 * ENVELOPE builders an IMAP FETCH would send: nesting far deeper than MAX_DEPTH, more
 * parts than MAX_PARTS, a compressed-bomb-shaped attachment (tens of MB of one repeated
 * base64 line), an endless header line. Each must parse in bounded time and memory, the
 * limits must hold, and what FETCH would send must stay well framed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { buildBodyStructure } from "../../lib/mime/bodystructure.js";
import { buildEnvelope } from "../../lib/mime/envelope.js";
import { renderImapValue } from "../../lib/mime/imap-value.js";
import { MAX_DEPTH, MAX_PARTS, type MimePart, MimeStructureParser } from "../../lib/mime/structure.js";
import { budget, chunked, cutPoints, hostileText } from "./fuzz-budget.js";
import { assertWellFramed } from "./imap-wire.js";

function depthOf(part: MimePart): number {
  let depth = 0;
  let level: MimePart[] = [part];
  while (level.length > 0) {
    depth++;
    level = level.flatMap((p) => p.children);
  }
  return depth;
}

function countParts(part: MimePart): number {
  let n = 0;
  const stack = [part];
  for (let p = stack.pop(); p !== undefined; p = stack.pop()) {
    n++;
    stack.push(...p.children);
  }
  return n;
}

/** Parses the pieces and times it; the tree's BODYSTRUCTURE must render well framed. */
function parseTimed(pieces: Iterable<Buffer>, maxMs: number): MimePart {
  const started = performance.now();
  const parser = new MimeStructureParser();
  for (const piece of pieces) parser.write(piece);
  const root = parser.end();
  assertWellFramed(renderImapValue(buildBodyStructure(root)), true);
  assertWellFramed(renderImapValue(buildEnvelope(root.envelope ?? {})), true);
  const ms = performance.now() - started;
  assert.ok(ms < maxMs, `parsed in ${ms.toFixed(0)} ms, limit ${maxMs}`);
  return root;
}

test("multiparts nested 5,000 deep are cut at MAX_DEPTH in bounded time", () => {
  const levels = 5000;
  let head = "";
  let tail = "";
  for (let i = 0; i < levels; i++) {
    head += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
    tail = `\r\n--b${i}--\r\n${tail}`;
  }
  const root = parseTimed([Buffer.from(`${head}Content-Type: text/plain\r\n\r\nleaf${tail}`)], 3000);
  assert.ok(depthOf(root) <= MAX_DEPTH + 1, `depth ${depthOf(root)}`);
});

test("message/rfc822 nested 20,000 deep is cut at MAX_DEPTH in bounded time", () => {
  const message = `${"Subject: x\r\nContent-Type: message/rfc822\r\n\r\n".repeat(20_000)}Subject: inner\r\n\r\nbody\r\n`;
  const root = parseTimed([Buffer.from(message)], 3000);
  assert.ok(depthOf(root) <= MAX_DEPTH + 1, `depth ${depthOf(root)}`);
});

test("a multipart with 30,000 parts keeps at most MAX_PARTS of them", () => {
  const body = "--p\r\nContent-Type: text/plain\r\n\r\nx\r\n".repeat(30_000);
  const message = `Content-Type: multipart/mixed; boundary=p\r\n\r\n${body}--p--\r\n`;
  const root = parseTimed(chunked(Buffer.from(message), [1000, 50_000, 300_000]), 5000);
  assert.ok(countParts(root) <= MAX_PARTS + 1, `parts ${countParts(root)}`);
});

test("a compressed-bomb-shaped attachment streams through in bounded memory", () => {
  const header =
    "Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n" +
    "Content-Type: application/zip; name=bomb.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  const line = Buffer.from(`${"A".repeat(76)}\r\n`);
  const block = Buffer.concat(Array.from({ length: 8192 }, () => line)); // ~640 KiB
  function* pieces(): Generator<Buffer> {
    yield Buffer.from(header);
    for (let i = 0; i < 48; i++) yield block; // ~30 MB of attachment
    yield Buffer.from("--zz--\r\n");
  }
  const before = process.memoryUsage();
  const root = parseTimed(pieces(), 8000);
  const after = process.memoryUsage();
  const grown = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
  assert.ok(grown < 24 * 1024 * 1024, `memory grew by ${grown} bytes`);
  assert.equal(root.children[0]?.contentType.subtype, "zip");
  const attachment = root.children[0];
  assert.ok(
    (attachment?.end ?? 0) - (attachment?.bodyStart ?? 0) >= 48 * 8192 * 78 - 2,
    "the whole attachment is counted",
  );
});

test("an endless header line is truncated, not held", () => {
  const chunk = Buffer.alloc(1 << 20, 0x61);
  function* pieces(): Generator<Buffer> {
    yield Buffer.from("Subject: ");
    for (let i = 0; i < 32; i++) yield chunk;
    yield Buffer.from("\r\n\r\nbody\r\n");
  }
  const root = parseTimed(pieces(), 5000);
  assert.ok((root.envelope?.subject?.length ?? 0) <= 70_000, "the kept header is capped");
});

const mimeLine = fc.oneof(
  fc.constantFrom(
    "Content-Type: multipart/mixed; boundary=a",
    'Content-Type: multipart/alternative; boundary="a"',
    "Content-Type: message/rfc822",
    "Content-Type: multipart/digest; boundary=a",
    "Content-Disposition: attachment; filename*0*=utf-8''%0D%0A; filename*1=x",
    "Content-Type: text/plain; name==?utf-8?q?a=0D=0Ab?=",
    "Subject: =?utf-8?b?DQo=?=",
    'From: "\r\n" <a@b>, =?x?q?\0?= <c@d>',
    "Content-Transfer-Encoding: base64",
    "--a",
    "--a--",
    "",
  ),
  hostileText(6),
);

test("random MIME-shaped messages give the same tree in any chunking and render well framed", () => {
  fc.assert(
    fc.property(fc.array(mimeLine, { maxLength: 60 }), cutPoints, (lines, cuts) => {
      const message = Buffer.from(lines.join("\r\n"), "utf8");
      const whole = parseTimed([message], 1000);
      assert.deepEqual(parseTimed(chunked(message, cuts), 1000), whole);
    }),
    budget(150),
  );
});
