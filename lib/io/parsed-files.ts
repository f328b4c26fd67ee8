/*
 * parsed-files — the parsed content of text files (passwd-file, /etc/passwd), per path,
 * read and parsed again only when the file changes: another mtime or size (rewritten in
 * place) or inode (replaced by a rename). The stat on every get() is blocking on purpose:
 * microseconds, where a thread-pool round trip per lookup costs more than the call itself.
 * fs errors (ENOENT, EACCES) are thrown as they are.
 * Talks to: the files it is asked for.
 */
import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";

interface Entry<T> {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
  readonly value: T;
}

export class ParsedFiles<T> {
  private readonly entries = new Map<string, Entry<T>>();

  /** The file's content as parse makes it; parse runs only when the file changed. */
  async get(path: string, parse: (text: string) => T): Promise<T> {
    const st = statSync(path);
    const hit = this.entries.get(path);
    if (hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size && hit.ino === st.ino)
      return hit.value;
    const value = parse(await readFile(path, "utf8"));
    this.entries.set(path, { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, value });
    return value;
  }
}
