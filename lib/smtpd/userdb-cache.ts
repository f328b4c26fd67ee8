/*
 * userdb-cache — smtpd's memory of the auth service's userdb answers (auth:userdb in
 * local_recipient_maps), so a repeated RCPT for the same user costs a stat of the
 * passwd-file instead of a round trip to auth. An answer (the user, or "unknown user") is
 * kept with the files it was read from and their signatures (lib/auth/file-deps), and
 * reused only while a stat of each gives the same signature: a user removed from the file
 * is refused at the very next RCPT, as without the cache. Answers that carry no such
 * proof (and temporary failures) are not kept. Bounded, least recently used first out.
 */
import { depsFresh, type FileDep } from "../auth/file-deps.js";

interface Entry {
  readonly user: string | undefined;
  readonly deps: readonly FileDep[];
}

export class UserdbCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly max = 1000) {}

  /** The answer for names while still fresh ({user: undefined} = unknown), else undefined. */
  get(names: readonly string[]): { readonly user: string | undefined } | undefined {
    const key = names.join("\0");
    const hit = this.entries.get(key);
    if (hit === undefined) return undefined;
    this.entries.delete(key);
    if (!depsFresh(hit.deps)) return undefined;
    this.entries.set(key, hit); // most recently used last
    return hit;
  }

  /** Keep auth's answer for names, if it says what it depends on. */
  set(names: readonly string[], user: string | undefined, deps: readonly FileDep[] | undefined): void {
    if (deps === undefined || !Array.isArray(deps)) return;
    const key = names.join("\0");
    this.entries.delete(key);
    this.entries.set(key, { user, deps });
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
