/*
 * protocol — messages on the child_process IPC channel between master and its workers.
 *
 * Master hands each accepted connection to a worker as a socket handle ("conn"), wakes
 * trigger services ("wakeup"), and asks workers to finish and exit ("stop") on reload and
 * shutdown. Workers report their load so master can pick the least busy one or start
 * another (Postfix's MASTER_STAT_AVAIL/TAKEN), and announce retirement (max_idle,
 * max_use) so master stops sending them work before they exit. A worker may also wake a
 * trigger service ("trigger": cleanup waking qmgr) through this channel, which costs one
 * message instead of a connection to public/qmgr that master accepts, reads and closes.
 *
 * Descriptor passing (Dovecot's login → mail hand-off without a proxy): a pop3-login or
 * imap-login worker whose client is not on TLS sends "pass" with the client socket as the
 * handle and the authenticated session (lib/login/handoff.ts LoginHandoff, kept `unknown`
 * here so every worker need not load the login code). Master gives the socket to a worker
 * of the unix service of that name (private/pop3, private/imap) as a "conn" carrying the
 * hand-off, and answers the login worker "passed" (with the mail worker's pid, for its log
 * line) or "pass-failed" (with the socket back when master still holds it, so the login
 * process can answer the client in its protocol).
 *
 * Lent listeners: while a service has one worker with room, master lends it the inet
 * listening socket ("listen" with the socket's handle); the worker accepts on it itself and
 * answers "listening" with its own descriptor, which master keeps unpolled so the port stays
 * bound. Sessions it accepts so are its own to count (per-IP limit included) and cost master
 * nothing. When it is full, near max_use, retiring or stopping, it closes its listening
 * handle and sends "unlisten" with its load, its use count and the per-IP counts of those
 * sessions; master polls the socket again and counts them from then on (each ends with
 * "closed", as a session master handed over does).
 */

export type LoginServiceName = "pop3" | "imap";

export type MasterToWorker =
  | { t: "conn"; listener: string; ip?: string; handoff?: unknown }
  /**
   * Accept on this listening socket yourself (the handle comes with the message) while you
   * hold fewer than maxActive sessions and have served fewer than maxServed.
   */
  | { t: "listen"; listener: string; maxActive: number; maxServed: number }
  | { t: "wakeup"; data: string }
  | { t: "stop" }
  | { t: "retire-ok" }
  | { t: "reopen-log" }
  | { t: "passed"; id: number; pid: number }
  | { t: "pass-failed"; id: number; reason: string };

export type WorkerToMaster =
  | { t: "load"; n: number }
  /** A session ended; n is the worker's load now (master counted the session when it handed it over). */
  | { t: "closed"; ip?: string; n: number }
  /** Wake the fifo service of that name, as a trigger on its public socket would. */
  | { t: "trigger"; service: string; data: string }
  | { t: "retire"; reason: "idle" | "use" }
  | { t: "ready" }
  /** Listening on the lent socket; the handle sent along is master's unpolled duplicate. */
  | { t: "listening"; listener: string }
  /** Stopped accepting on lent sockets (or declined them); master counts these sessions now. */
  | { t: "unlisten"; n: number; served: number; clients: [string, number][] }
  | { t: "pass"; id: number; service: LoginServiceName; handoff: unknown };

/**
 * How many sessions a worker may take from lent sockets: below max_use by the margin at which
 * master starts its successor (lib/master/pool.ts), so the last ones go through master, which
 * then knows to start it; all of them for a max_use under 10.
 */
export function acceptOwnUntil(maxUse: number): number {
  return maxUse < 10 ? maxUse : maxUse - Math.max(1, Math.floor(maxUse / 20));
}

/** A libuv stream handle as child_process passes it ("net.Native"); only close() is used here. */
export interface RawHandle {
  close(): void;
}

export function isRawHandle(h: unknown): h is RawHandle {
  return typeof h === "object" && h !== null && typeof (h as RawHandle).close === "function";
}

export function isMasterToWorker(m: unknown): m is MasterToWorker {
  return typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string";
}

export function isWorkerToMaster(m: unknown): m is WorkerToMaster {
  return typeof m === "object" && m !== null && typeof (m as { t?: unknown }).t === "string";
}

/** Worker command-line arguments, as master passes them (Postfix passes -n, -t, -o alike). */
export interface WorkerArgs {
  configDir: string;
  serviceName: string;
  serviceType: string;
  overrides: Record<string, string>;
  args: string[];
  verbose: boolean;
}

export function formatWorkerArgs(a: WorkerArgs): string[] {
  const out = ["-c", a.configDir, "-n", a.serviceName, "-t", a.serviceType];
  for (const [k, v] of Object.entries(a.overrides)) out.push("-o", `${k}=${v}`);
  if (a.verbose) out.push("-v");
  if (a.args.length > 0) out.push("--", ...a.args);
  return out;
}

export function parseWorkerArgs(argv: readonly string[]): WorkerArgs {
  const a: WorkerArgs = {
    configDir: process.env["POSTERN_CONFIG_DIR"] ?? "/etc/postern",
    serviceName: "",
    serviceType: "unix",
    overrides: {},
    args: [],
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const val = argv[i + 1] ?? "";
    if (arg === "--") {
      a.args = argv.slice(i + 1);
      break;
    }
    if (arg === "-c") a.configDir = val;
    else if (arg === "-n") a.serviceName = val;
    else if (arg === "-t") a.serviceType = val;
    else if (arg === "-o") {
      const eq = val.indexOf("=");
      if (eq > 0) a.overrides[val.slice(0, eq).trim()] = val.slice(eq + 1).trim();
    } else if (arg === "-v") {
      a.verbose = true;
      continue;
    } else {
      a.args.push(arg ?? "");
      continue;
    }
    i++;
  }
  return a;
}
