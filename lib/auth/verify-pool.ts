/*
 * verify-pool — a small worker_threads pool for the slow password schemes.
 *
 * Why: SHA-crypt is synchronous (5000 hash rounds, ~3–10 ms per verify) and
 * hash-wasm's Argon2id runs synchronously inside WebAssembly (~100–500 ms with Dovecot's
 * m=64 MiB); on the auth process's event loop either would stall every other login.
 * Workers are started lazily, at most `size` of them, and are unref'd while idle so a
 * process with nothing else to do can exit. A worker that dies fails its job and is
 * replaced on the next one.
 * Talks to: verify-worker.js threads. Security: passwords cross a thread boundary only
 * (structured clone in-process), never a socket or a log.
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { HashOptions, HashScheme } from "./scheme-core.js";
import type { PoolRequest, PoolResponse } from "./verify-worker.js";

type Job = { req: PoolRequest; resolve: (v: boolean | string) => void; reject: (e: Error) => void };
type Slot = { worker: Worker; job: Job | undefined };

const WORKER_URL = new URL("./verify-worker.js", import.meta.url);

export class VerifyPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;

  constructor(private readonly size = Math.max(1, Math.min(4, availableParallelism() - 1))) {}

  verify(stored: string, plain: string): Promise<boolean> {
    return this.run({ id: this.nextId++, op: "verify", stored, plain }) as Promise<boolean>;
  }

  hash(plain: string, scheme: HashScheme, opts: HashOptions = {}): Promise<string> {
    return this.run({ id: this.nextId++, op: "hash", plain, scheme, opts }) as Promise<string>;
  }

  /** Terminate every worker (tests, daemon shutdown). Pending jobs are rejected. */
  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    for (const job of this.waiting.splice(0)) job.reject(new Error("verify pool closed"));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private run(req: PoolRequest): Promise<boolean | string> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ req, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const slot = this.slots.find((s) => s.job === undefined) ?? this.spawn();
      if (slot === undefined) return;
      const job = this.waiting.shift() as Job;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage(job.req);
    }
  }

  private spawn(): Slot | undefined {
    if (this.slots.length >= this.size) return undefined;
    const slot: Slot = { worker: new Worker(WORKER_URL), job: undefined };
    slot.worker.on("message", (res: PoolResponse) => this.finish(slot, res));
    slot.worker.on("error", (err) => this.fail(slot, err));
    slot.worker.on("exit", () => this.fail(slot, new Error("verify worker exited")));
    this.slots.push(slot);
    return slot;
  }

  private finish(slot: Slot, res: PoolResponse): void {
    const job = slot.job;
    slot.job = undefined;
    slot.worker.unref();
    if (job !== undefined && job.req.id === res.id) {
      if (res.ok) job.resolve(res.value);
      else job.reject(new Error(res.error));
    }
    this.dispatch();
  }

  private fail(slot: Slot, err: Error): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    slot.job?.reject(err);
    slot.job = undefined;
    this.dispatch();
  }
}
