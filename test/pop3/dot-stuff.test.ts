/*
 * stuffedReply (one-pass reply of a held message) against the streamed path it replaces:
 * CrlfEncoder then DotStuffer, chunk by chunk.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { DotStuffer, stuffedReply } from "../../lib/pop3/dot-stuff.js";
import { CrlfEncoder } from "../../lib/pop3d/crlf.js";

function streamed(status: string, body: Buffer, crlf: boolean): { reply: string; crlfOctets: number } {
  const enc = new CrlfEncoder();
  const stuffer = new DotStuffer();
  const parts: Buffer[] = [Buffer.from(status, "latin1")];
  let crlfOctets = 0;
  for (let i = 0; i < body.length; i += 3) {
    const chunk = crlf ? enc.encode(body.subarray(i, i + 3)) : body.subarray(i, i + 3);
    crlfOctets += chunk.length;
    parts.push(stuffer.stuff(chunk));
  }
  parts.push(stuffer.finish());
  return { reply: Buffer.concat(parts).toString("latin1"), crlfOctets };
}

function onePass(status: string, body: Buffer, crlf: boolean) {
  const r = stuffedReply(status, body, crlf);
  return { reply: r.reply.toString("latin1"), crlfOctets: r.crlfOctets };
}

describe("stuffedReply", () => {
  it("converts bare LFs, stuffs dots and ends the reply", () => {
    const r = onePass("+OK 9 octets\r\n", Buffer.from(".a\nb\r\n..c\n"), true);
    assert.deepEqual(r, { reply: "+OK 9 octets\r\n..a\r\nb\r\n...c\r\n.\r\n", crlfOctets: 12 });
    assert.equal(onePass("+OK\r\n", Buffer.alloc(0), true).reply, "+OK\r\n.\r\n");
    assert.equal(onePass("+OK\r\n", Buffer.from("x"), true).reply, "+OK\r\nx\r\n.\r\n");
    assert.equal(onePass("+OK\r\n", Buffer.from("a\n.b"), false).reply, "+OK\r\na\n..b\r\n.\r\n");
  });

  it("gives the streamed bytes for any input (property)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[ab\r\n.]{0,60}$/), fc.boolean(), (t, crlf) => {
        const body = Buffer.from(t, "latin1");
        assert.deepEqual(onePass("+OK 1 octets\r\n", body, crlf), streamed("+OK 1 octets\r\n", body, crlf));
      }),
      { numRuns: 2000 },
    );
  });

  it("handles more lines than its reused offset table holds", () => {
    const body = Buffer.from(".\n".repeat(10_000));
    assert.deepEqual(onePass("+OK\r\n", body, true), streamed("+OK\r\n", body, true));
  });
});
