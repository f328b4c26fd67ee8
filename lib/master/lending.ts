/*
 * lending — a pool's listening sockets lent to its lone worker (lib/master/listeners.ts has
 * the sockets' side, lib/master/protocol.ts the messages): when to lend, sending the handle
 * with the bounds the worker keeps to, taking the worker's duplicate, and taking the sockets
 * back. The pool calls these; the per-IP counts and the successor stay with it.
 */
import type { SendHandle } from "node:child_process";
import type { Lendable } from "./listeners.js";
import { acceptOwnUntil, type MasterToWorker, type RawHandle } from "./protocol.js";
import type { WorkerState } from "./worker-process.js";

export interface LendingOptions {
  lendable?: () => readonly Lendable[];
  connectionLimit: number;
  maxUse: number;
}

/**
 * Lend the listening sockets to the pool's only worker when it is ready and has room for
 * more sessions than master would give it: a second worker means master spreads the load.
 */
export function offerListeners(workers: ReadonlySet<WorkerState>, o: LendingOptions): void {
  const lendable = o.lendable?.();
  if (!lendable || lendable.length === 0 || workers.size !== 1) return;
  const [w] = workers;
  if (!w?.ready || w.retiring || w.stopping || w.borrowing || !w.child.connected) return;
  const maxServed = acceptOwnUntil(o.maxUse);
  if (w.load >= o.connectionLimit || w.served >= maxServed) return;
  for (const l of lendable) {
    const handle = l.lend(w);
    if (handle === undefined) continue;
    w.borrowing = true;
    const m: MasterToWorker = { t: "listen", listener: l.address, maxActive: o.connectionLimit, maxServed };
    try {
      // child_process sends a raw libuv handle as "net.Native"; its types know only sockets and servers
      w.child.send(m, handle as unknown as SendHandle, (err) => {
        if (err) l.reclaim(w);
      });
    } catch {
      l.reclaim(w);
    }
  }
}

/** The worker listens and sent its descriptor: master keeps it (or closes it if too late). */
export function takeDuplicate(
  w: WorkerState,
  o: LendingOptions,
  address: string,
  duplicate: RawHandle | undefined,
  alive: boolean,
): void {
  if (duplicate === undefined) return;
  const l = o.lendable?.().find((x) => x.address === address);
  if (l === undefined || !alive) duplicate.close();
  else l.lent(w, duplicate);
}

/** Master polls the worker's borrowed sockets again. */
export function reclaimFrom(w: WorkerState, o: LendingOptions): void {
  if (!w.borrowing) return;
  w.borrowing = false;
  for (const l of o.lendable?.() ?? []) l.reclaim(w);
}
