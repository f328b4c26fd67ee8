/*
 * verify-worker — the worker_threads side of the password verification pool: receives
 * { id, op, ... } messages, runs scheme-core in this thread, posts { id, ok } or
 * { id, error } back. One job at a time per worker (the pool never sends more).
 * Talks to: its parent thread only. Security: never echoes passwords; errors are reduced
 * to their message.
 */
import { parentPort } from "node:worker_threads";
import { type HashOptions, type HashScheme, hashInThread, verifyInThread } from "./scheme-core.js";

export type PoolRequest =
  | { id: number; op: "verify"; stored: string; plain: string }
  | { id: number; op: "hash"; plain: string; scheme: HashScheme; opts: HashOptions };

export type PoolResponse =
  | { id: number; ok: true; value: boolean | string }
  | { id: number; ok: false; error: string };

async function handle(req: PoolRequest): Promise<PoolResponse> {
  try {
    const value =
      req.op === "verify"
        ? await verifyInThread(req.stored, req.plain)
        : await hashInThread(req.plain, req.scheme, req.opts);
    return { id: req.id, ok: true, value };
  } catch (err: unknown) {
    return { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

parentPort?.on("message", (req: PoolRequest) => {
  void handle(req).then((res) => parentPort?.postMessage(res));
});
