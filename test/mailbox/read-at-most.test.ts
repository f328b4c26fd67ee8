/*
 * readAtMost: the one-pread read that POP3's RETR and IMAP's FETCH fast paths share. A file
 * of at most `max` bytes comes back whole as a view of the caller's buffer; a bigger or
 * missing one gives undefined, for the caller's general path.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readAtMost } from "../../lib/mailbox/maildir.js";

describe("readAtMost", () => {
  const dir = mkdtempSync(join(tmpdir(), "postern-read-at-most-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "m");
  writeFileSync(file, "Subject: x\n\nbody\n");
  const size = 17;

  it("reads a file of at most max bytes into the caller's buffer", () => {
    const into = Buffer.alloc(64);
    for (const max of [size, size + 1, 63]) {
      const got = readAtMost(file, max, into);
      assert.equal(got?.toString(), "Subject: x\n\nbody\n");
      assert.equal(got?.buffer, into.buffer, "a view, not a copy");
    }
  });

  it("gives undefined for a file bigger than max, a missing file and a directory", () => {
    const into = Buffer.alloc(64);
    assert.equal(readAtMost(file, size - 1, into), undefined);
    assert.equal(readAtMost(join(dir, "gone"), 10, into), undefined);
    assert.equal(readAtMost(dir, 10, into), undefined);
  });
});
