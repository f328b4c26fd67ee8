/*
 * client — how login processes and smtpd ask the auth service (private/auth): a small pool
 * of connections, one request in flight per connection. A failed login's reply arrives
 * only after the penalty delay, so callers must not add their own.
 */
import { join } from "node:path";
import { IpcPool } from "../ipc/pool.js";
import type { AuthReply, PassdbRequest } from "./protocol.js";

export class AuthClient {
  private readonly pool: IpcPool;

  constructor(
    queueDir: string,
    private readonly timeoutMs: number,
  ) {
    // At most 8 idle: auth is one process (maxproc 1) with worker_connection_limit
    // connections, and idle ones kept here would hold up other processes' logins.
    this.pool = new IpcPool(join(queueDir, "private", "auth"), timeoutMs, { keep: 8, max: 8 });
  }

  passdb(req: Omit<PassdbRequest, "op">): Promise<AuthReply> {
    return this.call({ op: "passdb", ...req });
  }

  /** The user, or else the first of alsoTry that exists (one request). */
  userdb(user: string, alsoTry: readonly string[] = []): Promise<AuthReply> {
    return this.call(alsoTry.length > 0 ? { op: "userdb", user, alsoTry } : { op: "userdb", user });
  }

  /** Connect ahead of the first request (see IpcPool.prepare). */
  prepare(): Promise<void> {
    return this.pool.prepare();
  }

  close(): void {
    this.pool.close();
  }

  private async call(req: unknown): Promise<AuthReply> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.pool.take();
      try {
        const reply = await conn.request<AuthReply>(req, this.timeoutMs);
        this.pool.give(conn);
        return reply;
      } catch (err) {
        conn.destroy();
        if (attempt >= 1)
          return {
            ok: false,
            temporary: true,
            reason: `auth service unavailable: ${err instanceof Error ? err.message : String(err)}`,
          };
      }
    }
  }
}
