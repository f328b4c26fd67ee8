/*
 * client — how smtpd, pickup and bounce hand a message to cleanup: a small pool of
 * connections to queue_directory/public/cleanup, one message at a time per connection.
 * open() returns the queue ID at once (smtpd logs "ID: client=..." before the data);
 * finish() resolves only when cleanup has made the queue file durable.
 */
import { join } from "node:path";
import type { IpcConnection } from "../ipc/index.js";
import { IpcPool } from "../ipc/pool.js";
import type { CleanupBegin, CleanupEnvelope, CleanupReply } from "./protocol.js";

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

/** A queue file opened before its envelope is complete (CleanupClient.openEarly). */
export interface EarlyCleanupHandle {
  readonly id: string;
  /** The envelope is complete (DATA): sends it, no round trip; then as a handle from open(). */
  start(begin: Omit<CleanupBegin, "op">): CleanupHandle;
  /** The transaction was dropped before DATA: cleanup removes the file. */
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
   * smtpd at the first accepted RCPT: have cleanup create the queue file (and its queue ID)
   * now, so that DATA need not wait for it; the envelope follows with start().
   */
  async openEarly(): Promise<EarlyCleanupHandle> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.pool.take();
      try {
        const reply = await conn.request<CleanupReply>({ op: "open" }, this.timeoutMs);
        if (!reply.ok) throw new CleanupError(reply.code, reply.enhanced, reply.text);
        return this.early(conn, reply.id);
      } catch (err) {
        conn.destroy();
        if (err instanceof CleanupError || attempt >= 2) throw err;
      }
    }
  }

  private early(conn: IpcConnection, id: string): EarlyCleanupHandle {
    let used = false;
    return {
      id,
      start: (begin) => {
        if (used) throw new Error(`cleanup ${id}: started after abort or twice`);
        used = true;
        // Corked: the envelope leaves with the first content (for most messages the whole
        // content and its end), one write and one wake-up of cleanup instead of two.
        conn.socket.cork();
        try {
          conn.send({ op: "envelope", ...begin } satisfies CleanupEnvelope);
        } catch (err) {
          conn.socket.uncork();
          throw err;
        }
        return this.handle(conn, id, () => conn.socket.uncork());
      },
      abort: async () => {
        if (used || conn.closed) return;
        used = true;
        try {
          conn.send({ op: "abort" });
          await conn.nextMessage(this.timeoutMs);
          this.pool.give(conn);
        } catch {
          conn.destroy();
        }
      },
    };
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
          await conn.nextMessage(this.timeoutMs);
          release();
        } catch {
          conn.destroy();
        }
      },
    };
  }
}
