/*
 * client — how smtpd, pickup and bounce hand a message to cleanup: a small pool of
 * connections to queue_directory/public/cleanup, one message at a time per connection.
 * open() returns the queue ID at once (smtpd logs "ID: client=..." before the data);
 * finish() resolves only when cleanup has made the queue file durable.
 */
import { join } from "node:path";
import { connectIpc, type IpcConnection } from "../ipc/index.js";
import type { CleanupBegin, CleanupReply } from "./protocol.js";

export class CleanupError extends Error {
  constructor(
    readonly code: number,
    readonly enhanced: string,
    text: string,
    /** What went wrong inside, for the maillog only: never shown to a client. */
    readonly detail = "",
  ) {
    super(text);
  }
}

export interface CleanupHandle {
  readonly id: string;
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<{ id: string; messageId: string; size: number; nrcpt: number }>;
  abort(): Promise<void>;
}

const IDLE_MAX = 8;

export class CleanupClient {
  private idle: IpcConnection[] = [];

  constructor(
    private readonly queueDir: string,
    private readonly timeoutMs: number,
  ) {}

  async open(begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle> {
    // A pooled connection may have been closed by a retiring or crashed cleanup; a fresh
    // one may land on a process that is just dying: try a few times before giving up.
    for (let attempt = 0; ; attempt++) {
      const pooled = this.idle.pop();
      const conn =
        pooled && !pooled.closed
          ? pooled
          : await connectIpc(join(this.queueDir, "public", "cleanup"), { timeoutMs: this.timeoutMs });
      try {
        return await this.start(conn, begin);
      } catch (err) {
        conn.destroy();
        if (err instanceof CleanupError || attempt >= 2) throw err;
      }
    }
  }

  /**
   * Connect ahead of the first message (best effort), so that master starts cleanup while
   * this process waits for its first client instead of while a client waits for its 354.
   */
  async prepare(): Promise<void> {
    if (this.idle.length > 0) return;
    try {
      const conn = await connectIpc(join(this.queueDir, "public", "cleanup"), { timeoutMs: this.timeoutMs });
      if (this.idle.length < IDLE_MAX) this.idle.push(conn);
      else conn.close();
    } catch {
      /* open() connects (and reports) when a message needs it */
    }
  }

  close(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
  }

  private async start(conn: IpcConnection, begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle> {
    const reply = await conn.request<CleanupReply>({ op: "begin", ...begin }, this.timeoutMs);
    if (!reply.ok) {
      conn.destroy();
      throw new CleanupError(reply.code, reply.enhanced, reply.text);
    }
    const id = reply.id;
    let done = false;
    const release = () => {
      done = true;
      if (!conn.closed && this.idle.length < IDLE_MAX) this.idle.push(conn);
      else conn.close();
    };
    return {
      id,
      write: (chunk) => conn.sendData(chunk),
      finish: async () => {
        conn.sendEnd();
        const r = await conn.nextMessage<CleanupReply>(this.timeoutMs).catch((err: unknown) => {
          conn.destroy();
          throw new CleanupError(
            451,
            "4.3.0",
            "Error: queue file write error",
            err instanceof Error ? err.message : String(err),
          );
        });
        if (!r.ok) {
          conn.destroy();
          throw new CleanupError(r.code, r.enhanced, r.text);
        }
        release();
        return { id: r.id, messageId: r.messageId ?? "", size: r.size ?? 0, nrcpt: r.nrcpt ?? 0 };
      },
      abort: async () => {
        if (done || conn.closed) return;
        try {
          conn.send({ op: "abort" });
          await conn.nextMessage(this.timeoutMs);
          release();
        } catch {
          conn.destroy();
        }
      },
    };
  }
}
