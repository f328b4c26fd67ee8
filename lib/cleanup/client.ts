/*
 * client — how smtpd, pickup and bounce hand a message to cleanup: a small pool of
 * connections to queue_directory/public/cleanup, one message at a time per connection.
 * open() returns the queue ID at once (smtpd logs "ID: client=..." before the data);
 * finish() resolves only when cleanup has made the queue file durable.
 */
import { join } from "node:path";
import type { IpcConnection } from "../ipc/index.js";
import { IpcPool } from "../ipc/pool.js";
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

export class CleanupClient {
  private readonly pool: IpcPool;

  constructor(
    queueDir: string,
    private readonly timeoutMs: number,
  ) {
    this.pool = new IpcPool(join(queueDir, "public", "cleanup"), timeoutMs);
  }

  async open(begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle> {
    // A pooled connection may have been closed by a retiring or crashed cleanup; a fresh
    // one may land on a process that is just dying: try a few times before giving up.
    for (let attempt = 0; ; attempt++) {
      const conn = await this.pool.take();
      try {
        return await this.start(conn, begin);
      } catch (err) {
        conn.destroy();
        if (err instanceof CleanupError || attempt >= 2) throw err;
      }
    }
  }

  /** Connect ahead of the first message, so no client waits for cleanup to start (IpcPool.prepare). */
  prepare(): Promise<void> {
    return this.pool.prepare();
  }

  close(): void {
    this.pool.close();
  }

  private async start(conn: IpcConnection, begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle> {
    const reply = await conn.request<CleanupReply>({ op: "begin", ...begin }, this.timeoutMs);
    if (!reply.ok) {
      conn.destroy();
      throw new CleanupError(reply.code, reply.enhanced, reply.text);
    }
    const id = reply.id;
    let done = false;
    // The latest chunk is held back until the next one or the end, so that the last chunk
    // and the end of the body leave in one write (for most messages: the whole content).
    let held: Buffer | undefined;
    const release = () => {
      done = true;
      this.pool.give(conn);
    };
    return {
      id,
      write: (chunk) => {
        // A connection that has failed already rejects the write, as an unheld write would.
        if (conn.closed) return conn.sendData(chunk);
        const previous = held;
        held = chunk;
        return previous === undefined ? Promise.resolve() : conn.sendData(previous);
      },
      finish: async () => {
        const last = held;
        held = undefined;
        const sent = last === undefined ? conn.sendEnd() : conn.sendLastData(last);
        const r = await (sent ?? Promise.resolve())
          .then(() => conn.nextMessage<CleanupReply>(this.timeoutMs))
          .catch((err: unknown) => {
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
