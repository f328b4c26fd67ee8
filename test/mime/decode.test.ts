/* Tests for mime/decode: RFC 2047 header decoding and streamed transfer/charset decoding. */

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeBodyText, decodeHeaderValue, TransferDecoder } from "../../lib/mime/decode.js";

const headerCases: [string, string][] = [
  ["=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?= =?UTF-8?Q?_=E2=9C=93?=", "Grüße aus München ✓"],
  ["=?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>", "René <rene@example.fr>"],
  ["=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?=", "Jürgen Müller"],
  ["plain text", "plain text"],
  ["=?utf-8?b?4pyT?= and =?utf-8?q?x?=", "✓ and x"],
  ["=?utf-8?B?ww==?= =?utf-8?B?pA==?=", "ä"],
  ["=?x-unknown?Q?abc?=", "abc"],
  ["raw 8bit \xe4", "raw 8bit ä"],
  ["raw utf-8 \xc3\xa4", "raw utf-8 ä"],
];

for (const [raw, text] of headerCases) {
  test(`decodeHeaderValue turns ${JSON.stringify(raw)} into ${JSON.stringify(text)}`, () => {
    assert.equal(decodeHeaderValue(raw), text);
  });
}

async function collect(body: string, encoding: string, charset: string, size: number): Promise<string> {
  const bytes = Buffer.from(body, "latin1");
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  }
  let out = "";
  for await (const piece of decodeBodyText(chunks(), { encoding, charset })) out += piece;
  return out;
}

const bodyCases: [string, string, string, string][] = [
  ["R3LDvMOfZQ0K\r\nw7w=\r\n", "base64", "utf-8", "Grüße\r\nü"],
  ["Gr=C3=BC=C3=9Fe =\r\nsoft\r\nnext=3D  \r\n", "quoted-printable", "utf-8", "Grüße soft\r\nnext=\r\n"],
  ["caf\xe9\r\n", "8bit", "iso-8859-1", "café\r\n"],
];

for (const [body, encoding, charset, text] of bodyCases) {
  test(`decodeBodyText decodes ${encoding}/${charset} identically in any chunk size`, async () => {
    for (const size of [1, 2, 3, 5, 64]) assert.equal(await collect(body, encoding, charset, size), text);
  });
}

test("TransferDecoder never throws on garbage", () => {
  for (const enc of ["base64", "quoted-printable", "7bit"]) {
    const d = new TransferDecoder(enc);
    d.write(Buffer.from("==\x00\xff=\r\n=Z"));
    d.end();
  }
});

test("decodeBodyText gives the same text for bad base64 in any chunk size", async () => {
  const body = "!!!! not base64 ****\r\nQUJD===RE\r\n";
  const whole = await collect(body, "base64", "latin1", 1000);
  for (const size of [1, 3, 7]) assert.equal(await collect(body, "base64", "latin1", size), whole);
});
