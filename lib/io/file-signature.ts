/*
 * file-signature — a file's identity and last change as one string (device, inode, size,
 * mtime and ctime in nanoseconds; "-" for a file that does not exist), for caches that must
 * notice any change to a file they were built from: equal signatures, same file contents.
 * Blocking stat on purpose: microseconds, where a thread-pool round trip costs more. stat
 * needs no read permission on the file, only search on its directory.
 * Talks to: the file system (stat only).
 */
import { statSync } from "node:fs";

/** The file's signature now, or undefined when it cannot be stat'ed. */
export function fileSignature(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return "-";
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}
