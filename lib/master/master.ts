/*
 * master — the resident supervisor (Postfix's master(8)).
 *
 * Reads main.cf and master.cf, takes the exclusive master lock in queue_directory/pid,
 * opens every service's listening sockets (all or nothing), and runs a Pool per service.
 * SIGHUP re-reads the configuration: listeners whose addresses changed are reopened, removed
 * services are closed, and every worker is asked to finish its sessions and exit, so new
 * ones start with the new configuration (configuration is frozen per process). SIGTERM stops
 * listening and lets workers finish within shutdown_timeout; SIGINT (abort) kills them;
 * SIGUSR1 reopens the maillog everywhere. Runs as root in production (to bind port 25 and
 * start services as their users), or unprivileged in a dev sandbox. As root it resolves
 * mail_owner, login_user, virtual_uid and setgid_group (an unknown one is fatal at start,
 * and keeps the old configuration on reload), creates missing queue directories with their
 * owners, warns about wrong ones (`postern set-permissions` repairs them), makes the
 * maillog appendable by setgid_group, and forks each worker as its service's user
 * (lib/master/identity). Changing those users takes a restart: sockets keep their owner.
 * Client sockets pop3-login and imap-login pass back after a plaintext login go to the pop3
 * or imap unix service's workers (onPass; lib/master/protocol.ts).
 */

import { existsSync, readdirSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMainCf, loadMasterCf, type MainCf, type MasterService } from "../config/index.js";
import { P } from "../config/params.js";
import { errorText, initLog, type Logger } from "../log/index.js";
import { parseHandoff } from "../login/handoff.js";
import { logHost, logTag } from "../server/index.js";
import { type ClientLimit, clientIp } from "./client-counts.js";
import { serviceInt, smtpdClientLimit } from "./client-limit.js";
import { confinementArgv, confinementWarning } from "./confine.js";
import {
  forkIdentity,
  idNames,
  ownersOf,
  PrivilegeError,
  type Privileges,
  readSystemAccounts,
  resolvePrivileges,
  runningAsRoot,
} from "./identity.js";
import {
  closeListeners,
  type Lendable,
  type Listener,
  openListeners,
  serviceAddresses,
  unixSocketPath,
} from "./listeners.js";
import { ensureQueueTree, formatProblem, maillogExpectation, repair } from "./permissions.js";
import { acquireMasterLock, type MasterLock } from "./pidfile.js";
import { Pool } from "./pool.js";
import type { PassRequest } from "./pool-options.js";
import type { MasterToWorker } from "./protocol.js";

interface ServiceState {
  svc: MasterService;
  pool: Pool;
  listeners: Listener[];
  addresses: string[];
  timer: NodeJS.Timeout | undefined;
}

export class MasterError extends Error {}

/** Which workers may pass a client socket to which mail service: only login → its mail process. */
export function mayPass(command: string, service: unknown): boolean {
  return (command === "pop3-login" && service === "pop3") || (command === "imap-login" && service === "imap");
}

/** Where daemon programs live: daemon_directory, or this installation's compiled daemons/. */
export function daemonProgram(main: MainCf, command: string): string {
  const dir = main.get(P.daemon_directory) || fileURLToPath(new URL("../../daemons/", import.meta.url));
  return join(dir, command.endsWith(".js") ? command : `${command}.js`);
}

/**
 * The per-client connection limit of an inet service, with the refusal in its protocol:
 * smtpd_client_connection_count_limit for smtpd, login_client_connection_count_limit for
 * the POP3 and IMAP login services (a service's -o override wins over main.cf).
 */
function clientLimitFor(main: MainCf, svc: MasterService, log: Logger): ClientLimit | undefined {
  if (svc.type !== "inet") return undefined;
  if (svc.command === "smtpd") return smtpdClientLimit(main, svc, log);
  const max = serviceInt(main, svc, P.login_client_connection_count_limit);
  if (svc.command === "pop3-login")
    return { max, refusal: (ip) => `-ERR [SYS/TEMP] Too many connections from ${ip}\r\n` };
  if (svc.command === "imap-login")
    return { max, refusal: (ip) => `* BYE [UNAVAILABLE] Too many connections from ${ip}\r\n` };
  return undefined;
}

function clientLimitOption(main: MainCf, svc: MasterService, log: Logger): { clientLimit?: ClientLimit } {
  const limit = clientLimitFor(main, svc, log);
  return limit ? { clientLimit: limit } : {};
}

/**
 * The listening sockets master may lend to a lone worker of the service: those of inet
 * services, except the login services, whose per-IP counts span the mail sessions they pass
 * on; and a fifo service's socket, which master shares with its worker (lib/master/listeners).
 */
function lendableListeners(svc: MasterService, listeners: () => readonly Listener[]): () => Lendable[] {
  const inet = svc.type === "inet" && svc.command !== "pop3-login" && svc.command !== "imap-login";
  if (!inet && svc.type !== "fifo") return () => [];
  return () => listeners().filter((l): l is Lendable => "lend" in l);
}

function runAsOption(
  svc: MasterService,
  privs: Privileges | undefined,
): { runAs?: { uid: number; gid: number } } {
  const ids = forkIdentity(svc, privs);
  return ids ? { runAs: ids } : {};
}

interface LoadedConfig {
  main: MainCf;
  services: MasterService[];
  privs: Privileges | undefined;
}

export class Master {
  private services = new Map<string, ServiceState>();
  private main!: MainCf;
  private log!: Logger;
  private lock: MasterLock | undefined;
  /** Whom workers run as; undefined when master is not root (nothing is dropped). */
  private privs: Privileges | undefined;
  private stopping = false;
  /** Reload and stop run one at a time: a stop during a reload waits for it to finish. */
  private serial: Promise<void> = Promise.resolve();

  constructor(
    private readonly configDir: string,
    private readonly verbose = false,
  ) {}

  async start(): Promise<void> {
    const { main, services, privs } = this.loadConfig();
    this.main = main;
    this.privs = privs;
    this.log = initLog({ file: main.get(P.maillog_file), tag: logTag(main, "master"), host: logHost(main) });
    this.prepareFiles(main);
    for (const svc of services) this.warnChroot(svc);
    const queueDir = main.get(P.queue_directory);
    this.lock = await acquireMasterLock(join(queueDir, "pid", "master.pid"), main.get(P.mail_name));
    try {
      const states: ServiceState[] = [];
      for (const svc of services) {
        const st = await this.openService(main, svc).catch(async (err: unknown) => {
          await Promise.all(states.map((s) => closeListeners(s.listeners)));
          throw err;
        });
        if (st) states.push(st);
      }
      for (const st of states) this.activate(st);
    } catch (err) {
      await this.lock.release();
      throw err instanceof MasterError ? err : new MasterError(errorText(err));
    }
    this.log.info(`daemon started -- version ${main.get(P.mail_version)}, configuration ${this.configDir}`);
  }

  /** SIGHUP: re-read everything; on a configuration error keep running as before. */
  reload(): Promise<void> {
    this.serial = this.serial.then(() => this.doReload());
    return this.serial;
  }

  stop(signal = "SIGTERM"): Promise<void> {
    this.serial = this.serial.then(() => this.doStop(signal));
    return this.serial;
  }

  private async doReload(): Promise<void> {
    if (this.stopping) return;
    let loaded: LoadedConfig;
    try {
      loaded = this.loadConfig();
    } catch (err) {
      this.log.error(`reload failed, keeping the current configuration: ${errorText(err)}`);
      return;
    }
    const { main, services, privs } = loaded;
    this.main = main;
    this.privs = privs;
    this.log.reopen();
    for (const svc of services) this.warnChroot(svc);
    const wanted = new Map(services.map((s) => [s.key, s]));
    for (const [key, st] of this.services) {
      const next = wanted.get(key);
      const addrs = next ? serviceAddresses(next, main) : [];
      if (!next || addrs.join(" ") !== st.addresses.join(" ")) {
        await this.closeService(st);
        this.services.delete(key);
      }
    }
    for (const svc of services) {
      const st = this.services.get(svc.key);
      if (st) {
        this.retirePool(st);
        st.svc = svc;
        st.pool = this.makePool(main, svc, () => st.listeners);
        this.armTimer(st);
        st.pool.startIfKeepAlive();
        continue;
      }
      try {
        const fresh = await this.openService(main, svc);
        if (fresh) this.activate(fresh);
      } catch (err) {
        this.log.error(`${svc.name}/${svc.type}: ${errorText(err)}`);
      }
    }
    this.log.info(`reload -- version ${main.get(P.mail_version)}, configuration ${this.configDir}`);
  }

  private async doStop(signal: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`terminating on signal ${signal === "SIGTERM" ? 15 : signal}`);
    const timeout = this.main.get(P.shutdown_timeout) * 1000;
    // Workers are killed at the timeout; this referenced timer also keeps master alive until then.
    const deadline = setTimeout(
      () => this.log.warning("stop: workers did not finish in time"),
      timeout + 5000,
    );
    try {
      const results = await Promise.allSettled(
        [...this.services.values()].map((st) => this.closeService(st, timeout)),
      );
      for (const r of results) if (r.status === "rejected") this.log.warning(`stop: ${errorText(r.reason)}`);
      this.services.clear();
    } finally {
      clearTimeout(deadline);
      await this.lock?.release();
    }
  }

  abort(): void {
    this.stopping = true;
    for (const st of this.services.values()) {
      st.pool.kill();
      void closeListeners(st.listeners);
    }
    void this.lock?.release();
  }

  reopenLog(): void {
    this.log.reopen();
    for (const st of this.services.values()) st.pool.broadcast({ t: "reopen-log" });
  }

  /** Worker pids per service, for status and tests. */
  snapshot(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [key, st] of this.services) out[key] = st.pool.pids();
    return out;
  }

  private loadConfig(): LoadedConfig {
    const main = loadMainCf(this.configDir);
    const services = loadMasterCf(main);
    let privs: Privileges | undefined;
    try {
      privs = runningAsRoot() ? resolvePrivileges(main) : undefined;
    } catch (err) {
      if (err instanceof PrivilegeError) throw new MasterError(`${main.file}: ${err.message}`);
      throw err;
    }
    for (const svc of services) {
      const prog = daemonProgram(main, svc.command);
      if (!existsSync(prog)) {
        throw new MasterError(
          `${main.configDir}/master.cf, line ${svc.line}: ${svc.name}/${svc.type}: no such daemon program: ${prog}`,
        );
      }
    }
    return { main, services, privs };
  }

  /**
   * The queue tree (missing directories created with their owners, wrong ones reported)
   * and, as root, a maillog every worker can append to.
   */
  private prepareFiles(main: MainCf): void {
    const owners = this.privs ? ownersOf(this.privs) : undefined;
    const names = idNames(readSystemAccounts());
    for (const p of ensureQueueTree(main.get(P.queue_directory), owners))
      this.log.warning(`${formatProblem(p, names)} (run postern set-permissions)`);
    const logFile = maillogExpectation(main.get(P.maillog_file), owners);
    if (!logFile) return;
    try {
      for (const change of repair([logFile], { trees: false, names }))
        this.log.info(`set-permissions: ${change}`);
    } catch (err) {
      this.log.warning(`${logFile.path}: cannot make it appendable by setgid_group: ${errorText(err)}`);
    }
  }

  private warnChroot(svc: MasterService): void {
    const text = confinementWarning(svc);
    if (text) this.log.warning(`${this.main.configDir}/${text}`);
  }

  private async openService(main: MainCf, svc: MasterService): Promise<ServiceState | undefined> {
    if (svc.type === "pass") {
      this.log.warning(`${svc.name}/pass: pass services are not supported; entry ignored`);
      return undefined;
    }
    const st: ServiceState = {
      svc,
      pool: this.makePool(main, svc, () => st.listeners),
      listeners: [],
      addresses: serviceAddresses(svc, main),
      timer: undefined,
    };
    const owner = this.privs ? { uid: this.privs.mailOwner.uid, gid: this.privs.group.gid } : undefined;
    st.listeners = await openListeners(svc, main, (sock, addr) => this.onConnection(st, sock, addr), {
      ...(owner ? { socketOwner: owner } : {}),
      warn: (text) => this.log.warning(text),
    });
    return st;
  }

  private activate(st: ServiceState): void {
    this.services.set(st.svc.key, st);
    this.armTimer(st);
    st.pool.startIfKeepAlive();
    if (st.svc.wakeupConditional && this.workWaiting(st.svc)) st.pool.wakeup("T");
  }

  /** The first service master.cf defines that matches (per message: no array copy). */
  private findService(match: (svc: MasterService) => boolean): ServiceState | undefined {
    for (const st of this.services.values()) if (match(st.svc)) return st;
    return undefined;
  }

  /**
   * A worker's trigger over IPC: the same wake-up a connection to the fifo service's public
   * socket gives (which any local process may make), so any worker may send it.
   */
  private onTrigger(from: MasterService, name: string, data: string): void {
    const st = this.findService((s) => s.type === "fifo" && s.name === name);
    if (!st || typeof data !== "string" || !/^[A-Za-z]{0,16}$/.test(data)) {
      this.log.warning(
        `${from.command}: trigger for unknown service ${JSON.stringify(String(name)).slice(0, 80)} ignored`,
      );
      return;
    }
    st.pool.wakeup(data);
  }

  private onConnection(st: ServiceState, sock: Socket, addr: string): void {
    if (st.svc.type === "fifo") {
      // A trigger: request letters. Each arrival wakes the service; the first also ends the
      // connection, so a lasting one (lib/ipc/trigger-stream.ts) reconnects, and may reach the
      // worker that shares this socket. The letters sent before its writer saw the end are
      // still read here.
      let woke = false;
      sock.on("error", () => undefined);
      sock.on("data", (d: Buffer) => {
        woke = true;
        st.pool.wakeup(d.toString("latin1").slice(0, 64));
        sock.end();
      });
      sock.on("end", () => {
        sock.destroy();
        if (!woke) st.pool.wakeup("");
      });
      sock.resume();
      setTimeout(() => sock.destroy(), 5000).unref();
      return;
    }
    st.pool.dispatch(sock, addr);
  }

  private makePool(main: MainCf, svc: MasterService, listeners: () => readonly Listener[]): Pool {
    return new Pool({
      service: svc,
      program: daemonProgram(main, svc.command),
      configDir: this.configDir,
      verbose: this.verbose,
      connectionLimit: Math.max(1, serviceInt(main, svc, P.worker_connection_limit)),
      maxUse: Math.max(1, serviceInt(main, svc, P.max_use)),
      throttleMs: main.get(P.service_throttle_time) * 1000,
      keepAlive: svc.wakeup > 0 && !svc.wakeupConditional,
      log: this.log,
      onPass: (from, m, socket, reply) => this.onPass(svc, from, m, socket, reply),
      onTrigger: (name, data) => this.onTrigger(svc, name, data),
      ...clientLimitOption(main, svc, this.log),
      lendable: lendableListeners(svc, listeners),
      ...runAsOption(svc, this.privs),
      execArgv: confinementArgv(main, svc),
    });
  }

  /**
   * A login worker passes its client's socket after a plaintext login: give it to a worker
   * of the mail service (the unix service of that name, whose socket the TLS path connects
   * to). Only pop3-login may pass to pop3 and imap-login to imap. The session keeps its
   * place in the login service's per-IP count until the mail session ends.
   */
  private onPass(
    svc: MasterService,
    from: Pool,
    m: PassRequest,
    socket: Socket | undefined,
    reply: (r: MasterToWorker, socket?: Socket) => void,
  ): void {
    const fail = (reason: string, back?: Socket) => reply({ t: "pass-failed", id: m.id, reason }, back);
    if (!mayPass(svc.command, m.service) || socket === undefined) {
      this.log.warning(
        `${svc.name}/${svc.type}: refusing to pass a connection to service ${String(m.service)}`,
      );
      socket?.destroy();
      fail("not allowed");
      return;
    }
    const handoff = parseHandoff(m.handoff);
    if (handoff === undefined) {
      this.log.warning(`${svc.name}/${svc.type}: malformed hand-off passed with a connection`);
      socket.destroy();
      fail("malformed hand-off");
      return;
    }
    const target = this.findService((s) => s.type === "unix" && s.private && s.name === m.service);
    if (target === undefined) {
      fail(`no private unix service ${m.service} in master.cf`, socket);
      return;
    }
    const ip = clientIp(socket);
    const client = from.retainClient(ip) ? { ip, release: () => from.releaseClient(ip) } : undefined;
    target.pool.dispatchPassed(
      socket,
      unixSocketPath(target.svc, this.main),
      {
        handoff,
        onSent: (pid) => reply({ t: "passed", id: m.id, pid }),
        onFailed: (reason) => reply({ t: "pass-failed", id: m.id, reason }),
      },
      client,
    );
  }

  private armTimer(st: ServiceState): void {
    if (st.timer) clearInterval(st.timer);
    st.timer = undefined;
    if (st.svc.wakeup > 0) st.timer = setInterval(() => this.timedWakeup(st), st.svc.wakeup * 1000);
  }

  /**
   * The wakeup column's timer. "N?" (conditional) wakes only a running service, as in
   * Postfix, but also starts one that has work waiting: pickup when maildrop/ holds a file
   * nobody announced (a sendmail that could not reach public/pickup, files left while
   * master was down). So pickup need not idle in memory between submissions.
   */
  private timedWakeup(st: ServiceState): void {
    if (!st.svc.wakeupConditional || st.pool.size > 0 || this.workWaiting(st.svc)) st.pool.wakeup("T");
  }

  private workWaiting(svc: MasterService): boolean {
    if (svc.command !== "pickup") return false;
    try {
      return readdirSync(join(this.main.get(P.queue_directory), "maildrop")).some((f) => !f.startsWith("."));
    } catch {
      return false;
    }
  }

  private retirePool(st: ServiceState): void {
    void st.pool.stop(this.main.get(P.shutdown_timeout) * 1000);
  }

  private async closeService(
    st: ServiceState,
    timeoutMs = this.main.get(P.shutdown_timeout) * 1000,
  ): Promise<void> {
    if (st.timer) clearInterval(st.timer);
    await closeListeners(st.listeners);
    await st.pool.stop(timeoutMs);
  }
}
