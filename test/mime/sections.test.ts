/*
 * BODY[section]<partial> against Dovecot: test/fixtures/mime/sections.dovecot.json holds the
 * bytes dovecot-imapd 2.3.19 returned for each section of eight corpus messages. Our ranges,
 * cut from the CRLF form of the stored (LF) file, must give the same bytes.
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  applyPartial,
  crlfRange,
  filterHeaderFields,
  resolveSection,
  type SectionSpec,
  type SectionText,
  toCrlfBuffer,
} from "../../lib/mime/sections.js";
import { parseStructureSync } from "../../lib/mime/structure.js";

const fixtures = new URL("../../../test/fixtures/mime/", import.meta.url);
interface Recorded {
  message: string;
  section: string;
  data: string;
}
const recorded = JSON.parse(readFileSync(new URL("sections.dovecot.json", fixtures), "utf8")) as Recorded[];

function parseSpec(section: string): SectionSpec {
  const m = /^([\d.]*?)\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?(?: \((.*)\))?$/.exec(
    section,
  );
  assert.ok(m, section);
  const part = m[1] ? m[1].split(".").map(Number) : [];
  const fields = m[3] ? m[3].split(" ") : [];
  return { part, text: (m[2] as SectionText | undefined) ?? null, fields };
}

function fetchSection(stored: Buffer, section: string): Buffer {
  const tree = parseStructureSync(stored);
  const crlf = toCrlfBuffer(stored);
  if (section === "<partial>") {
    const r = applyPartial({ offset: 0, length: crlf.length }, { start: 5, length: 40 });
    return crlf.subarray(r.offset, r.offset + r.length);
  }
  const data = resolveSection(tree, parseSpec(section));
  if (data === null) return Buffer.alloc(0);
  if (data.kind === "range") return crlf.subarray(data.range.offset, data.range.offset + data.range.length);
  const header = crlf.subarray(data.header.offset, data.header.offset + data.header.length);
  return filterHeaderFields(header, data.fields, data.exclude);
}

for (const r of recorded) {
  test(`BODY[${r.section}] of ${r.message} gives Dovecot's bytes`, () => {
    const stored = readFileSync(new URL(`corpus/${r.message}`, fixtures));
    assert.equal(
      fetchSection(stored, r.section).toString("latin1"),
      Buffer.from(r.data, "base64").toString("latin1"),
    );
  });
}

test("crlfRange streams the CRLF form of a range from odd chunks of an LF file", async () => {
  const stored = Buffer.from("a: b\nc: d\r\n\nline\rx\nlast");
  const crlf = toCrlfBuffer(stored);
  assert.equal(crlf.toString(), "a: b\r\nc: d\r\n\r\nline\rx\r\nlast");
  for (let size = 1; size <= 5; size++) {
    async function* chunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < stored.length; i += size) yield stored.subarray(i, i + size);
    }
    for (const [offset, length] of [
      [0, crlf.length],
      [3, 10],
      [5, 1],
      [20, 100],
    ] as const) {
      const got: Buffer[] = [];
      for await (const piece of crlfRange(chunks(), { offset, length })) got.push(piece);
      assert.equal(Buffer.concat(got).toString(), crlf.subarray(offset, offset + length).toString());
    }
  }
});

test("applyPartial clamps a start past the end to an empty range", () => {
  assert.deepEqual(applyPartial({ offset: 10, length: 5 }, { start: 7, length: 3 }), {
    offset: 15,
    length: 0,
  });
  assert.deepEqual(applyPartial({ offset: 10, length: 5 }, { start: 2, length: 30 }), {
    offset: 12,
    length: 3,
  });
});

test("toCrlfBuffer turns each bare LF into CRLF and keeps CRLF and bare CR, with or without CR in the input", () => {
  const reference = (b: Buffer) => Buffer.from(b.toString("latin1").replace(/(?<!\r)\n/g, "\r\n"), "latin1");
  const alphabets = [
    [0x61, 0x0a, 0x0d, 0xe9, 0x00],
    [0x61, 0x0a, 0xe9, 0x00],
  ];
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let run = 0; run < 2000; run++) {
    const alphabet = alphabets[run % 2] as number[];
    const bytes = Buffer.from(
      Array.from({ length: next() % 40 }, () => alphabet[next() % alphabet.length] as number),
    );
    assert.deepEqual(toCrlfBuffer(bytes), reference(bytes), JSON.stringify(bytes.toString("latin1")));
  }
  assert.deepEqual(toCrlfBuffer(Buffer.from("\n\n")), Buffer.from("\r\n\r\n"));
  assert.deepEqual(toCrlfBuffer(Buffer.from("a\nb")), Buffer.from("a\r\nb"));
});
