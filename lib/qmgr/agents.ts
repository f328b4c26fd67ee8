/*
 * agents — qmgr's connections to the delivery agents (local, smtp) over their private
 * sockets. One request is in flight per connection; idle connections are kept for reuse
 * (master hands each new one to the least busy agent process). A request is one
 * recipient of one message; the agent answers with the outcome and logs the delivery.
 */
import { join } from "node:path";
import { IpcPool } from "../ipc/pool.js";

export interface DeliveryRequest {
  op: "deliver";
  queueId: string;
  path: string;
  index: number;
  recipient: string;
  orcpt?: string;
  notify?: string;
  sender: string;
  arrival: number;
  activeTime: number;
  attrs: Record<string, string>;
  contentOffset: number;
  contentLength: number;
}

export interface DeliveryReply {
  status: "sent" | "bounced" | "deferred";
  dsn: string;
  relay: string;
  text: string;
}

export class AgentPool {
  /** Per transport; as many idle connections as were ever busy at once (qmgr's concurrency). */
  private pools = new Map<string, IpcPool>();

  constructor(
    private readonly queueDir: string,
    private readonly timeoutMs: number,
  ) {}

  deliver(transport: string, req: DeliveryRequest): Promise<DeliveryReply> {
    return this.call<DeliveryReply>(transport, req);
  }

  /** One request/reply with the service on private/<transport> (delivery agents, bounce). */
  async call<T>(transport: string, req: unknown): Promise<T> {
    const pool = this.poolOf(transport);
    const conn = await pool.take();
    try {
      const reply = await conn.request<T>(req, this.timeoutMs);
      pool.give(conn);
      return reply;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  closeAll(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private poolOf(transport: string): IpcPool {
    let pool = this.pools.get(transport);
    if (pool === undefined) {
      pool = new IpcPool(join(this.queueDir, "private", transport), this.timeoutMs, {
        keep: Number.POSITIVE_INFINITY,
        max: Number.POSITIVE_INFINITY,
      });
      this.pools.set(transport, pool);
    }
    return pool;
  }
}
