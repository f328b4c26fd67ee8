/*
 * pool — the worker processes of one master.cf service.
 *
 * Workers are forked on demand (first connection or wake-up) up to maxproc. Each handles
 * many connections; master gives a new connection to the least-loaded worker, and starts
 * another only when every worker already holds worker_connection_limit connections.
 * A worker that dies abnormally is logged as Postfix does ("process ... pid N killed by
 * signal 9"); one that keeps dying right after start throttles the service for
 * service_throttle_time instead of feeding a spawn storm; connections that arrive meanwhile
 * wait (as they would in the kernel's listen queue for Postfix). When master runs as root,
 * workers are forked with the uid/gid of their service (lib/master/identity).
 * A login worker may pass a client socket back ("pass"): the login service's pool hands the
 * message to master (onPass), and the mail service's pool places the socket like any
 * connection (dispatchPassed), with the session in the "conn" message. Master does not read
 * such a socket (lib/io/stop-reading.ts): what the client sends meanwhile waits in the kernel.
 * Master counts the sessions it gives each worker: one that has had max_use gets no more
 * (a root POP3/IMAP process that switched to one user must never get another user's
 * session), and shortly before that, when no other worker could take its clients, its
 * successor is started, because a Node process takes a few hundred milliseconds to start
 * and clients would otherwise wait through that every max_use sessions.
 * A service with lendable listeners (inet, no login hand-off) whose only worker has room gets
 * its listening sockets lent: the worker accepts on them itself, and master hears from it
 * again only when it is full, near max_use, retiring or gone (lib/master/protocol.ts).
 * Beside it: worker-process.ts (one worker: fork, send, stop), lending.ts (the lent sockets),
 * client-counts.ts (sessions per client IP), pool-options.ts (its options and types).
 */
import type { Socket } from "node:net";
import { stopReading } from "../io/stop-reading.js";
import { ClientCounts, clientIp, refuseOverLimit } from "./client-counts.js";
import { offerListeners, reclaimFrom, takeDuplicate } from "./lending.js";
import type { PassedSession, PassRequest, PoolOptions } from "./pool-options.js";
import {
  acceptOwnUntil,
  isRawHandle,
  isWorkerToMaster,
  type MasterToWorker,
  type WorkerToMaster,
} from "./protocol.js";
import {
  forkWorker,
  isSocket,
  sendConnection,
  sendTo,
  shareClient,
  signalNumber,
  stopWorker,
  takeUnsent,
  type WorkerState,
} from "./worker-process.js";

const PENDING_LIMIT = 1000;
const EARLY_DEATH_MS = 2000;

export class Pool {
  private workers = new Set<WorkerState>();
  private pending: { socket: Socket; listener: string }[] = [];
  private throttledUntil = 0;
  private throttleTimer: NodeJS.Timeout | undefined;
  private earlyDeaths = 0;
  private closed = false;
  private wakeupPending = "";
  private counts = new ClientCounts();
  private ipOf = new WeakMap<Socket, string>();
  private sent = new WeakSet<Socket>();
  private passed = new WeakMap<Socket, PassedSession>();

  constructor(readonly opts: PoolOptions) {}

  get name(): string {
    return this.opts.service.key;
  }

  get size(): number {
    return this.workers.size;
  }

  pids(): number[] {
    return [...this.workers].map((w) => w.child.pid ?? 0).filter((p) => p > 0);
  }

  /** Hand a connection to a worker (starting one if needed). */
  dispatch(socket: Socket, listener: string): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (!this.admit(socket)) return;
    this.place(socket, listener);
  }

  /**
   * A client socket a login worker passed on, with its session. `client` keeps the login
   * service's per-IP count until the mail session ends (release is called then).
   */
  dispatchPassed(
    socket: Socket,
    listener: string,
    session: PassedSession,
    client?: { ip: string; release: () => void },
  ): void {
    socket.on("error", () => undefined);
    // Master must not half-close the client's socket if it reads the client's EOF.
    socket.allowHalfOpen = true;
    this.passed.set(socket, session);
    if (client !== undefined) {
      // the login pool's count, released as the passed session ends
      this.counts.add(client.ip, 1, client.release);
      this.ipOf.set(socket, client.ip);
    }
    socket.once("close", () => {
      if (this.sent.has(socket)) return;
      this.release(socket);
      this.passed.get(socket)?.onFailed("the connection was closed before a mail process took it");
      this.passed.delete(socket);
    });
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.place(socket, listener);
  }

  /** Count one more session of this IP (a session passed on from this login service). */
  retainClient(ip: string): boolean {
    if (!this.opts.clientLimit) return false;
    this.counts.add(ip);
    return true;
  }

  releaseClient(ip: string): void {
    this.counts.remove(ip);
  }

  private place(socket: Socket, listener: string): void {
    const w = this.pick();
    if (!w) {
      if (this.pending.length >= PENDING_LIMIT) socket.destroy();
      else this.pending.push({ socket, listener });
      return;
    }
    this.handOver(w, socket, listener);
  }

  /** Wake the service; data is the trigger's request letters (Postfix: I, D, F, A). */
  wakeup(data = ""): void {
    if (this.closed) return;
    const w = this.pick(true);
    if (w) sendTo(w, { t: "wakeup", data });
    else this.wakeupPending += data || " ";
  }

  startIfKeepAlive(): void {
    if (this.opts.keepAlive && this.workers.size === 0) this.spawn();
  }

  broadcast(m: MasterToWorker): void {
    for (const w of this.workers) sendTo(w, m);
  }

  /** Ask every worker to finish its sessions and exit; resolves when all are gone. */
  stop(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    for (const p of this.pending) p.socket.destroy();
    this.pending = [];
    for (const w of this.workers) reclaimFrom(w, this.opts);
    const exits = [...this.workers].map((w) => stopWorker(w, timeoutMs));
    return Promise.all(exits).then(() => undefined);
  }

  /** Kill every worker at once (postern abort). */
  kill(): void {
    this.closed = true;
    for (const w of this.workers) {
      reclaimFrom(w, this.opts);
      w.child.kill("SIGKILL");
    }
  }

  private pick(forWakeup = false): WorkerState | undefined {
    // A ready worker first: one still starting would make the client wait for it.
    let best: WorkerState | undefined;
    let starting: WorkerState | undefined;
    for (const w of this.workers) {
      if (w.retiring || w.stopping || w.served >= this.opts.maxUse) continue;
      if (!w.ready) {
        if (!starting || w.load < starting.load) starting = w;
      } else if (!best || w.load < best.load) best = w;
    }
    const limit = this.opts.connectionLimit;
    if (forWakeup && (best ?? starting)) return best ?? starting;
    if (best && best.load < limit) return best;
    if (starting && starting.load < limit) return starting;
    if (this.canGrow()) return this.spawn();
    return best ?? starting;
  }

  /**
   * Pass the socket to a worker. A worker that died a moment ago may still be in the pool
   * until its exit event: then the connection goes to another worker instead of being lost.
   */
  private handOver(w: WorkerState, socket: Socket, listener: string, attempt = 0): void {
    w.load++;
    w.served++;
    this.startSuccessorAhead(w);
    if (!w.ready) {
      w.held.push({ msg: { t: "conn", listener }, socket, listener });
      return;
    }
    const ip = this.ipOf.get(socket);
    const session = this.passed.get(socket);
    const msg: MasterToWorker = {
      t: "conn",
      listener,
      ...(ip !== undefined ? { ip } : {}),
      ...(session !== undefined ? { handoff: session.handoff } : {}),
    };
    const retry = () => {
      w.retiring = true;
      if (attempt >= 3 || socket.destroyed) {
        this.release(socket);
        socket.destroy();
        return;
      }
      const next = this.pick();
      if (next) this.handOver(next, socket, listener, attempt + 1);
      else this.pending.push({ socket, listener });
    };
    try {
      if (!w.child.connected) {
        retry();
        return;
      }
      // Counted as the worker's before sending: the close of master's copy once the descriptor
      // is written (sendConnection) must not release the client's count as an unsent one's would.
      this.sent.add(socket);
      shareClient(w, ip, 1);
      sendConnection(w, msg, socket, listener, (err) => {
        if (!err) {
          session?.onSent(w.child.pid ?? 0);
          return;
        }
        this.sent.delete(socket);
        shareClient(w, ip, -1);
        retry();
      });
    } catch {
      this.sent.delete(socket);
      shareClient(w, ip, -1);
      retry();
    }
  }

  private spawn(): WorkerState | undefined {
    let w: WorkerState;
    try {
      w = forkWorker(this.opts);
    } catch (err) {
      this.opts.log.warning(`${this.opts.program}: cannot start: ${String(err)}`);
      this.throttle();
      return undefined;
    }
    const child = w.child;
    this.workers.add(w);
    child.on("message", (m: unknown, handle: unknown) => this.onWorkerMessage(w, m, handle));
    child.on("exit", (code, signal) => this.onExit(w, code, signal));
    child.on("error", () => undefined);
    if (this.wakeupPending) {
      sendTo(w, { t: "wakeup", data: this.wakeupPending.trim() });
      this.wakeupPending = "";
    }
    return w;
  }

  private onWorkerMessage(w: WorkerState, m: unknown, handle: unknown): void {
    const socket = isSocket(handle) ? handle : undefined;
    // A client socket passed on (login → mail worker) is read only by its next holder: master
    // stops reading it before its first poll, so nothing it could read is lost on the way.
    if (socket) stopReading(socket);
    const raw = socket === undefined && isRawHandle(handle) ? handle : undefined;
    if (!isWorkerToMaster(m)) {
      raw?.close();
      return void socket?.destroy();
    }
    if (m.t === "pass") this.onPassRequest(w, m, socket);
    else if (m.t === "listening") takeDuplicate(w, this.opts, m.listener, raw, this.workers.has(w));
    else if (socket) socket.destroy();
    else if (raw) raw.close();
    else if (m.t === "load") w.load = m.n;
    else if (m.t === "closed") {
      if (m.ip !== undefined) this.sessionEnded(w, m.ip, 1);
      w.load = m.n;
      if (w.load <= this.opts.connectionLimit / 2) this.maybeLend();
    } else if (m.t === "unlisten") this.onUnlisten(w, m);
    else if (m.t === "trigger") this.opts.onTrigger?.(m.service, m.data);
    else if (m.t === "retire") {
      w.retiring = true;
      reclaimFrom(w, this.opts);
      sendTo(w, { t: "retire-ok" });
    } else if (m.t === "ready") {
      this.earlyDeaths = 0;
      w.ready = true;
      const held = w.held;
      w.held = [];
      for (const h of held) {
        if (h.socket && h.listener !== undefined) {
          w.load--;
          w.served--;
          this.handOver(w, h.socket, h.listener);
        } else sendTo(w, h.msg);
      }
      this.maybeLend();
    }
  }

  private maybeLend(): void {
    if (!this.closed && this.pending.length === 0) offerListeners(this.workers, this.opts);
  }

  /** The worker stopped accepting: master counts its open sessions and polls again. */
  private onUnlisten(w: WorkerState, m: Extract<WorkerToMaster, { t: "unlisten" }>): void {
    reclaimFrom(w, this.opts);
    w.load = m.n;
    w.served = Math.max(w.served, m.served);
    if (this.opts.clientLimit && Array.isArray(m.clients)) {
      for (const [ip, n] of m.clients) {
        if (typeof ip !== "string" || !Number.isInteger(n) || n <= 0) continue;
        shareClient(w, ip, n);
        this.counts.add(ip, n);
      }
    }
    this.startSuccessorAhead(w);
  }

  /**
   * A worker near its max_use whose clients no other worker could take: start the one that
   * will replace it now, so it is ready when this one stops taking sessions. For a max_use
   * of 10 or more, and for one-session services (max_use 1: pop3 and imap running as each
   * user), where the next login would otherwise wait ~0.2 s for a Node process to start; a
   * successor nobody uses exits after max_idle. Services with a max_use of 2 to 9 start
   * workers on demand.
   */
  private startSuccessorAhead(w: WorkerState): void {
    const maxUse = this.opts.maxUse;
    const nearlyUsed = acceptOwnUntil(maxUse);
    if ((maxUse < 10 && maxUse !== 1) || w.served < nearlyUsed || this.closed || !this.canGrow()) return;
    for (const o of this.workers) if (o !== w && !o.retiring && !o.stopping && o.served < nearlyUsed) return;
    this.spawn();
  }

  private canGrow(): boolean {
    const max = this.opts.service.maxproc;
    return (max === 0 || this.workers.size < max) && Date.now() >= this.throttledUntil;
  }

  private onPassRequest(w: WorkerState, m: PassRequest, socket: Socket | undefined): void {
    socket?.on("error", () => undefined);
    const reply = (r: MasterToWorker, back?: Socket) => {
      try {
        if (!w.child.connected) return void back?.destroy();
        // Master's copy closes once the descriptor is written (as in sendConnection): a login
        // worker that dies before reading its channel then takes the client's connection along.
        if (back) w.child.send(r, back, { keepOpen: true }, () => back.destroy());
        else w.child.send(r);
      } catch {
        back?.destroy();
      }
    };
    if (this.opts.onPass) {
      this.opts.onPass(this, m, socket, reply);
      return;
    }
    this.opts.log.warning(
      `${this.opts.program} pid ${w.child.pid ?? 0}: passing a connection is not allowed for service ${this.opts.service.name}`,
    );
    socket?.destroy();
  }

  private onExit(w: WorkerState, code: number | null, signal: NodeJS.Signals | null): void {
    this.workers.delete(w);
    reclaimFrom(w, this.opts);
    // Connections held for a worker that died before it was ready go to another one, and so
    // do those Node still had queued for it (takeUnsent): they never left master, and keep
    // their client's count (taken once, when master accepted them).
    for (const h of w.held)
      if (h.socket && h.listener !== undefined) this.pending.push({ socket: h.socket, listener: h.listener });
    w.held = [];
    for (const p of takeUnsent(w)) {
      this.sent.delete(p.socket);
      shareClient(w, this.ipOf.get(p.socket), -1);
      this.pending.push(p);
    }
    for (const [ip, n] of w.clients) this.sessionEnded(w, ip, n);
    const expected = w.stopping || (w.retiring && code === 0);
    if (!expected) {
      const pid = w.child.pid ?? 0;
      if (signal)
        this.opts.log.warning(
          `process ${this.opts.program} pid ${pid} killed by signal ${signalNumber(signal)}`,
        );
      else this.opts.log.warning(`process ${this.opts.program} pid ${pid} exit status ${code ?? 0}`);
      if (Date.now() - w.started < EARLY_DEATH_MS && !signal) {
        this.earlyDeaths++;
        if (this.earlyDeaths >= 2) this.throttle();
      }
    }
    if (this.closed) return;
    if (this.pending.length > 0 && Date.now() >= this.throttledUntil) this.drainPending();
    // A long-running worker that retired normally comes back on its next wake-up.
    else if (this.opts.keepAlive && !expected && Date.now() >= this.throttledUntil) this.spawn();
    this.maybeLend();
  }

  /**
   * Per-client concurrency (smtpd_client_connection_count_limit for smtpd): master sees
   * every connection of a service, so it counts them across all its workers, as Postfix's
   * anvil does. A client over the limit gets the service's refusal and is closed.
   */
  private admit(socket: Socket): boolean {
    const limit = this.opts.clientLimit;
    if (!limit) return true;
    const ip = clientIp(socket);
    const warn = (text: string) => this.opts.log.warning(text);
    if (refuseOverLimit(socket, limit, ip, this.counts.of(ip) + 1, this.opts.service.name, warn))
      return false;
    this.counts.add(ip);
    this.ipOf.set(socket, ip);
    socket.once("close", () => {
      // Closed before any worker took it (e.g. dropped while throttled): release its count.
      if (this.ipOf.get(socket) !== undefined && !this.sent.has(socket)) this.release(socket);
    });
    return true;
  }

  private release(socket: Socket): void {
    const ip = this.ipOf.get(socket);
    if (ip === undefined) return;
    this.ipOf.delete(socket);
    this.counts.remove(ip);
  }

  private sessionEnded(w: WorkerState, ip: string, n: number): void {
    const take = Math.min(w.clients.get(ip) ?? 0, n);
    if (take <= 0) return;
    shareClient(w, ip, -take);
    this.counts.remove(ip, take);
  }

  private throttle(): void {
    this.opts.log.warning(`${this.opts.program}: bad command startup -- throttling`);
    this.throttledUntil = Date.now() + this.opts.throttleMs;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    this.throttleTimer = setTimeout(() => {
      this.throttledUntil = 0;
      this.earlyDeaths = 0;
      this.drainPending();
      this.startIfKeepAlive();
    }, this.opts.throttleMs);
    this.throttleTimer.unref();
  }

  /** Place the waiting connections; they were admitted (counted) when master accepted them. */
  private drainPending(): void {
    const queued = this.pending;
    this.pending = [];
    for (const p of queued) {
      if (p.socket.destroyed) continue;
      if (this.closed) p.socket.destroy();
      else this.place(p.socket, p.listener);
    }
  }
}
