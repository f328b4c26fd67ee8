/*
 * pool — idle connections to one postern service socket, reused request after request
 * (smtpd and the login processes to auth, smtpd, pickup and bounce to cleanup), like
 * Postfix's clients that keep their connections to proxymap and trivial-rewrite.
 *
 * How many stay open: as many as were in use at once, so a burst of 50 sessions does not
 * open a new connection (through master, counted against the service's max_use) for every
 * message beyond the few kept. A pool keeps `keep` idle connections however long they wait;
 * those beyond it close after IDLE_MS unused (Postfix's ipc_idle, 5 s), so that a service's
 * worker whose clients went quiet can become idle and exit. Connections are taken
 * last-in first-out: the most recently used ones serve, the oldest age out.
 * Talks to: the service socket at `path` (lib/ipc framing).
 */
import { connectIpc, type IpcConnection } from "./index.js";

/** Postfix's ipc_idle default: how long a connection beyond `keep` may wait unused. */
const IDLE_MS = 5000;

export interface IpcPoolLimits {
  /** Idle connections kept however long they wait (default 8). */
  readonly keep?: number;
  /** Idle connections kept at most; more are closed when given back (default 256). */
  readonly max?: number;
  /** How long a connection beyond `keep` may stay idle (default IDLE_MS). */
  readonly idleMs?: number;
}

interface Idle {
  readonly conn: IpcConnection;
  readonly since: number;
}

export class IpcPool {
  /** Oldest first: take() pops the newest, prune() closes from the front. */
  private idle: Idle[] = [];
  private readonly keep: number;
  private readonly max: number;
  private readonly idleMs: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly timeoutMs: number,
    limits: IpcPoolLimits = {},
  ) {
    this.keep = limits.keep ?? 8;
    this.max = Math.max(this.keep, limits.max ?? 256);
    this.idleMs = limits.idleMs ?? IDLE_MS;
  }

  /** Idle connections now held (for tests and diagnostics). */
  get size(): number {
    return this.idle.length;
  }

  /** An idle connection still open, else a new one (rejects when the service is unreachable). */
  take(): Promise<IpcConnection> {
    for (let e = this.idle.pop(); e !== undefined; e = this.idle.pop()) {
      if (!e.conn.closed) return Promise.resolve(e.conn);
    }
    return connectIpc(this.path, { timeoutMs: this.timeoutMs });
  }

  /** Keep a connection whose exchange is complete, for the next request. */
  give(conn: IpcConnection): void {
    if (conn.closed || this.idle.length >= this.max) {
      conn.close();
      return;
    }
    this.idle.push({ conn, since: Date.now() });
    if (this.idle.length > this.keep) this.schedulePrune(this.idleMs);
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
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const e of this.idle) e.conn.close();
    this.idle = [];
  }

  private schedulePrune(delayMs: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.prune();
    }, delayMs);
    this.timer.unref();
  }

  /** Close the connections beyond `keep` that waited idleMs; look again when the next one would. */
  private prune(): void {
    const expired = Date.now() - this.idleMs;
    this.idle = this.idle.filter((e) => !e.conn.closed);
    while (this.idle.length > this.keep && (this.idle[0] as Idle).since <= expired) {
      (this.idle.shift() as Idle).conn.close();
    }
    const oldest = this.idle[0];
    if (this.idle.length > this.keep && oldest !== undefined)
      this.schedulePrune(Math.max(1, oldest.since + this.idleMs - Date.now()));
  }
}
