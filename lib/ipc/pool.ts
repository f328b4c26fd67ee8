/*
 * pool — idle connections to one postern service socket, reused request after request
 * (smtpd and the login processes to auth, smtpd, pickup and bounce to cleanup), like
 * Postfix's clients that keep their connections to proxymap and trivial-rewrite.
 * Talks to: the service socket at `path` (lib/ipc framing).
 */
import { connectIpc, type IpcConnection } from "./index.js";

export class IpcPool {
  private idle: IpcConnection[] = [];

  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
    private readonly maxIdle = 8,
  ) {}

  /** An idle connection still open, else a new one (rejects when the service is unreachable). */
  take(): Promise<IpcConnection> {
    for (let conn = this.idle.pop(); conn !== undefined; conn = this.idle.pop()) {
      if (!conn.closed) return Promise.resolve(conn);
    }
    return connectIpc(this.path, { timeoutMs: this.timeoutMs });
  }

  /** Keep a connection whose exchange is complete, for the next request. */
  give(conn: IpcConnection): void {
    if (!conn.closed && this.idle.length < this.maxIdle) this.idle.push(conn);
    else conn.close();
  }

  /**
   * Connect ahead of the first request (best effort), so that master starts the service
   * while this process waits for its first client, not while a client waits.
   */
  async prepare(): Promise<void> {
    if (this.idle.length > 0) return;
    try {
      this.give(await connectIpc(this.path, { timeoutMs: this.timeoutMs }));
    } catch {
      /* take() connects (and the caller reports) when a request needs it */
    }
  }

  close(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
  }
}
