/*
 * agents — qmgr's connections to the delivery agents (local, smtp) over their private
 * sockets. One request is in flight per connection; idle connections are kept for reuse
 * (master hands each new one to the least busy agent process). A request is one
 * recipient of one message; the agent answers with the outcome and logs the delivery.
 */
import { join } from "node:path";
import { connectIpc, type IpcConnection } from "../ipc/index.js";

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
  private idle = new Map<string, IpcConnection[]>();

  constructor(
    private readonly queueDir: string,
    private readonly timeoutMs: number,
  ) {}

  deliver(transport: string, req: DeliveryRequest): Promise<DeliveryReply> {
    return this.call<DeliveryReply>(transport, req);
  }

  /** One request/reply with the service on private/<transport> (delivery agents, bounce). */
  async call<T>(transport: string, req: unknown): Promise<T> {
    const conn = await this.acquire(transport);
    try {
      const reply = await conn.request<T>(req, this.timeoutMs);
      this.release(transport, conn);
      return reply;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  closeAll(): void {
    for (const list of this.idle.values()) for (const c of list) c.close();
    this.idle.clear();
  }

  private async acquire(transport: string): Promise<IpcConnection> {
    const list = this.idle.get(transport);
    while (list && list.length > 0) {
      const c = list.pop();
      if (c && !c.closed) return c;
    }
    return connectIpc(join(this.queueDir, "private", transport), { timeoutMs: this.timeoutMs });
  }

  private release(transport: string, conn: IpcConnection): void {
    if (conn.closed) return;
    const list = this.idle.get(transport) ?? [];
    list.push(conn);
    this.idle.set(transport, list);
  }
}
