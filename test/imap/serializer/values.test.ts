import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  cachedWire,
  encodeCached,
  MAX_CACHE_DEPTH,
  toWire,
} from "../../../lib/imap/commands/fetch-values.js";
import { canQuote, type ImapValue, MAX_QUOTED, ResponseWriter } from "../../../lib/imap/serializer/values.js";
import type { ImapValue as MimeValue } from "../../../lib/mime/imap-value.js";

/** The writer as it was: one Buffer per piece, every string through its UTF-8 bytes. */
function reference(value: ImapValue): Buffer {
  const out: Buffer[] = [];
  const raw = (t: string | Buffer) => out.push(typeof t === "string" ? Buffer.from(t, "utf8") : t);
  const str = (bytes: Buffer) => {
    if (!canQuote(bytes)) {
      raw(`{${bytes.length}}\r\n`);
      raw(bytes);
    } else raw(`"${bytes.toString("latin1").replace(/["\\]/g, "\\$&")}"`);
  };
  const write = (v: ImapValue): void => {
    if (v === null) raw("NIL");
    else if (typeof v === "number" || typeof v === "bigint") raw(String(v));
    else if (typeof v === "string") str(Buffer.from(v, "utf8"));
    else if (Buffer.isBuffer(v)) str(v);
    else if (Array.isArray(v)) {
      raw("(");
      v.forEach((item: ImapValue, i: number) => {
        if (i > 0) raw(" ");
        write(item);
      });
      raw(")");
    } else if ("atom" in v) raw(v.atom);
    else if ("literal" in v) {
      raw(`{${v.literal.length}}\r\n`);
      raw(v.literal);
    } else if ("joined" in v) for (const item of v.joined) write(item);
    else throw new Error("not in this test");
  };
  write(value);
  raw("\r\n");
  return Buffer.concat(out);
}

const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary" }),
  fc.constantFrom(
    'a"b',
    "a\\b",
    "x\r\ny",
    "\0",
    "é",
    "\ud83d",
    "\ude00",
    "\ud83d\ude00",
    "x".repeat(MAX_QUOTED + 1),
  ),
);
const leaf = fc.oneof(
  text,
  fc.constant(null),
  fc.nat(),
  text.map((t) => ({ atom: t.replace(/[^A-Za-z\\]/g, "") || "X" })),
  text.map((t) => ({ literal: Buffer.from(t, "utf8") })),
  text.map((t) => Buffer.from(t, "latin1")),
);
const { value } = fc.letrec<{ value: ImapValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("value"), { maxLength: 5 }),
    fc.array(tie("value"), { maxLength: 3 }).map((joined) => ({ joined })),
  ),
}));

describe("ResponseWriter", () => {
  it("writes the bytes the one-buffer-per-piece writer wrote (property)", () => {
    fc.assert(
      fc.property(value, (v) => {
        const parts = new ResponseWriter().value(v).finish();
        assert.deepEqual(Buffer.concat(parts as Buffer[]), reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it("never hands out a caller's buffer as a part", () => {
    const literal = Buffer.from("abc");
    const [part] = new ResponseWriter().raw(literal).finish() as Buffer[];
    literal[0] = 0x7a;
    assert.equal(part?.toString(), "abc\r\n");
  });
});

const { mime } = fc.letrec<{ mime: MimeValue }>((tie) => ({
  mime: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    text,
    fc.constant(null),
    fc.nat(),
    text.map((t) => ({ literal: Buffer.from(t, "utf8") })),
    fc.array(tie("mime"), { maxLength: 5 }),
    fc.array(tie("mime"), { maxLength: 3 }).map((joined) => ({ joined })),
  ),
}));

function fromJson(json: unknown, depth: number): MimeValue | undefined {
  if (depth > MAX_CACHE_DEPTH) return undefined;
  if (json === null || typeof json === "string") return json;
  if (typeof json === "number") return Number.isSafeInteger(json) && json >= 0 ? json : undefined;
  if (Array.isArray(json)) return listFromJson(json, depth);
  if (typeof json !== "object") return undefined;
  if ("l" in json && typeof json.l === "string" && Object.keys(json).length === 1)
    return { literal: Buffer.from(json.l, "base64") };
  if ("j" in json && Array.isArray(json.j) && Object.keys(json).length === 1) {
    const joined = listFromJson(json.j, depth);
    return joined === undefined ? undefined : { joined };
  }
  return undefined;
}

function listFromJson(items: readonly unknown[], depth: number): MimeValue[] | undefined {
  const out: MimeValue[] = [];
  for (const item of items) {
    const value = fromJson(item, depth + 1);
    if (value === undefined) return undefined;
    out.push(value);
  }
  return out;
}

/** The cache string decoded to a lib/mime value, as FETCH did before cachedWire. */
function decodeCached(text: string): MimeValue | undefined {
  try {
    return fromJson(JSON.parse(text), 0);
  } catch {
    return undefined;
  }
}

describe("cachedWire", () => {
  it("is toWire(decodeCached(x)) (property)", () => {
    fc.assert(
      fc.property(mime, (m) => {
        const cached = encodeCached(m);
        const decoded = decodeCached(cached);
        assert.deepEqual(cachedWire(cached), decoded === undefined ? undefined : toWire(decoded));
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses what decodeCached refuses", () => {
    for (const bad of ["{", "[1.5]", "[-1]", '{"l":1}', '{"x":[]}', "true", '[{"j":[true]}]'])
      assert.equal(cachedWire(bad), undefined, bad);
  });
});
