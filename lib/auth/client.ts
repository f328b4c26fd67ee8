/*
 * client — how login processes and smtpd ask the auth service (private/auth): a small pool
 * of connections, one request in flight per connection. A failed login's reply arrives
 * only after the penalty delay, so callers must not add their own.
 */
import { join } from "node:path";
import { connectIpc, type IpcConnection } from "../ipc/index.js";
import type { AuthReply, PassdbRequest } from "./protocol.js";

const IDLE_MAX = 8;

export class AuthClient {
  private idle: IpcConnection[] = [];

  constructor(
    private readonly queueDir: string,
    private readonly timeoutMs: number,
  ) {}

  passdb(req: Omit<PassdbRequest, "op">): Promise<AuthReply> {
    return this.call({ op: "passdb", ...req });
  }

  /** The user, or else the first of alsoTry that exists (one request). */
  userdb(user: string, alsoTry: readonly string[] = []): Promise<AuthReply> {
    return this.call(alsoTry.length > 0 ? { op: "userdb", user, alsoTry } : { op: "userdb", user });
  }

  /**
   * Connect ahead of the first request (best effort), so that master starts the auth
   * service while this process waits for its first client, not while a client waits.
   */
  async prepare(): Promise<void> {
    if (this.idle.length > 0) return;
    try {
      const conn = await connectIpc(join(this.queueDir, "private", "auth"), { timeoutMs: this.timeoutMs });
      if (this.idle.length < IDLE_MAX) this.idle.push(conn);
      else conn.close();
    } catch {
      /* call() connects (and reports) when a request needs it */
    }
  }

  close(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
  }

  private async call(req: unknown): Promise<AuthReply> {
    for (let attempt = 0; ; attempt++) {
      const pooled = this.idle.pop();
      const conn =
        pooled && !pooled.closed
          ? pooled
          : await connectIpc(join(this.queueDir, "private", "auth"), { timeoutMs: this.timeoutMs });
      try {
        const reply = await conn.request<AuthReply>(req, this.timeoutMs);
        if (this.idle.length < IDLE_MAX) this.idle.push(conn);
        else conn.close();
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
