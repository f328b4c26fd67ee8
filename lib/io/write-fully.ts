/*
 * write-fully — writev(2) that loops over short writes, for the blocking writes of the queue
 * writer and of Maildir delivery (one system call for several buffers in the usual case).
 * Talks to: the file descriptor it is given.
 */
import { writevSync } from "node:fs";

/**
 * Write all of `pieces` at `position`, or at the file's current offset when position is
 * undefined (O_APPEND files, a file being written from its start).
 */
export function writevFully(fd: number, pieces: readonly Buffer[], position?: number): void {
  let rest = pieces.filter((b) => b.length > 0);
  let at = position;
  while (rest.length > 0) {
    let written = at === undefined ? writevSync(fd, rest) : writevSync(fd, rest, at);
    if (written <= 0) throw Object.assign(new Error("write returned 0"), { code: "EIO" });
    if (at !== undefined) at += written;
    const remaining: Buffer[] = [];
    for (const piece of rest) {
      if (written >= piece.length) written -= piece.length;
      else {
        remaining.push(piece.subarray(written));
        written = 0;
      }
    }
    rest = remaining;
  }
}
