/*
 * service — the bounce daemon's side of qmgr's requests (Postfix's bounce(8)), on
 * queue_directory/private/bounce, framed by lib/ipc:
 *   qmgr:   {op:"bounce", kind:"failure"|"delay", queueId, path}
 *   bounce: {ok:true, dsnId}   (dsnId null when there was nothing to send)
 *         | {ok:false, text}   (qmgr keeps the message and asks again later)
 * It reads the queue file, picks the recipients to report (select.ts), builds the RFC 3464
 * notice (dsn.ts) and queues it through cleanup, answering only once it is durable.
 *
 * Who gets a notice, as in Postfix (no loops by construction):
 *   - mail from a normal sender: failure and delay notices to the sender, from "<>";
 *   - mail from the null sender (a bounce that itself bounced): a failure notice goes to
 *     2bounce_notice_recipient (postmaster) from double-bounce@$myorigin; no delay notice;
 *   - mail from double-bounce@$myorigin (an undeliverable postmaster notice): discarded,
 *     with a warning. So a failing bounce ends at postmaster, once.
 * Log lines: "ID: sender non-delivery notification: NEWID", "ID: sender delay
 * notification: NEWID", "ID: postmaster non-delivery notification: NEWID".
 *
 * Security: runs unprivileged (mail_owner). Requests come from qmgr, but the path is still
 * checked to be the queue file of that queue ID, so the service reads nothing else.
 */
import type { Socket } from "node:net";
import type { CleanupHandle } from "../cleanup/client.js";
import type { CleanupBegin } from "../cleanup/protocol.js";
import { serveRequests } from "../ipc/index.js";
import { errorText, type Logger } from "../log/index.js";
import { isQueueId, openContent, type QueueFileInfo, queuePath, readQueueFile } from "../queue/index.js";
import { buildDsn, type DsnKind } from "./dsn.js";
import { type NoticeKind, readReported, recordReported, selectRecipients } from "./select.js";

export interface BounceRequest {
  op: "bounce";
  kind: NoticeKind;
  queueId: string;
  path: string;
}

export type BounceReply = { ok: true; dsnId: string | null } | { ok: false; text: string };

export interface BounceSettings {
  queueDir: string;
  myhostname: string;
  myorigin: string;
  /** 2bounce_notice_recipient: where undeliverable bounces go. */
  postmaster: string;
  /** double_bounce_sender: the local part of postmaster notices' sender. */
  doubleBounceSender?: string;
  maximalQueueLifetimeMs: number;
  /** Originals above this size are returned as headers only. */
  returnSizeLimit: number;
  timeoutMs: number;
}

/** What the service needs of CleanupClient (an interface, so tests may count calls). */
export interface NoticeQueue {
  open(begin: Omit<CleanupBegin, "op">): Promise<CleanupHandle>;
}

export interface BounceService {
  settings: BounceSettings;
  cleanup: NoticeQueue;
  log: Logger;
}

const QUEUES_ASKED_ABOUT = ["incoming", "active", "deferred", "hold"] as const;

export function isBounceRequest(m: unknown): m is BounceRequest {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r["op"] === "bounce" &&
    (r["kind"] === "failure" || r["kind"] === "delay") &&
    typeof r["queueId"] === "string" &&
    typeof r["path"] === "string"
  );
}

/** Serve one qmgr connection: any number of requests, one at a time. */
export function serveBounce(socket: Socket, svc: BounceService): Promise<void> {
  return serveRequests(socket, {
    timeoutMs: svc.settings.timeoutMs,
    isRequest: isBounceRequest,
    handle: (req) => handleBounce(req, svc),
    warn: (text) => svc.log.warning(text),
  });
}

/** Requests for one message run one after another, so the report log stays exact. */
const perMessage = new Map<string, Promise<unknown>>();

export function handleBounce(req: BounceRequest, svc: BounceService): Promise<BounceReply> {
  const before = perMessage.get(req.queueId) ?? Promise.resolve();
  const run = before.then(() => notify(req, svc));
  const settled = run.catch(() => undefined);
  perMessage.set(req.queueId, settled);
  void settled.then(() => {
    if (perMessage.get(req.queueId) === settled) perMessage.delete(req.queueId);
  });
  return run;
}

function validPath(req: BounceRequest, queueDir: string): boolean {
  if (!isQueueId(req.queueId)) return false;
  return QUEUES_ASKED_ABOUT.some((q) => queuePath(queueDir, q, req.queueId) === req.path);
}

interface Target {
  kind: DsnKind;
  to: string;
  sender: string;
  label: string;
}

/** Who receives the notice for this message, or null when none may be sent. */
function noticeTarget(info: QueueFileInfo, kind: NoticeKind, s: BounceSettings): Target | null {
  const sender = info.envelope.sender;
  const doubleBounce = `${s.doubleBounceSender ?? "double-bounce"}@${s.myorigin}`.toLowerCase();
  if (sender.toLowerCase() === doubleBounce) return null;
  if (sender === "") {
    if (kind === "delay") return null;
    return { kind: "postmaster", to: s.postmaster, sender: doubleBounce, label: "postmaster non-delivery" };
  }
  const label = kind === "failure" ? "sender non-delivery" : "sender delay";
  return { kind, to: sender, sender: "", label };
}

async function notify(req: BounceRequest, svc: BounceService): Promise<BounceReply> {
  const s = svc.settings;
  if (!validPath(req, s.queueDir)) {
    svc.log.warning(`bounce request for ${JSON.stringify(req.queueId)}: not a queue file path`);
    return { ok: false, text: "bad request" };
  }
  let info: QueueFileInfo;
  try {
    info = await readQueueFile(req.path);
  } catch (err) {
    svc.log.warning(`${req.queueId}: cannot read queue file: ${errorText(err)}`);
    return { ok: false, text: "cannot read queue file" };
  }
  try {
    return await notifyFor(info, req.kind, svc);
  } catch (err) {
    svc.log.warning(`${info.id}: cannot queue ${req.kind} notification: ${errorText(err)}`);
    return { ok: false, text: "cannot queue notification" };
  }
}

async function notifyFor(info: QueueFileInfo, kind: NoticeKind, svc: BounceService): Promise<BounceReply> {
  const s = svc.settings;
  const reported = kind === "failure" ? await readReported(s.queueDir, info.id) : new Set<number>();
  const recipients = selectRecipients(info, kind, reported);
  if (recipients.length === 0) return { ok: true, dsnId: null };
  const target = noticeTarget(info, kind, s);
  if (target === null) {
    if (kind === "failure") {
      svc.log.warning(`${info.id}: undeliverable postmaster notification discarded`);
      await recordReported(
        s.queueDir,
        info.id,
        recipients.map((r) => r.index),
      );
    }
    return { ok: true, dsnId: null };
  }
  const dsnId = await queueNotice(info, target, recipients, svc);
  if (kind === "failure")
    await recordReported(
      s.queueDir,
      info.id,
      recipients.map((r) => r.index),
    );
  svc.log.info(`${info.id}: ${target.label} notification: ${dsnId}`);
  return { ok: true, dsnId };
}

async function queueNotice(
  info: QueueFileInfo,
  target: Target,
  recipients: ReturnType<typeof selectRecipients>,
  svc: BounceService,
): Promise<string> {
  const s = svc.settings;
  const handle = await svc.cleanup.open({
    envelope: {
      sender: target.sender,
      recipients: [{ address: target.to }],
      attrs: { origin: "bounce", notice_of: info.id },
    },
    inputIsCrlf: false,
  });
  try {
    const chunks = buildDsn(info, {
      kind: target.kind,
      recipients,
      myhostname: s.myhostname,
      to: target.to,
      openContent: () => openContent(info),
      willRetryUntil: info.envelope.arrivalTime + s.maximalQueueLifetimeMs,
      returnSizeLimit: s.returnSizeLimit,
    });
    for await (const chunk of chunks) await handle.write(chunk);
    return (await handle.finish()).id;
  } catch (err) {
    await handle.abort().catch(() => undefined);
    throw err;
  }
}
