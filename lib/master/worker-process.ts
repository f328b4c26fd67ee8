/*
 * worker-process — one worker process of a pool (lib/master/pool.ts): what master knows of
 * it, forking it with its service's arguments, identity and Node flags, sending it messages
 * (held until it says "ready"), handing it connections, stopping it, and the small helpers
 * the pool needs about its messages: handle kinds, a passed session's buffered input, signal
 * numbers for log lines.
 * A connection leaves master as soon as its descriptor is written to the worker's channel:
 * master closes its copy then, so a worker killed before it read the channel takes the
 * connection with it and the client sees it end (qmgr then defers the delivery, as Postfix's
 * qmgr does when local dies), instead of waiting on a descriptor nobody reads.
 */
import { type ChildProcess, fork } from "node:child_process";
import type { Socket } from "node:net";
import type { MasterService } from "../config/index.js";
import { formatWorkerArgs, type MasterToWorker } from "./protocol.js";

export interface WorkerState {
  child: ChildProcess;
  load: number;
  retiring: boolean;
  started: number;
  stopping: boolean;
  /** Until the worker says "ready" its message listener may not exist yet: hold what we send. */
  ready: boolean;
  held: { msg: MasterToWorker; socket?: Socket; listener?: string }[];
  /** Connections sent to it whose send has not completed yet, with their listener (sendConnection). */
  sending: Map<Socket, string>;
  /** Open sessions per client IP, so a worker's death releases its share of the counts. */
  clients: Map<string, number>;
  /** Sessions master gave it; at maxUse it gets no more. */
  served: number;
  /** Holds (or is being sent) the service's listening sockets. */
  borrowing: boolean;
}

export interface ForkOptions {
  service: MasterService;
  program: string;
  configDir: string;
  verbose: boolean;
  /** The uid/gid to start workers with (lib/master/identity); absent: master's own. */
  runAs?: { uid: number; gid: number };
  /** Node flags for every worker (lib/master/confine: a chroot = y service's confinement). */
  execArgv?: string[];
}

/** Start a worker of the service; throws when the process cannot be started. */
export function forkWorker(o: ForkOptions): WorkerState {
  const args = formatWorkerArgs({
    configDir: o.configDir,
    serviceName: o.service.name,
    serviceType: o.service.type,
    overrides: { ...o.service.overrides },
    args: [...o.service.args],
    verbose: o.verbose,
  });
  // With uid/gid, libuv drops supplementary groups, then gid, then uid in the child
  // before node starts: the worker never runs a line of its code as root.
  const child = fork(o.program, args, {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [...(o.execArgv ?? []), ...profilingArgv()],
    ...(o.runAs ?? {}),
  });
  return {
    child,
    load: 0,
    retiring: false,
    started: Date.now(),
    stopping: false,
    ready: false,
    held: [],
    sending: new Map(),
    clients: new Map(),
    served: 0,
    borrowing: false,
  };
}

export function sendTo(w: WorkerState, m: MasterToWorker): void {
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

/**
 * Send a connection to a ready worker. keepOpen, and master closes its copy itself once the
 * descriptor is written: the kernel holds it in the message from then on. Node's own close
 * (keepOpen false) waits for the worker's acknowledgement, which a worker killed before it
 * reads its channel never sends, and Node then keeps the descriptor open for good
 * (nodejs/node#19433): the client, e.g. qmgr waiting up to ipc_timeout for local's reply,
 * would never see the connection end. `done` runs when the send completed (the socket is
 * the worker's) or failed (still master's), but not for one takeUnsent() took back.
 */
export function sendConnection(
  w: WorkerState,
  m: MasterToWorker,
  socket: Socket,
  listener: string,
  done: (err: Error | null) => void,
): void {
  w.sending.set(socket, listener);
  try {
    w.child.send(m, socket, { keepOpen: true }, (err) => {
      if (!w.sending.delete(socket)) return;
      if (!err) socket.destroy();
      done(err);
    });
  } catch (err) {
    w.sending.delete(socket);
    throw err;
  }
}

/**
 * The connections sent to a dead worker that never left master: Node queues a handle behind
 * one the worker has not acknowledged yet, and drops that queue without a callback when the
 * worker dies first. They may go to another worker.
 */
export function takeUnsent(w: WorkerState): { socket: Socket; listener: string }[] {
  const unsent = [...w.sending].map(([socket, listener]) => ({ socket, listener }));
  w.sending.clear();
  return unsent;
}

/** Change the worker's share of a client IP's sessions by `delta` (a share of 0 is dropped). */
export function shareClient(w: WorkerState, ip: string | undefined, delta: number): void {
  if (ip === undefined) return;
  const n = (w.clients.get(ip) ?? 0) + delta;
  if (n > 0) w.clients.set(ip, n);
  else w.clients.delete(ip);
}

/** Ask the worker to finish its sessions and exit; killed after timeoutMs. */
export function stopWorker(w: WorkerState, timeoutMs: number): Promise<void> {
  w.stopping = true;
  sendTo(w, { t: "stop" });
  return new Promise((resolve) => {
    if (w.child.exitCode !== null || w.child.signalCode !== null) return resolve();
    const timer = setTimeout(() => w.child.kill("SIGKILL"), timeoutMs);
    w.child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function isSocket(h: unknown): h is Socket {
  return typeof h === "object" && h !== null && typeof (h as Socket).destroy === "function";
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

export function signalNumber(sig: NodeJS.Signals): string {
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
