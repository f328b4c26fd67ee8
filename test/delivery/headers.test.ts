import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { DeliveredToScanner, hasDeliveredTo, traceHeaders } from "../../lib/delivery/headers.js";
import { byteByByte, chunks } from "./helpers.js";

test("traceHeaders prepends Return-Path, X-Original-To and Delivered-To in Postfix's order", () => {
  assert.equal(
    traceHeaders({ sender: "a@b", originalRecipient: "U@x", deliveredTo: "u@x" }),
    "Return-Path: <a@b>\nX-Original-To: U@x\nDelivered-To: u@x\n",
  );
  assert.equal(traceHeaders({ sender: "" }), "Return-Path: <>\n");
  assert.equal(traceHeaders({ sender: "a\r\nX-Evil: 1" }), "Return-Path: <a X-Evil: 1>\n");
});

const loopCases: Array<[string, string, boolean]> = [
  ["an exact Delivered-To", "Delivered-To: u@x\nSubject: s\n\nbody\n", true],
  ["a Delivered-To in other case", "delivered-to:   U@X \n\nbody\n", true],
  ["a folded Delivered-To", "Delivered-To:\n u@x\n\nbody\n", true],
  ["a Delivered-To for someone else", "Delivered-To: v@x\n\nbody\n", false],
  ["a Delivered-To only in the body", "Subject: s\n\nDelivered-To: u@x\n", false],
  ["a Delivered-To in CRLF headers", "Delivered-To: u@x\r\n\r\nbody", true],
  ["headers without a body", "Delivered-To: u@x", true],
  ["a prefix of the address", "Delivered-To: u@xy\n\n", false],
];

for (const [name, message, expected] of loopCases) {
  test(`hasDeliveredTo detects ${name}: ${expected}`, async () => {
    assert.equal(await hasDeliveredTo(chunks(message), "u@x"), expected);
    assert.equal(await hasDeliveredTo(byteByByte(message), "u@x"), expected);
  });
}

test("hasDeliveredTo stops reading at the end of the headers", async () => {
  let bodyRead = false;
  async function* content(): AsyncGenerator<Buffer> {
    yield Buffer.from("Subject: s\n\n");
    bodyRead = true;
    yield Buffer.from("Delivered-To: u@x\n");
  }
  assert.equal(await hasDeliveredTo(content(), "u@x"), false);
  assert.equal(bodyRead, false);
});

test("DeliveredToScanner gives the same answer for any chunking", () => {
  const header = fc.constantFrom(
    "Delivered-To: u@x\n",
    "Delivered-To: v@x\n",
    "Subject: hi\n",
    " folded\n",
    "X: y\r\n",
  );
  fc.assert(
    fc.property(fc.array(header, { maxLength: 8 }), fc.array(fc.nat(40), { maxLength: 5 }), (lines, cuts) => {
      const text = Buffer.from(`${lines.join("")}\nDelivered-To: u@x\n`);
      const whole = new DeliveredToScanner("u@x");
      const a = whole.push(text) === "found" || whole.end() === "found";
      const pieces = new DeliveredToScanner("u@x");
      let at = 0;
      let b = false;
      for (const cut of [...cuts.sort((x, y) => x - y), text.length]) {
        const end = Math.min(Math.max(cut, at), text.length);
        if (pieces.push(text.subarray(at, end)) === "found") b = true;
        at = end;
      }
      b = b || pieces.end() === "found";
      assert.equal(b, a);
    }),
    { seed: 7, numRuns: 200 },
  );
});

test("DeliveredToScanner survives an enormous header line", () => {
  const s = new DeliveredToScanner("u@x");
  assert.equal(s.push(Buffer.from(`X-Long: ${"a".repeat(100_000)}\nDelivered-To: u@x\n`)), "more");
  assert.equal(s.end(), "found");
});
