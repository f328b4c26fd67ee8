/*
 * tables — the lookup-table implementations behind openMap(): hash, texthash, unix,
 * passwd-file, static, inline and fail.
 *
 * File-backed tables stat their file on each lookup and re-read it when its mtime, size or
 * inode changed, so `postern map` takes effect without a restart (Postfix daemons notice a
 * changed table and restart; we simply reload). hash: prefers the compiled FILE.db; when it
 * is missing or older than FILE it falls back to the source text and warns once per state,
 * as Postfix warns "database X.db is older than source file X".
 * Keys are folded to lower case before lookup (Postfix's DICT_FLAG_FOLD_FIX).
 * Talks to the file system. Security: tables are operator configuration; /etc/passwd lines
 * are returned whole (they hold no hashes on a shadow system); passwd-file values are the
 * raw lines and so include password hashes — only the auth process and local delivery
 * should look them up.
 */
import { type Stats, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { parsePasswdFile } from "../auth/passwd-file.js";
import { CompiledTable } from "./db-file.js";
import { errorText, MapError } from "./map-error.js";
import { parseTableText, type TableFormat } from "./table-text.js";

export interface LookupTable {
  /** The "type:name" this table was opened with. */
  readonly spec: string;
  /** Exact-key lookup (after case folding); callers do the Postfix search order. */
  lookup(key: string): Promise<string | undefined>;
  /**
   * The value of the first of keys found, as lookup() on each in turn would give, where
   * the table can do it in one step (auth:userdb: one request to the auth service).
   */
  lookupFirst?(keys: readonly string[]): Promise<string | undefined>;
}

type Warn = (message: string) => void;

/*
 * Blocking on purpose: a stat of a local file takes microseconds, while an asynchronous
 * one is a thread-pool round trip that costs far more, and smtpd stats its tables on every
 * RCPT TO (every lookup, so a changed table is seen at once).
 */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path, { throwIfNoEntry: false }) ?? null;
  } catch (err) {
    throw new MapError(`stat: ${errorText(err)}`, { file: path });
  }
}

/** A file's parsed content, re-parsed when the file changes on disk. */
class FileCache<T> {
  private cached: { mtimeMs: number; size: number; ino: number; value: T } | undefined;

  constructor(
    readonly path: string,
    private readonly parse: (data: Buffer) => T,
  ) {}

  async get(known?: Stats): Promise<T> {
    const st = known ?? statOrNull(this.path);
    if (st === null) throw new MapError("open: No such file or directory", { file: this.path });
    const c = this.cached;
    if (c !== undefined && c.mtimeMs === st.mtimeMs && c.size === st.size && c.ino === st.ino) return c.value;
    let data: Buffer;
    try {
      data = await readFile(this.path);
    } catch (err) {
      throw new MapError(`open: ${errorText(err)}`, { file: this.path });
    }
    const value = this.parse(data);
    this.cached = { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino, value };
    return value;
  }
}

function textTable(
  path: string,
  format: TableFormat,
  warn: Warn | undefined,
): FileCache<Map<string, string>> {
  return new FileCache(path, (data) => {
    const parsed = parseTableText(data.toString("utf8"), path, format, warn);
    return new Map([...parsed].map(([k, e]) => [k, e.value]));
  });
}

export class TextHashTable implements LookupTable {
  private readonly source: FileCache<Map<string, string>>;

  constructor(
    readonly spec: string,
    path: string,
    format: TableFormat,
    warn?: Warn,
  ) {
    this.source = textTable(path, format, warn);
  }

  async lookup(key: string): Promise<string | undefined> {
    return (await this.source.get()).get(key.toLowerCase());
  }
}

export class HashTable implements LookupTable {
  private readonly source: FileCache<Map<string, string>>;
  private readonly db: FileCache<CompiledTable>;
  private lastWarning = "";

  constructor(
    readonly spec: string,
    private readonly path: string,
    format: TableFormat,
    private readonly warn?: Warn,
  ) {
    this.source = textTable(path, format, warn);
    this.db = new FileCache(`${path}.db`, (data) => new CompiledTable(data, `${path}.db`));
  }

  async lookup(key: string): Promise<string | undefined> {
    const folded = key.toLowerCase();
    const dbStat = statOrNull(this.db.path);
    const srcStat = statOrNull(this.path);
    if (dbStat !== null && (srcStat === null || dbStat.mtimeMs >= srcStat.mtimeMs)) {
      return (await this.db.get(dbStat)).get(folded);
    }
    if (srcStat === null)
      throw new MapError("open database: No such file or directory", { file: this.db.path });
    this.warnOnce(
      dbStat === null
        ? `database ${this.db.path} does not exist; using source file ${this.path} (run "postern map ${this.path}")`
        : `database ${this.db.path} is older than source file ${this.path}`,
      srcStat,
    );
    return (await this.source.get(srcStat)).get(folded);
  }

  private warnOnce(message: string, srcStat: Stats): void {
    const state = `${message}@${srcStat.mtimeMs}`;
    if (state === this.lastWarning) return;
    this.lastWarning = state;
    this.warn?.(message);
  }
}

/** unix:passwd.byname — system users from /etc/passwd; the value is the passwd line. */
export class UnixPasswdTable implements LookupTable {
  private readonly file: FileCache<Map<string, string>>;

  constructor(
    readonly spec: string,
    passwdFile: string,
  ) {
    this.file = new FileCache(passwdFile, (data) => {
      const users = new Map<string, string>();
      for (const raw of data.toString("utf8").split("\n")) {
        const line = raw.replace(/\r$/, "");
        const name = line.split(":", 1)[0] ?? "";
        if (name === "" || name.startsWith("#") || name.startsWith("+") || name.startsWith("-")) continue;
        if (!users.has(name.toLowerCase())) users.set(name.toLowerCase(), line);
      }
      return users;
    });
  }

  async lookup(key: string): Promise<string | undefined> {
    return (await this.file.get()).get(key.toLowerCase());
  }
}

/** passwd-file:/path — Dovecot passwd-file users; the value is the user's line as written. */
export class PasswdFileTable implements LookupTable {
  private readonly file: FileCache<Map<string, string>>;

  constructor(
    readonly spec: string,
    path: string,
    warn?: Warn,
  ) {
    this.file = new FileCache(path, (data) => {
      const text = data.toString("utf8");
      const lines = text.split("\n");
      const users = new Map<string, string>();
      for (const [user, entry] of parsePasswdFile(text, path, warn)) {
        const folded = user.toLowerCase();
        if (!users.has(folded)) users.set(folded, (lines[entry.line - 1] ?? "").replace(/\r$/, ""));
      }
      return users;
    });
  }

  async lookup(key: string): Promise<string | undefined> {
    return (await this.file.get()).get(key.toLowerCase());
  }
}

/** static:value — every key maps to value. */
export class StaticTable implements LookupTable {
  constructor(
    readonly spec: string,
    private readonly value: string,
  ) {}

  async lookup(_key: string): Promise<string | undefined> {
    return this.value;
  }
}

/** inline:{ k=v, ... } and other in-memory tables. */
export class MemoryTable implements LookupTable {
  constructor(
    readonly spec: string,
    private readonly entries: ReadonlyMap<string, string>,
  ) {}

  async lookup(key: string): Promise<string | undefined> {
    return this.entries.get(key.toLowerCase());
  }
}

/** fail:name — every lookup fails, as Postfix's fail: table; for testing error paths. */
export class FailTable implements LookupTable {
  constructor(readonly spec: string) {}

  async lookup(_key: string): Promise<string | undefined> {
    throw new MapError(`${this.spec}: table lookup failed`);
  }
}
