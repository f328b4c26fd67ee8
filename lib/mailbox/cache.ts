/*
 * cache — per-folder cache of strings the IMAP layer computes once per message (ENVELOPE,
 * BODYSTRUCTURE): the file "postern-cache", append-only lines
 * "<uidvalidity> <uid> <key> <JSON string>", loaded on first use. Appending means a crash
 * can at worst leave a torn last line, which is skipped; entries of another UIDVALIDITY or
 * of expunged UIDs are ignored (a cache miss only costs a re-parse).
 * Talks to: the folder directory. Security: values are our own JSON; keys are [A-Za-z0-9.]+.
 */
import { appendFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errnoCode } from "./errors.js";

export const CACHE_FILE = "postern-cache";

export class FolderCache {
  private entries: Map<string, string> | undefined;
  /** Lines waiting to be appended: a FETCH of 1,000 envelopes writes once, not 1,000 times. */
  private pending: string[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly uidValidity: number,
  ) {}

  private async load(): Promise<Map<string, string>> {
    if (this.entries !== undefined) return this.entries;
    const text = await readFile(join(this.dir, CACHE_FILE), "utf8").catch((e: unknown) => {
      if (errnoCode(e) === "ENOENT") return "";
      throw e;
    });
    const entries = new Map<string, string>();
    for (const line of text.split("\n")) {
      const m = /^(\d+) (\d+) ([A-Za-z0-9.]+) (".*")$/.exec(line);
      if (m === null || Number(m[1]) !== this.uidValidity) continue;
      try {
        const value: unknown = JSON.parse(m[4] ?? "");
        if (typeof value === "string") entries.set(`${m[2]} ${m[3]}`, value);
      } catch {
        // a torn line from a crash: skip it
      }
    }
    this.entries = entries;
    return entries;
  }

  async get(uid: number, key: string): Promise<string | undefined> {
    return (await this.load()).get(`${uid} ${key}`);
  }

  async set(uid: number, key: string, value: string): Promise<void> {
    if (!/^[A-Za-z0-9.]+$/.test(key)) throw new RangeError(`bad cache key ${key}`);
    const entries = await this.load();
    if (entries.get(`${uid} ${key}`) === value) return;
    entries.set(`${uid} ${key}`, value);
    this.pending.push(`${this.uidValidity} ${uid} ${key} ${JSON.stringify(value)}\n`);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
    await this.flushing;
  }

  private async flush(): Promise<void> {
    const lines = this.pending.join("");
    this.pending = [];
    this.flushing = undefined;
    if (lines !== "") await appendFile(join(this.dir, CACHE_FILE), lines, { mode: 0o600 });
  }
}
