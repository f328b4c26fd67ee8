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
 * connection (dispatchPassed), with the session in the "conn" message. Bytes master's copy
 * of such a socket read meanwhile are added to the session's pipelined input, so none is lost.
 * Master counts the sessions it gives each worker: one that has had max_use gets no more
 * (a root POP3/IMAP process that switched to one user must never get another user's
 * session), and shortly before that, when no other worker could take its clients, its
 * successor is started, because a Node process takes a few hundred milliseconds to start
 * and clients would otherwise wait through that every max_use sessions.
 * A service with lendable listeners (inet, no login hand-off) whose only worker has room gets
 * its listening sockets lent: the worker accepts on them itself, and master hears from it
 * again only when it is full, near max_use, retiring or gone (lib/master/protocol.ts).
 */
import { type ChildProcess, fork, type SendHandle } from "node:child_process";
import type { Socket } from "node:net";
import type { MasterService } from "../config/index.js";
import type { Logger } from "../log/index.js";
import type { LoginHandoff } from "../login/handoff.js";
import type { Lendable, RawHandle } from "./listeners.js";
import {
  acceptOwnUntil,
  type ClientLimit,
  clientIp,
  formatWorkerArgs,
  isWorkerToMaster,
  type MasterToWorker,
  type WorkerToMaster,
} from "./protocol.js";

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

export interface PoolOptions {
  /** A worker asked to wake the trigger service of that name. Absent: ignored. */
  onTrigger?: (service: string, data: string) => void;
  service: MasterService;
  program: string;
  configDir: string;
  verbose: boolean;
  connectionLimit: number;
  /** max_use of this service: sessions per worker. */
  maxUse: number;
  throttleMs: number;
  /** Long-running services (those with a wakeup timer) are started at once and restarted when they die. */
  keepAlive: boolean;
  log: Logger;
  /** The uid/gid to start workers with (lib/master/identity); absent: master's own. */
  runAs?: { uid: number; gid: number };
  /** Node flags for every worker (lib/master/confine: a chroot = y service's confinement). */
  execArgv?: string[];
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

interface WorkerState {
  child: ChildProcess;
  load: number;
  retiring: boolean;
  started: number;
  stopping: boolean;
  /** Until the worker says "ready" its message listener may not exist yet: hold what we send. */
  ready: boolean;
  held: { msg: MasterToWorker; socket?: Socket; listener?: string }[];
  /** Open sessions per client IP, so a worker's death releases its share of the counts. */
  clients: Map<string, number>;
  /** Sessions master gave it; at maxUse it gets no more. */
  served: number;
  /** Holds (or is being sent) the service's listening sockets. */
  borrowing: boolean;
}

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
  private perIp = new Map<string, number>();
  private ipOf = new WeakMap<Socket, string>();
  private sent = new WeakSet<Socket>();
  private passed = new WeakMap<Socket, PassedSession>();
  /** Per IP, what to call as passed sessions from that IP end (the login pool's count). */
  private releasers = new Map<string, (() => void)[]>();

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
      this.perIp.set(client.ip, (this.perIp.get(client.ip) ?? 0) + 1);
      this.ipOf.set(socket, client.ip);
      const list = this.releasers.get(client.ip) ?? [];
      list.push(client.release);
      this.releasers.set(client.ip, list);
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
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    return true;
  }

  releaseClient(ip: string): void {
    this.decrement(ip, 1);
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
    if (w) this.send(w, { t: "wakeup", data });
    else this.wakeupPending += data || " ";
  }

  startIfKeepAlive(): void {
    if (this.opts.keepAlive && this.workers.size === 0) this.spawn();
  }

  broadcast(m: MasterToWorker): void {
    for (const w of this.workers) this.send(w, m);
  }

  /** Ask every worker to finish its sessions and exit; resolves when all are gone. */
  stop(timeoutMs: number): Promise<void> {
    this.closed = true;
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    for (const p of this.pending) p.socket.destroy();
    this.pending = [];
    for (const w of this.workers) this.reclaim(w);
    const exits = [...this.workers].map((w) => this.stopWorker(w, timeoutMs));
    return Promise.all(exits).then(() => undefined);
  }

  /** Kill every worker at once (postern abort). */
  kill(): void {
    this.closed = true;
    for (const w of this.workers) {
      this.reclaim(w);
      w.child.kill("SIGKILL");
    }
  }

  private stopWorker(w: WorkerState, timeoutMs: number): Promise<void> {
    w.stopping = true;
    this.send(w, { t: "stop" });
    return new Promise((resolve) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
      const timer = setTimeout(() => w.child.kill("SIGKILL"), timeoutMs);
      w.child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
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
      ...(session !== undefined ? { handoff: withBufferedInput(session.handoff, socket) } : {}),
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
      // Counted as the worker's before sending: master's copy of the socket closes as soon as
      // the handle has gone, which may be before the send callback runs.
      const adjust = (d: number) => {
        if (ip !== undefined) w.clients.set(ip, (w.clients.get(ip) ?? 0) + d);
      };
      this.sent.add(socket);
      adjust(1);
      w.child.send(msg, socket, { keepOpen: false }, (err) => {
        if (!err) {
          session?.onSent(w.child.pid ?? 0);
          return;
        }
        this.sent.delete(socket);
        adjust(-1);
        retry();
      });
    } catch {
      this.sent.delete(socket);
      if (ip !== undefined) w.clients.set(ip, Math.max(0, (w.clients.get(ip) ?? 1) - 1));
      retry();
    }
  }

  private send(w: WorkerState, m: MasterToWorker): void {
    if (!w.ready) {
      w.held.push({ msg: m });
      return;
    }
    try {
      if (w.child.connected) w.child.send(m);
    } catch {
      /* the exit handler deals with a dead worker */
    }
  }

  private spawn(): WorkerState | undefined {
    const { service, program, configDir, verbose } = this.opts;
    const args = formatWorkerArgs({
      configDir,
      serviceName: service.name,
      serviceType: service.type,
      overrides: { ...service.overrides },
      args: [...service.args],
      verbose,
    });
    let child: ChildProcess;
    try {
      // With uid/gid, libuv drops supplementary groups, then gid, then uid in the child
      // before node starts: the worker never runs a line of its code as root.
      child = fork(program, args, {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        execArgv: [...(this.opts.execArgv ?? []), ...profilingArgv()],
        ...(this.opts.runAs ?? {}),
      });
    } catch (err) {
      this.opts.log.warning(`${program}: cannot start: ${String(err)}`);
      this.throttle();
      return undefined;
    }
    const w: WorkerState = {
      child,
      load: 0,
      retiring: false,
      started: Date.now(),
      stopping: false,
      ready: false,
      held: [],
      clients: new Map(),
      served: 0,
      borrowing: false,
    };
    this.workers.add(w);
    child.on("message", (m: unknown, handle: unknown) => this.onWorkerMessage(w, m, handle));
    child.on("exit", (code, signal) => this.onExit(w, code, signal));
    child.on("error", () => undefined);
    if (this.wakeupPending) {
      this.send(w, { t: "wakeup", data: this.wakeupPending.trim() });
      this.wakeupPending = "";
    }
    return w;
  }

  private onWorkerMessage(w: WorkerState, m: unknown, handle: unknown): void {
    const socket = isSocket(handle) ? handle : undefined;
    const raw = socket === undefined && isRawHandle(handle) ? handle : undefined;
    if (!isWorkerToMaster(m)) {
      raw?.close();
      return void socket?.destroy();
    }
    if (m.t === "pass") this.onPassRequest(w, m, socket);
    else if (m.t === "listening") this.onListening(w, m.listener, raw);
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
      this.reclaim(w);
      this.send(w, { t: "retire-ok" });
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
        } else this.send(w, h.msg);
      }
      this.maybeLend();
    }
  }

  /**
   * Lend the listening sockets to the pool's only worker when it is ready and has room for
   * more sessions than master would give it: a second worker means master spreads the load.
   */
  private maybeLend(): void {
    const lendable = this.opts.lendable?.();
    if (!lendable || lendable.length === 0 || this.closed || this.workers.size !== 1) return;
    if (this.pending.length > 0) return;
    const [w] = this.workers;
    if (!w || !w.ready || w.retiring || w.stopping || w.borrowing || !w.child.connected) return;
    if (w.load >= this.opts.connectionLimit || w.served >= acceptOwnUntil(this.opts.maxUse)) return;
    for (const l of lendable) {
      const handle = l.lend(w);
      if (handle === undefined) continue;
      w.borrowing = true;
      try {
        // child_process sends a raw libuv handle as "net.Native"; its types know only sockets and servers
        const sendable = handle as unknown as SendHandle;
        const m: MasterToWorker = {
          t: "listen",
          listener: l.address,
          maxActive: this.opts.connectionLimit,
          maxServed: acceptOwnUntil(this.opts.maxUse),
        };
        w.child.send(m, sendable, (err) => {
          if (err) l.reclaim(w);
        });
      } catch {
        l.reclaim(w);
      }
    }
  }

  private onListening(w: WorkerState, address: string, duplicate: RawHandle | undefined): void {
    const l = this.opts.lendable?.().find((x) => x.address === address);
    if (duplicate === undefined) return;
    if (l === undefined || !this.workers.has(w)) duplicate.close();
    else l.lent(w, duplicate);
  }

  /** The worker stopped accepting: master counts its open sessions and polls again. */
  private onUnlisten(w: WorkerState, m: Extract<WorkerToMaster, { t: "unlisten" }>): void {
    this.reclaim(w);
    w.load = m.n;
    w.served = Math.max(w.served, m.served);
    if (this.opts.clientLimit && Array.isArray(m.clients)) {
      for (const [ip, n] of m.clients) {
        if (typeof ip !== "string" || !Number.isInteger(n) || n <= 0) continue;
        w.clients.set(ip, (w.clients.get(ip) ?? 0) + n);
        this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + n);
      }
    }
    this.startSuccessorAhead(w);
  }

  private reclaim(w: WorkerState): void {
    if (!w.borrowing) return;
    w.borrowing = false;
    for (const l of this.opts.lendable?.() ?? []) l.reclaim(w);
  }

  /**
   * A worker near its max_use whose clients no other worker could take: start the one that
   * will replace it now, so it is ready when this one stops taking sessions. Only for a
   * max_use of 10 or more; a one-session service (max_use 1) starts workers on demand.
   */
  private startSuccessorAhead(w: WorkerState): void {
    const maxUse = this.opts.maxUse;
    const nearlyUsed = maxUse - Math.max(1, Math.floor(maxUse / 20));
    if (maxUse < 10 || w.served < nearlyUsed || this.closed || !this.canGrow()) return;
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
        if (back) w.child.send(r, back, { keepOpen: false }, (err) => err && back.destroy());
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
    this.reclaim(w);
    for (const [ip, n] of w.clients) this.sessionEnded(w, ip, n);
    // Connections held for a worker that died before it was ready go to another one.
    for (const h of w.held)
      if (h.socket && h.listener !== undefined) this.pending.push({ socket: h.socket, listener: h.listener });
    w.held = [];
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
    const n = (this.perIp.get(ip) ?? 0) + 1;
    if (limit.max > 0 && n > limit.max && !limit.exempt?.(ip)) {
      this.opts.log.warning(
        `Connection concurrency limit exceeded: ${n} from ${ip} for service ${this.opts.service.name}`,
      );
      socket.on("error", () => undefined);
      socket.end(limit.refusal(ip));
      setTimeout(() => socket.destroy(), 1000).unref();
      return false;
    }
    this.perIp.set(ip, n);
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
    this.decrement(ip, 1);
  }

  private sessionEnded(w: WorkerState, ip: string, n: number): void {
    const have = w.clients.get(ip) ?? 0;
    const take = Math.min(have, n);
    if (take <= 0) return;
    if (have - take > 0) w.clients.set(ip, have - take);
    else w.clients.delete(ip);
    this.decrement(ip, take);
  }

  private decrement(ip: string, n: number): void {
    const left = (this.perIp.get(ip) ?? 0) - n;
    if (left > 0) this.perIp.set(ip, left);
    else this.perIp.delete(ip);
    const owed = this.releasers.get(ip);
    if (owed === undefined) return;
    for (let i = 0; i < n && owed.length > 0; i++) owed.shift()?.();
    if (owed.length === 0) this.releasers.delete(ip);
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

  private drainPending(): void {
    const queued = this.pending;
    this.pending = [];
    for (const p of queued) {
      if (p.socket.destroyed) continue;
      this.dispatch(p.socket, p.listener);
    }
  }
}

function isSocket(h: unknown): h is Socket {
  return typeof h === "object" && h !== null && typeof (h as Socket).destroy === "function";
}

function isRawHandle(h: unknown): h is RawHandle {
  return typeof h === "object" && h !== null && typeof (h as RawHandle).close === "function";
}

/**
 * The session with whatever master's copy of the socket read since it arrived appended to
 * the pipelined input: the socket leaves right after, so these bytes would be lost.
 */
function withBufferedInput(h: LoginHandoff, socket: Socket): LoginHandoff {
  const parts: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const chunk: unknown = socket.read();
    if (!Buffer.isBuffer(chunk)) break;
    parts.push(chunk);
  }
  if (parts.length === 0) return h;
  h.pipelined = Buffer.concat([Buffer.from(h.pipelined, "base64"), ...parts]).toString("base64");
  return h;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

function signalNumber(sig: NodeJS.Signals): string {
  return String(SIGNALS[sig] ?? sig);
}

/**
 * Node refuses --cpu-prof in NODE_OPTIONS, so POSTERN_PROFILE_DIR=DIR makes every worker
 * write a V8 CPU profile into DIR when it exits (scripts/bench/README.md). Unset: nothing.
 */
function profilingArgv(): string[] {
  const dir = process.env["POSTERN_PROFILE_DIR"];
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}
