/*
 * imap-wire — test helper: checks that bytes meant for an IMAP client are framed safely:
 * lines end in CRLF, no bare CR or NUL, and every CRLF that is not the end of the response
 * follows a literal marker "{n}" whose n bytes are then skipped.
 */
import assert from "node:assert/strict";

/** Asserts `bytes` is one response line (with counted literals) ending in CRLF, or, with
 * `fragment`, a value that contains no line end outside its literals. */
export function assertWellFramed(bytes: Buffer, fragment = false): void {
  let at = 0;
  for (;;) {
    const lf = bytes.indexOf(0x0a, at);
    if (fragment && lf < 0) {
      assert.equal(bytes.indexOf(0x0d, at), -1, "no bare CR");
      assert.equal(bytes.indexOf(0x00, at), -1, "no NUL");
      return;
    }
    assert.ok(lf > at && bytes[lf - 1] === 0x0d, "lines end in CRLF");
    const line = bytes.subarray(at, lf - 1);
    assert.equal(line.indexOf(0x0d), -1, "no bare CR");
    assert.equal(line.indexOf(0x00), -1, "no NUL");
    const marker = /~?\{(\d+)\}$/.exec(line.toString("latin1"));
    if (marker === null) {
      assert.ok(!fragment, "a value never contains a line end outside a literal");
      assert.equal(lf + 1, bytes.length, "the response ends at its first line end outside literals");
      return;
    }
    at = lf + 1 + Number(marker[1]);
    if (fragment && at >= bytes.length) return;
  }
}
