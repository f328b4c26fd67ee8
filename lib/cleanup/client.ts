/*
 * client — how smtpd, pickup and bounce hand a message to cleanup: a small pool of
 * connections to queue_directory/public/cleanup, one message at a time per connection.
 * open() returns the queue ID at once (pickup, bounce); smtpd makes the ID itself and
 * sends envelope and content together (stream()). finish() resolves only when cleanup has
 * made the queue file durable.
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

  /**
   * smtpd: the message under a queue ID it made itself (newQueueId) at the first accepted
   * RCPT. Nothing waits for cleanup here: begin leaves with the first content (corked), and
   * finish() has cleanup's only answer (a failure to create the file included).
   */
  async stream(id: string, begin: Omit<CleanupBegin, "op" | "id">): Promise<CleanupHandle> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.pool.take();
      conn.socket.cork();
      try {
        conn.send({ op: "begin", id, ...begin } satisfies CleanupBegin);
      } catch (err) {
        // Closed since it was pooled: take another (a new one the second time).
        conn.socket.uncork();
        conn.destroy();
        if (attempt >= 1) throw err;
        continue;
      }
      return this.handle(conn, id, () => conn.socket.uncork());
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
    return this.handle(conn, reply.id);
  }

  /** The content half of a message on conn, once cleanup has its envelope. */
  private handle(conn: IpcConnection, id: string, uncork?: () => void): CleanupHandle {
    let done = false;
    let corked = uncork;
    /** After the first send: let the corked envelope and that send go out together. */
    const flush = () => {
      const u = corked;
      corked = undefined;
      u?.();
    };
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
        if (previous === undefined) return Promise.resolve();
        try {
          return conn.sendData(previous); // its first frame is written before this returns
        } finally {
          flush(); // before anything waits for 'drain'
        }
      },
      finish: async () => {
        const last = held;
        held = undefined;
        let sent: Promise<void> | undefined | void;
        try {
          sent = last === undefined ? conn.sendEnd() : conn.sendLastData(last);
        } finally {
          flush();
        }
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
        flush();
        if (done || conn.closed) return;
        try {
          conn.send({ op: "abort" });
          // A failure instead (the file could not be created, after stream()): cleanup closes.
          const r = await conn.nextMessage<CleanupReply>(this.timeoutMs);
          if (!r.ok) throw new Error(r.text);
          release();
        } catch {
          conn.destroy();
        }
      },
    };
  }
}
