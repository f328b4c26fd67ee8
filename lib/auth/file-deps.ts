/*
 * file-deps — what a userdb answer depends on, so that smtpd can reuse it without asking
 * auth again: each file the lookup read, with its stat signature (device, inode, size,
 * mtime and ctime in nanoseconds; "-" for a file that does not exist). auth takes the
 * signature before it reads; smtpd reuses an answer only while a fresh stat of every file
 * gives the same signature, so it is never staler than auth itself. stat needs no read
 * permission on the file (smtpd may not read the passwd-file), only search on its directory.
 * Blocking stat on purpose: microseconds, where a thread-pool round trip costs more.
 */
import { statSync } from "node:fs";
import { isAbsolute } from "node:path";

export interface FileDep {
  path: string;
  sig: string;
}

/** The file's signature now, or undefined when it cannot be stat'ed (then nothing is cached). */
export function fileSignature(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) return "-";
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch {
    return undefined;
  }
}

/**
 * The signatures of paths, or undefined when one cannot be taken (or a path is relative:
 * the asker may have another working directory).
 */
export function fileDeps(paths: readonly string[]): FileDep[] | undefined {
  const deps: FileDep[] = [];
  for (const path of paths) {
    if (!isAbsolute(path)) return undefined;
    const sig = fileSignature(path);
    if (sig === undefined) return undefined;
    deps.push({ path, sig });
  }
  return deps;
}

/** Do all files still have the signatures they had? */
export function depsFresh(deps: readonly FileDep[]): boolean {
  for (const d of deps) if (fileSignature(d.path) !== d.sig) return false;
  return true;
}
