/*
 * cache — the smtp client's connection cache (Postfix's scache, per process): a session
 * that finished a transaction is kept idle for smtp_connection_cache_time_limit, keyed by
 * the server's name, address and port, and handed to the next delivery to that server after an
 * RSET proves it still works. A session is retired after smtp_connection_reuse_count_limit
 * transactions. Idle timers are unref'd: a cached connection never keeps the process alive.
 * Talks to remote servers only through SmtpSession (RSET, QUIT).
 */
import type { SmtpSession } from "./session.js";

interface Idle {
  readonly session: SmtpSession;
  readonly timer: NodeJS.Timeout;
}

export class SessionCache {
  private readonly idle = new Map<string, Idle[]>();

  constructor(
    private readonly timeLimitMs: number,
    private readonly reuseLimit: number,
  ) {}

  /** The host name is part of the key so log lines name the host the next hop named. */
  static key(hostname: string, address: string, port: number): string {
    return `${hostname}[${address}]:${port}`;
  }

  /** A working cached session for the server, or undefined. */
  async take(key: string): Promise<SmtpSession | undefined> {
    for (;;) {
      const list = this.idle.get(key);
      const entry = list?.pop();
      if (list && list.length === 0) this.idle.delete(key);
      if (!entry) return undefined;
      clearTimeout(entry.timer);
      if (!entry.session.conn.closed && (await entry.session.reset())) return entry.session;
      entry.session.conn.destroy();
    }
  }

  /** Keep a session for reuse, or close it when caching is off or it has carried enough mail. */
  put(key: string, session: SmtpSession): void {
    if (this.timeLimitMs <= 0 || session.transactions >= this.reuseLimit || session.conn.closed) {
      void session.quit();
      return;
    }
    const timer = setTimeout(() => this.expire(key, session), this.timeLimitMs);
    timer.unref();
    const list = this.idle.get(key) ?? [];
    list.push({ session, timer });
    this.idle.set(key, list);
  }

  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** Close every idle session (stop, or the end of a test). */
  async closeAll(): Promise<void> {
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.session.quit()));
  }

  private expire(key: string, session: SmtpSession): void {
    const list = this.idle.get(key);
    if (!list) return;
    const rest = list.filter((e) => e.session !== session);
    if (rest.length > 0) this.idle.set(key, rest);
    else this.idle.delete(key);
    void session.quit();
  }
}
