/*
 * file-deps — what a userdb answer depends on, so that smtpd can reuse it without asking
 * auth again: each file the lookup read, with its stat signature (device, inode, size,
 * mtime and ctime; lib/io/file-signature). auth takes the signature before it reads; smtpd
 * reuses an answer only while a fresh stat of every file gives the same signature, so it is
 * never staler than auth itself (smtpd may not read the passwd-file; stat needs no such right).
 */
import { isAbsolute } from "node:path";
import { fileSignature } from "../io/file-signature.js";

export interface FileDep {
  path: string;
  sig: string;
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
