/*
 * pool-options — what a pool (lib/master/pool.ts) is built with and the passed-session
 * types it shares with master.ts.
 */
import type { Socket } from "node:net";
import type { Logger } from "../log/index.js";
import type { LoginHandoff } from "../login/handoff.js";
import type { ClientLimit } from "./client-counts.js";
import type { Lendable } from "./listeners.js";
import type { Pool } from "./pool.js";
import type { MasterToWorker, WorkerToMaster } from "./protocol.js";
import type { ForkOptions } from "./worker-process.js";

/** A login worker's "pass" message, as the pool received it. */
export type PassRequest = Extract<WorkerToMaster, { t: "pass" }>;

/** A passed client session waiting for (or given to) a mail worker. */
export interface PassedSession {
  handoff: LoginHandoff;
  /** The socket went to the mail worker with this pid. */
  onSent(pid: number): void;
  /** The socket was dropped before any mail worker took it. */
  onFailed(reason: string): void;
}

export interface PoolOptions extends ForkOptions {
  /** A worker asked to wake the trigger service of that name. Absent: ignored. */
  onTrigger?: (service: string, data: string) => void;
  connectionLimit: number;
  /** max_use of this service: sessions per worker. */
  maxUse: number;
  throttleMs: number;
  /** Long-running services (those with a wakeup timer) are started at once and restarted when they die. */
  keepAlive: boolean;
  log: Logger;
  /** Concurrent connections one client IP may have to this service, and what it is told beyond that. */
  clientLimit?: ClientLimit;
  /** The service's listening sockets a lone worker may accept on itself; absent: never lent. */
  lendable?: () => readonly Lendable[];
  /**
   * A worker asked to pass a socket on; `reply` answers that worker. Absent: refused.
   * `from` is this pool, for the per-IP count the session keeps (retainClient).
   */
  onPass?: (
    from: Pool,
    m: PassRequest,
    socket: Socket | undefined,
    reply: (m: MasterToWorker, socket?: Socket) => void,
  ) => void;
}
