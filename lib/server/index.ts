/*
 * server — the skeleton every postern worker runs on (Postfix's multi_server/trigger_server).
 *
 * A daemon's main is one call: runServer("smtpd", setup). The skeleton parses the
 * arguments master passes (-c -n -t -o), loads main.cf with the service's -o overrides
 * frozen for the life of the process, opens the maillog, then serves what master sends over
 * the IPC channel: connection handles ("conn"), wake-ups, stop and log-reopen requests.
 * It reports its load to master, retires after max_idle seconds without work or after
 * max_use sessions, and finishes its sessions before exiting on stop or when master goes away.
 * Workers never open listening sockets: master owns them, but may lend an inet one to a lone
 * worker, which then accepts on it itself until it is full, near max_use, retiring or
 * stopping, applying the service's per-IP limit to those sessions (lib/master/protocol.ts).
 * A login worker can pass a client
 * socket back to master for a mail worker (ServiceContext.passer, lib/master/protocol.ts);
 * the session then counts as ended here as soon as master has answered.
 */
import type { SendHandle } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { loadMainCf, type MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { errorText, initLog, type Logger } from "../log/index.js";
import { type ClientLimit, clientIp, refuseOverLimit } from "../master/client-counts.js";
import {
  isMasterToWorker,
  isRawHandle,
  type LoginServiceName,
  type MasterToWorker,
  parseWorkerArgs,
  type WorkerArgs,
  type WorkerToMaster,
} from "../master/protocol.js";

/** Master's answer to a pass; on failure the socket comes back when master still had it. */
export type PassReply = { ok: true; pid: number } | { ok: false; reason: string; socket?: Socket };

/** Passing sockets to master: possible only under a master (an IPC channel). */
export interface SocketPasser {
  available(): boolean;
  /**
   * Send the socket (it leaves this process at once, whatever the outcome) with the session
   * for the mail service; resolves with master's answer, or a failure after timeoutMs.
   */
  pass(socket: Socket, service: LoginServiceName, handoff: unknown, timeoutMs: number): Promise<PassReply>;
}

export interface ServiceContext {
  readonly config: MainCf;
  readonly log: Logger;
  readonly args: WorkerArgs;
  /** The daemon's program name (the master.cf command), e.g. "smtpd". */
  readonly program: string;
  /** Hand a client socket to master for a mail service (pop3-login, imap-login). */
  readonly passer: SocketPasser;
  /**
   * Wake the trigger (fifo) service of that name through master, as a connection to its
   * public socket would, for one IPC message; false without a channel to master.
   */
  readonly wake: (service: string, data: string) => boolean;
}

export interface ServiceHooks {
  /**
   * A connection master handed over; resolves when the session is over. `handoff` is the
   * session a login process passed along with a client socket (unchecked: parse it).
   */
  onConnection?(socket: Socket, listener: string, handoff?: unknown): Promise<void>;
  /** A wake-up: the service's timer fired or another process triggered it. */
  onWakeup?(data: string): void;
  /** Graceful stop: stop starting new work; resolves when background work is finished. */
  onStop?(): Promise<void>;
  /** True while the service has background work that keeps it alive without connections. */
  busy?(): boolean;
  /** Last words before the process exits (synchronous): save state the next process needs. */
  onExit?(): void;
  /** The per-IP limit on sessions accepted on a lent listening socket (smtpd). */
  clientLimit?: ClientLimit;
}

export function logTag(config: MainCf, program: string): string {
  return `${config.get(P.syslog_name)}/${program}`;
}

export function logHost(config: MainCf): string {
  return config.get(P.myhostname).split(".")[0] ?? "localhost";
}

/** How many trigger connections a fifo worker keeps open for further letters. */
const MAX_LASTING_TRIGGERS = 256;

/** An open session; `counted`: master counts it (it handed it over, or was told of it). */
interface Session {
  readonly ip: string | undefined;
  counted: boolean;
}

class Worker {
  private active = 0;
  /** Listening sockets master lent this worker, by listener address. */
  private own = new Map<string, Server>();
  /** Sessions accepted on them that master does not know of yet. */
  private uncounted = new Set<Session>();
  /** Open sessions per client IP, for the per-IP limit on sessions accepted here. */
  private perIp = new Map<string, number>();
  /** Open connections to a shared fifo socket kept for more triggers (readTriggers). */
  private triggerConnections = 0;
  /** The bounds master set with the lent sockets: sessions held at once, sessions served. */
  private ownBounds = { maxActive: 0, maxServed: 0 };
  private served = 0;
  private retiring = false;
  private stopping = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private passes = new Map<number, (r: PassReply) => void>();
  private nextPassId = 1;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly hooks: ServiceHooks,
  ) {}

  start(): void {
    process.on("message", (m: unknown, handle: unknown) => this.onMessage(m, handle));
    process.on("disconnect", () => {
      for (const id of [...this.passes.keys()])
        this.settlePass(id, { ok: false, reason: "master went away" });
      this.stop();
    });
    process.on("SIGTERM", () => this.stop());
    this.send({ t: "ready" });
    this.armIdle();
  }

  /** Called by a hook when background work ends, so the idle timer can start. */
  poke(): void {
    this.armIdle();
    this.maybeExit();
  }

  private send(m: WorkerToMaster): void {
    if (process.connected) process.send?.(m);
  }

  canPass(): boolean {
    return process.connected && typeof process.send === "function";
  }

  pass(socket: Socket, service: LoginServiceName, handoff: unknown, timeoutMs: number): Promise<PassReply> {
    const id = this.nextPassId++;
    const msg: WorkerToMaster = { t: "pass", id, service, handoff };
    return new Promise<PassReply>((resolve) => {
      const timer = setTimeout(
        () => this.settlePass(id, { ok: false, reason: "no answer from master" }),
        timeoutMs,
      );
      this.passes.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      const failed = (err: unknown) => this.settlePass(id, { ok: false, reason: errorText(err) });
      try {
        if (!this.canPass()) return failed(new Error("no IPC channel"));
        process.send?.(msg, socket, { keepOpen: false }, (err: Error | null) => {
          if (err) failed(err);
        });
      } catch (err) {
        failed(err);
      }
    });
  }

  private settlePass(id: number, r: PassReply): void {
    const settle = this.passes.get(id);
    this.passes.delete(id);
    if (settle) settle(r);
    else if (!r.ok) r.socket?.destroy();
  }

  private onMessage(m: unknown, handle: unknown): void {
    if (!isMasterToWorker(m)) return;
    switch (m.t) {
      case "conn":
        if (handle) this.serve(handle as Socket, m.listener, { ip: m.ip, counted: true }, m.handoff);
        break;
      case "listen":
        this.onListen(m, handle);
        break;
      case "passed":
        this.settlePass(m.id, { ok: true, pid: m.pid });
        break;
      case "pass-failed":
        this.settlePass(m.id, {
          ok: false,
          reason: m.reason,
          ...(handle ? { socket: handle as Socket } : {}),
        });
        break;
      case "wakeup":
        this.hooks.onWakeup?.(m.data);
        this.armIdle();
        break;
      case "stop":
        this.stop();
        break;
      case "retire-ok":
        this.retiring = true;
        this.maybeExit();
        break;
      case "reopen-log":
        this.ctx.log.reopen();
        break;
    }
  }

  private serve(socket: Socket, listener: string, session: Session, handoff: unknown): void {
    const hook = this.hooks.onConnection;
    if (!hook) {
      socket.destroy();
      return;
    }
    const ip = session.ip;
    this.active++;
    this.served++;
    if (ip !== undefined) this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    if (!session.counted) this.uncounted.add(session);
    this.clearIdle();
    socket.on("error", () => undefined);
    hook(socket, listener, handoff)
      .catch((err: unknown) => this.ctx.log.warning(`session error: ${errorText(err)}`))
      .finally(() => {
        if (!socket.destroyed) socket.destroy();
        this.active--;
        if (ip !== undefined) {
          const left = (this.perIp.get(ip) ?? 1) - 1;
          if (left > 0) this.perIp.set(ip, left);
          else this.perIp.delete(ip);
        }
        // A session master never heard of ends without a word to it: that is the saving.
        if (!session.counted) this.uncounted.delete(session);
        else
          this.send(ip !== undefined ? { t: "closed", ip, n: this.active } : { t: "closed", n: this.active });
        if (this.served >= this.ctx.config.get(P.max_use) && !this.retiring) {
          this.unlisten();
          this.send({ t: "retire", reason: "use" });
        }
        this.armIdle();
        this.maybeExit();
      });
  }

  /** Room for another session accepted here, without master's count of it. */
  private hasRoom(): boolean {
    return (
      !this.retiring &&
      !this.stopping &&
      this.active < this.ownBounds.maxActive &&
      this.served < this.ownBounds.maxServed
    );
  }

  /** Master lends a listening socket: accept on it, and send master back its descriptor. */
  private onListen(m: Extract<MasterToWorker, { t: "listen" }>, handle: unknown): void {
    if (!isRawHandle(handle)) return;
    const listener = m.listener;
    this.ownBounds = { maxActive: Number(m.maxActive) || 0, maxServed: Number(m.maxServed) || 0 };
    if (!this.hasRoom() || this.own.has(listener) || !process.connected) {
      handle.close();
      this.unlisten(true);
      return;
    }
    const server = createServer((socket) => this.onOwnConnection(socket, listener));
    server.on("error", (err) => {
      this.ctx.log.warning(`${listener}: accept: ${errorText(err)}`);
      this.unlisten();
    });
    try {
      server.listen(handle);
      this.own.set(listener, server);
      process.send?.({ t: "listening", listener } satisfies WorkerToMaster, handle as unknown as SendHandle);
    } catch (err) {
      this.ctx.log.warning(`${listener}: cannot accept on the lent socket: ${errorText(err)}`);
      server.close();
      this.unlisten(true);
    }
  }

  private onOwnConnection(socket: Socket, listener: string): void {
    if (this.ctx.args.serviceType === "fifo") {
      this.readTriggers(socket);
      return;
    }
    const ip = clientIp(socket);
    const n = (this.perIp.get(ip) ?? 0) + 1;
    const warn = (text: string) => this.ctx.log.warning(text);
    if (refuseOverLimit(socket, this.hooks.clientLimit, ip, n, this.ctx.args.serviceName, warn)) return;
    this.serve(socket, listener, { ip, counted: false }, undefined);
    if (!this.hasRoom()) this.unlisten();
  }

  /**
   * A connection to a fifo service's shared socket carries request letters, as many times as
   * its writer wakes the service (a cleanup keeps one open): each arrival is a wake-up.
   */
  private readTriggers(socket: Socket): void {
    // Lasting connections are for postern's own processes; beyond a bound (any local user may
    // connect to public/), a connection is treated as master treats one: ended after its letters.
    const lasting = this.triggerConnections < MAX_LASTING_TRIGGERS;
    if (lasting) this.triggerConnections++;
    socket.on("error", () => undefined);
    socket.on("data", (d: Buffer) => {
      this.hooks.onWakeup?.(d.toString("latin1").slice(0, 64));
      this.armIdle();
      if (!lasting) socket.end();
    });
    socket.on("end", () => socket.end());
    socket.on("close", () => {
      if (lasting) this.triggerConnections--;
    });
    if (!lasting) setTimeout(() => socket.destroy(), 5000).unref();
  }

  /**
   * Stop accepting on lent sockets and tell master, which polls them again and counts the
   * sessions accepted here from now on. `declined`: tell master even if none was taken.
   */
  private unlisten(declined = false): void {
    if (this.own.size === 0 && !declined) return;
    for (const server of this.own.values()) server.close();
    this.own.clear();
    const clients = new Map<string, number>();
    for (const s of this.uncounted) {
      s.counted = true;
      if (s.ip !== undefined) clients.set(s.ip, (clients.get(s.ip) ?? 0) + 1);
    }
    this.uncounted.clear();
    this.send({ t: "unlisten", n: this.active, served: this.served, clients: [...clients] });
  }

  private armIdle(): void {
    this.clearIdle();
    if (this.active > 0 || this.stopping || this.hooks.busy?.()) return;
    const ms = this.ctx.config.get(P.max_idle) * 1000;
    this.idleTimer = setTimeout(() => {
      if (this.active > 0 || this.hooks.busy?.()) return;
      this.unlisten();
      this.send({ t: "retire", reason: "idle" });
    }, ms);
    this.idleTimer.unref();
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.retiring = true;
    this.unlisten();
    this.clearIdle();
    const done = this.hooks.onStop?.() ?? Promise.resolve();
    done
      .catch((err: unknown) => this.ctx.log.warning(`stop: ${errorText(err)}`))
      .finally(() => this.maybeExit());
  }

  private maybeExit(): void {
    if (!this.retiring || this.active > 0) return;
    if (!this.stopping && this.hooks.busy?.()) return;
    this.clearIdle();
    try {
      this.hooks.onExit?.();
    } catch (err) {
      this.ctx.log.warning(`exit: ${errorText(err)}`);
    }
    process.exit(0);
  }
}

/**
 * Run a worker. setup() builds the service once configuration and logging are up; its
 * errors are fatal (logged, exit 1), which master counts towards throttling.
 */
export async function runServer(
  program: string,
  setup: (ctx: ServiceContext, poke: () => void) => Promise<ServiceHooks> | ServiceHooks,
): Promise<void> {
  const args = parseWorkerArgs(process.argv.slice(2));
  let log: Logger | undefined;
  try {
    const config = loadMainCf(args.configDir, { overrides: args.overrides });
    log = initLog({ file: config.get(P.maillog_file), tag: logTag(config, program), host: logHost(config) });
    let worker: Worker | undefined;
    const passer: SocketPasser = {
      available: () => worker?.canPass() ?? false,
      pass: (socket, service, handoff, timeoutMs) =>
        worker
          ? worker.pass(socket, service, handoff, timeoutMs)
          : Promise.resolve({ ok: false, reason: "not started" }),
    };
    const ctx: ServiceContext = { config, log, args, program, passer, wake: wakeThroughMaster };
    installCrashHandlers(log);
    const hooks = await setup(ctx, () => worker?.poke());
    worker = new Worker(ctx, hooks);
    worker.start();
  } catch (err) {
    const text = `fatal: ${errorText(err)}`;
    if (log) log.fatal(errorText(err));
    else process.stderr.write(`postern/${program}: ${text}\n`);
    process.exit(1);
  }
}

function wakeThroughMaster(service: string, data: string): boolean {
  if (!process.connected || typeof process.send !== "function") return false;
  try {
    const m: WorkerToMaster = { t: "trigger", service, data };
    return process.send(m);
  } catch {
    return false;
  }
}

function installCrashHandlers(log: Logger): void {
  process.on("uncaughtException", (err) => {
    log.panic(`uncaught exception: ${err.stack ?? err.message}`);
    process.exit(1);
  });
  process.on("unhandledRejection", (err) => {
    log.panic(`unhandled rejection: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  });
}
