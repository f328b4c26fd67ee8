/*
 * scheduler — the queue manager's core (Postfix's qmgr): moves mail from incoming/ (and
 * due mail from deferred/) into active/, resolves each pending recipient to a transport,
 * runs deliveries within the per-transport and per-destination concurrency limits,
 * records every outcome in the queue file (fsynced) as it arrives, and then removes the
 * message or defers it with exponential backoff. A deferred file's mtime is its next
 * attempt time (as in Postfix), so a scan needs one stat per file, not a read.
 * qmgr is the only writer of queue files in active/; it appends outcomes and deferrals in
 * one go when it is done with a file for now.
 * On start, whatever a crash left in active/ goes back to incoming/ and is redone; the
 * recipients already recorded as done are not delivered again.
 * As in Postfix, incoming/ is scanned when a trigger comes, on the timer, and when room
 * opens in active/ after a scan had to stop at qmgr_message_active_limit; not after every
 * message. Queue file I/O is synchronous except fsync (see lib/queue/ops.ts for why).
 */
import { statSync, utimesSync } from "node:fs";
import { removeReportLog } from "../bounce/select.js";
import { errorText, type Logger } from "../log/index.js";
import {
  appendDeferral,
  appendOutcome,
  appendWarning,
  listQueue,
  markCorrupt,
  moveQueueFile,
  QueueFileError,
  type QueueFileInfo,
  type QueueName,
  queuePath,
  type RecipientDeferral,
  type RecipientOutcome,
  readQueueFileSync,
  removeQueueFile,
  removeStaleTemps,
} from "../queue/index.js";
import type { AgentPool, DeliveryReply } from "./agents.js";
import { formatDelays } from "./delays.js";
import { type Resolved, resolveRecipient, transportAvailable } from "./transport.js";

export interface QmgrSettings {
  queueDir: string;
  localDomains: ReadonlySet<string>;
  activeLimit: number;
  transportLimit: number;
  localDestinationLimit: number;
  destinationLimit: number;
  minimalBackoffMs: number;
  maximalBackoffMs: number;
  queueRunDelayMs: number;
  maximalQueueLifetimeMs: number;
  bounceQueueLifetimeMs: number;
  /** Temp files older than this belong to no live writer (ipc_timeout) and are removed. */
  staleTempMs: number;
  /** delay_warning_time in ms; 0: no delay notices. */
  delayWarningMs: number;
}

interface ActiveMessage {
  info: QueueFileInfo;
  activeTime: number;
  pending: number;
  deferrals: RecipientDeferral[];
  /**
   * Outcomes not yet in the queue file. They are written when qmgr is done with the file
   * for now: a message whose recipients are all done is removed instead, so its outcomes
   * need no fsync at all. A crash before that redoes them; Maildir delivery recognises
   * its own earlier copy by the delivery name, so nothing is delivered twice there.
   */
  unrecorded: RecipientOutcome[];
  /** Every recipient was already done when the file was activated: a notice still owed. */
  noticeOwed: boolean;
  /**
   * Whether a report log (bounce/ID) may exist: the bounce service writes one only for a
   * failure notice, which qmgr asks for after recording the failed outcomes in the file. A
   * file with no outcome recorded when activated, and no notice asked for since, has none:
   * its removal needs no look in bounce/.
   */
  reportLogPossible: boolean;
}

interface Job {
  msg: ActiveMessage;
  index: number;
  resolved: Resolved;
}

interface TransportState {
  running: number;
  dests: Map<string, { running: number; jobs: Job[] }>;
}

export class Scheduler {
  private active = new Map<string, ActiveMessage>();
  private transports = new Map<string, TransportState>();
  private scanning = false;
  private rescan = "";
  private lastDeferredScan = 0;
  /** The last incoming/ scan stopped at the active limit: files may be waiting there. */
  private incomingBacklog = false;
  /** deferred/ holds mail this process will retry (seen by the last scan, or deferred since). */
  private deferredWaiting = false;
  private stopped = false;

  constructor(
    private readonly s: QmgrSettings,
    private readonly agents: AgentPool,
    private readonly log: Logger,
    private readonly onIdle: () => void,
  ) {}

  get busy(): boolean {
    return this.active.size > 0 || this.scanning;
  }

  /**
   * Busy, or mail waits in deferred/ for its next attempt: qmgr then stays (Postfix's qmgr
   * ignores max_idle), so that retries come every queue_run_delay, not at master's wake-up.
   */
  get holdsWork(): boolean {
    return this.busy || this.deferredWaiting;
  }

  /** Crash recovery, then a full scan. */
  async start(): Promise<void> {
    for (const id of listQueue(this.s.queueDir, "active")) {
      await moveQueueFile(this.s.queueDir, id, "active", "incoming", { durable: false }).catch(
        (err: unknown) => this.log.warning(`${id}: cannot requeue from active: ${errorText(err)}`),
      );
    }
    this.wakeup("A");
  }

  stop(): Promise<void> {
    this.stopped = true;
    return new Promise((resolve) => {
      const check = () => (this.active.size === 0 ? resolve() : setTimeout(check, 50));
      check();
    });
  }

  /** Trigger letters: I incoming, D due deferred, F all deferred now, A/T/W incoming + deferred when due. */
  wakeup(request: string): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescan += request || "I";
      return;
    }
    this.scanning = true;
    void this.runScans(request || "I").finally(() => {
      this.scanning = false;
      const again = this.rescan;
      this.rescan = "";
      if (again) this.wakeup(again);
      else if (!this.busy) this.onIdle();
    });
  }

  private async runScans(request: string): Promise<void> {
    const flush = request.includes("F");
    const deferredDue =
      flush || request.includes("D") || Date.now() - this.lastDeferredScan >= this.s.queueRunDelayMs;
    await this.scan("incoming", false);
    if (deferredDue && (flush || /[DATW]/.test(request) || this.lastDeferredScan === 0)) {
      this.lastDeferredScan = Date.now();
      await this.scan("deferred", flush);
      await this.sweepTemps();
    }
  }

  private async scan(queue: QueueName, flush: boolean): Promise<void> {
    if (queue === "incoming") this.incomingBacklog = false;
    let waiting = false;
    try {
      for (const id of listQueue(this.s.queueDir, queue)) {
        if (this.stopped) break;
        if (this.active.size >= this.s.activeLimit) {
          if (queue === "incoming") this.incomingBacklog = true;
          waiting = true;
          break;
        }
        if (this.active.has(id)) continue;
        if (queue === "deferred" && !flush && !this.due(id)) {
          waiting = true;
          continue;
        }
        await this.activate(queue, id);
      }
      if (queue === "deferred") this.deferredWaiting = waiting;
    } catch (err) {
      this.log.warning(`scan ${queue}: ${errorText(err)}`);
    }
  }

  /** Remove what writers that died before commit left in incoming/ (their clients got no 250). */
  private async sweepTemps(): Promise<void> {
    const n = await removeStaleTemps(this.s.queueDir, "incoming", this.s.staleTempMs).catch(() => 0);
    if (n > 0) this.log.info(`removed ${n} stale temporary file${n === 1 ? "" : "s"} from incoming`);
  }

  private due(id: string): boolean {
    try {
      return statSync(queuePath(this.s.queueDir, "deferred", id)).mtimeMs <= Date.now();
    } catch {
      return false;
    }
  }

  private async activate(from: QueueName, id: string): Promise<void> {
    try {
      await moveQueueFile(this.s.queueDir, id, from, "active", { durable: false });
    } catch (err) {
      this.log.warning(`${id}: cannot move to active: ${errorText(err)}`);
      return;
    }
    let info: QueueFileInfo;
    try {
      info = readQueueFileSync(queuePath(this.s.queueDir, "active", id));
    } catch (err) {
      if (err instanceof QueueFileError) {
        this.log.warning(`${id}: corrupt queue file (${err.reason}); moved to corrupt`);
        await markCorrupt(this.s.queueDir, "active", id).catch(() => undefined);
      } else this.log.warning(`${id}: cannot read queue file: ${errorText(err)}`);
      return;
    }
    const env = info.envelope;
    this.log.info(
      `${id}: from=<${env.sender}>, size=${info.contentLength}, nrcpt=${env.recipients.length} (queue active)`,
    );
    const msg: ActiveMessage = {
      info,
      activeTime: Date.now(),
      pending: 0,
      deferrals: [],
      unrecorded: [],
      noticeOwed: info.done.size >= env.recipients.length,
      reportLogPossible: info.done.size > 0,
    };
    this.active.set(id, msg);
    const expired = this.expired(info);
    for (const [index, r] of env.recipients.entries()) {
      if (info.done.has(index)) continue;
      if (expired) {
        this.expire(msg, index);
        continue;
      }
      msg.pending++;
      this.enqueue({ msg, index, resolved: resolveRecipient(r.address, this.s.localDomains) });
    }
    if (expired) this.log.info(`${id}: from=<${env.sender}>, status=expired, returned to sender`);
    if (msg.pending === 0) await this.finish(msg);
  }

  private expired(info: QueueFileInfo): boolean {
    if (info.attempts === 0) return false;
    const lifetime =
      info.envelope.sender === "" ? this.s.bounceQueueLifetimeMs : this.s.maximalQueueLifetimeMs;
    return Date.now() - info.envelope.arrivalTime > lifetime;
  }

  private expire(msg: ActiveMessage, index: number): void {
    const last = msg.info.deferred.get(index);
    const outcome = {
      index,
      status: "expired" as const,
      dsn: last?.dsn.replace(/^4/, "5") ?? "5.4.7",
      relay: last?.relay ?? "none",
      text: last?.text ?? "delivery time expired",
      time: Date.now(),
    };
    msg.info.done.set(index, outcome);
    msg.unrecorded.push(outcome);
  }

  private enqueue(job: Job): void {
    const t = this.transportState(job.resolved.transport);
    const d = t.dests.get(job.resolved.destination) ?? { running: 0, jobs: [] };
    d.jobs.push(job);
    t.dests.set(job.resolved.destination, d);
    this.pump(job.resolved.transport);
  }

  private transportState(name: string): TransportState {
    let t = this.transports.get(name);
    if (!t) {
      t = { running: 0, dests: new Map() };
      this.transports.set(name, t);
    }
    return t;
  }

  private destLimit(transport: string): number {
    return transport === "local" ? this.s.localDestinationLimit : this.s.destinationLimit;
  }

  /** Start as many queued jobs of a transport as its limits allow. */
  private pump(transport: string): void {
    const t = this.transportState(transport);
    const limit = this.destLimit(transport);
    for (const [dest, d] of t.dests) {
      while (t.running < this.s.transportLimit && d.running < limit && d.jobs.length > 0) {
        const job = d.jobs.shift() as Job;
        t.running++;
        d.running++;
        void this.run(job).finally(() => {
          t.running--;
          d.running--;
          if (d.running === 0 && d.jobs.length === 0) t.dests.delete(dest);
          this.pump(transport);
        });
      }
      if (t.running >= this.s.transportLimit) break;
    }
  }

  private async run(job: Job): Promise<void> {
    const { msg, index, resolved } = job;
    const info = msg.info;
    const rcpt = info.envelope.recipients[index];
    if (!rcpt) return;
    let reply: DeliveryReply;
    if (!transportAvailable(this.s.queueDir, resolved.transport)) {
      reply = {
        status: "deferred",
        dsn: "4.3.0",
        relay: "none",
        text: `mail transport unavailable: no ${resolved.transport} service in master.cf`,
      };
      this.logDeferredHere(msg, index, reply);
    } else {
      reply = await this.agents
        .deliver(resolved.transport, {
          op: "deliver",
          queueId: info.id,
          path: info.path,
          index,
          recipient: rcpt.address,
          ...(rcpt.orcpt ? { orcpt: rcpt.orcpt } : {}),
          ...(rcpt.notify ? { notify: rcpt.notify } : {}),
          sender: info.envelope.sender,
          arrival: info.envelope.arrivalTime,
          activeTime: msg.activeTime,
          attrs: info.envelope.attrs,
          contentOffset: info.contentOffset,
          contentLength: info.contentLength,
        })
        .catch((err: unknown) => {
          const r: DeliveryReply = {
            status: "deferred",
            dsn: "4.3.0",
            relay: "none",
            text: `unknown mail transport error: ${errorText(err)}`,
          };
          this.logDeferredHere(msg, index, r);
          return r;
        });
    }
    await this.recordReply(msg, index, reply);
    msg.pending--;
    if (msg.pending === 0) await this.finish(msg);
  }

  /** Deferrals decided by qmgr itself are logged by qmgr, as Postfix's qmgr does. */
  private logDeferredHere(msg: ActiveMessage, index: number, r: DeliveryReply): void {
    const rcpt = msg.info.envelope.recipients[index];
    const delays = formatDelays(
      msg.info.envelope.arrivalTime,
      msg.activeTime,
      Date.now(),
      Date.now(),
      Date.now(),
    );
    this.log.info(
      `${msg.info.id}: to=<${rcpt?.address ?? ""}>, relay=${r.relay}, ${delays}, dsn=${r.dsn}, status=deferred (${r.text})`,
    );
  }

  private async recordReply(msg: ActiveMessage, index: number, r: DeliveryReply): Promise<void> {
    const now = Date.now();
    if (r.status === "deferred") {
      msg.deferrals.push({ index, dsn: r.dsn, relay: r.relay, text: r.text, time: now });
      return;
    }
    const outcome = { index, status: r.status, dsn: r.dsn, relay: r.relay, text: r.text, time: now };
    msg.info.done.set(index, outcome);
    msg.unrecorded.push(outcome);
  }

  private async finish(msg: ActiveMessage): Promise<void> {
    const { info } = msg;
    try {
      const allDone = info.done.size >= info.envelope.recipients.length;
      const failed = [...info.done.values()].some((o) => o.status !== "sent");
      const newlyFailed = msg.unrecorded.some((o) => o.status !== "sent") || msg.noticeOwed;
      // The bounce service reads outcomes from the file: write them before asking for a notice.
      if (!allDone || (failed && newlyFailed)) await this.writeOutcomes(msg);
      if (failed && newlyFailed) msg.reportLogPossible = true;
      const noticeSent = failed && newlyFailed ? await this.notice(info, "failure") : true;
      if (allDone && noticeSent) {
        // Alone: no other message waits on this event loop, so a blocking unlink costs nothing
        // but saves the thread pool's round trip (see removeQueueFile).
        const alone = this.active.size === 1;
        await removeQueueFile(this.s.queueDir, info.id, "active", { blocking: alone });
        if (msg.reportLogPossible) await removeReportLog(this.s.queueDir, info.id).catch(() => undefined);
        this.log.info(`${info.id}: removed`);
      } else {
        if (!allDone) await this.maybeWarn(info);
        const next = Date.now() + this.backoff(info.attempts + 1);
        await appendDeferral(info.path, msg.deferrals, next);
        await moveQueueFile(this.s.queueDir, info.id, "active", "deferred", { durable: false });
        utimesSync(queuePath(this.s.queueDir, "deferred", info.id), next / 1000, next / 1000);
        this.deferredWaiting = true;
      }
    } catch (err) {
      this.log.warning(`${info.id}: cannot finish queue file: ${errorText(err)}`);
    }
    this.active.delete(info.id);
    if (!this.busy) this.onIdle();
    if (this.incomingBacklog && this.active.size < this.s.activeLimit && !this.stopped) this.wakeup("I");
  }

  private async writeOutcomes(msg: ActiveMessage): Promise<void> {
    for (const o of msg.unrecorded) await appendOutcome(msg.info.path, o);
    msg.unrecorded = [];
  }

  /** Ask the bounce service for a notice; false keeps the message queued to ask again. */
  private async notice(info: QueueFileInfo, kind: "failure" | "delay"): Promise<boolean> {
    if (!transportAvailable(this.s.queueDir, "bounce")) {
      this.log.warning(`${info.id}: no bounce service in master.cf: sender not notified`);
      return true;
    }
    try {
      const r = await this.agents.call<{ ok: boolean; text?: string }>("bounce", {
        op: "bounce",
        kind,
        queueId: info.id,
        path: info.path,
      });
      if (!r.ok) this.log.warning(`${info.id}: ${kind} notice failed: ${r.text ?? "unknown error"}`);
      return r.ok;
    } catch (err) {
      this.log.warning(`${info.id}: ${kind} notice failed: ${errorText(err)}`);
      return false;
    }
  }

  /** delay_warning_time: one delay notice per message once it has waited that long. */
  private async maybeWarn(info: QueueFileInfo): Promise<void> {
    if (this.s.delayWarningMs <= 0 || info.warned || info.envelope.sender === "") return;
    if (Date.now() - info.envelope.arrivalTime < this.s.delayWarningMs) return;
    if (await this.notice(info, "delay")) await appendWarning(info.path, Date.now());
  }

  private backoff(attempts: number): number {
    const ms = this.s.minimalBackoffMs * 2 ** Math.min(attempts - 1, 20);
    return Math.min(Math.max(ms, this.s.minimalBackoffMs), this.s.maximalBackoffMs);
  }
}
