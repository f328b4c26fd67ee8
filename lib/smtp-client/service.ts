/*
 * service — the smtp delivery agent's side of qmgr's requests (Postfix's smtp(8)): one
 * request = one recipient of one queued message, read over lib/ipc on
 * queue_directory/private/smtp. Builds the outbound message from the queue file (content at
 * contentOffset/contentLength, LF endings), runs deliver.ts, logs Postfix's line
 *   "ID: to=<u@d>, relay=host[ip]:port, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 ...)"
 * and answers qmgr, which records the outcome in the queue file. A success is first recorded
 * in the queue file by the agent itself, as Postfix's smtp marks a recipient done: if qmgr
 * dies before it hears the reply, the next qmgr does not send the message again.
 * Runs unprivileged (mail_owner); reads queue files and appends status records to them,
 * talks to DNS and remote SMTP servers.
 */
import { createReadStream } from "node:fs";
import type { Socket } from "node:net";
import { Readable } from "node:stream";
import { serveRequests } from "../ipc/index.js";
import { errorText, type Logger } from "../log/index.js";
import type { DeliveryReply, DeliveryRequest } from "../qmgr/agents.js";
import { formatDelays } from "../qmgr/delays.js";
import { appendOutcome } from "../queue/ops.js";
import { deliverSmtp, type SmtpDeliveryDeps } from "./deliver.js";
import type { OutboundMessage } from "./session.js";

/** qmgr's request; notify is the recipient's DSN NOTIFY (qmgr passes it once it knows it). */
export type SmtpDeliveryRequest = DeliveryRequest & { notify?: string };

export interface SmtpService {
  readonly deps: SmtpDeliveryDeps;
  readonly log: Logger;
  readonly timeoutMs: number;
}

function isRequest(m: unknown): m is SmtpDeliveryRequest {
  if (typeof m !== "object" || m === null) return false;
  const r = m as Partial<SmtpDeliveryRequest>;
  return (
    r.op === "deliver" &&
    typeof r.path === "string" &&
    typeof r.recipient === "string" &&
    typeof r.sender === "string" &&
    typeof r.queueId === "string" &&
    typeof r.contentOffset === "number" &&
    typeof r.contentLength === "number"
  );
}

export function serveSmtp(socket: Socket, svc: SmtpService): Promise<void> {
  return serveRequests(socket, {
    timeoutMs: svc.timeoutMs,
    isRequest: isRequest,
    handle: (req) => deliverOne(req, svc),
    warn: (text) => svc.log.warning(text),
  });
}

const TRUE = /^(yes|true|1)$/i;

/** Whether the envelope or the message needs SMTPUTF8 (RFC 6531): non-ASCII addresses or the smtputf8 attribute. */
export function needsSmtputf8(req: SmtpDeliveryRequest): boolean {
  return TRUE.test(req.attrs["smtputf8"] ?? "") || /[^\x00-\x7f]/.test(req.sender + req.recipient);
}

export function outboundMessage(req: SmtpDeliveryRequest): OutboundMessage {
  const attrs = req.attrs;
  return {
    sender: req.sender,
    recipient: req.recipient,
    ...(req.orcpt ? { orcpt: req.orcpt } : {}),
    ...(req.notify ? { notify: req.notify } : {}),
    ...(attrs["ret"] ? { ret: attrs["ret"] } : {}),
    ...(attrs["envid"] ? { envid: attrs["envid"] } : {}),
    size: req.contentLength,
    needsSmtputf8: needsSmtputf8(req),
    eightBit: (attrs["body"] ?? "").toUpperCase() === "8BITMIME",
    open: () =>
      req.contentLength === 0
        ? Readable.from([])
        : createReadStream(req.path, {
            start: req.contentOffset,
            end: req.contentOffset + req.contentLength - 1,
          }),
  };
}

/** Deliver, log the Postfix line, return the reply for qmgr. */
export async function deliverOne(req: SmtpDeliveryRequest, svc: SmtpService): Promise<DeliveryReply> {
  const start = Date.now();
  const deps: SmtpDeliveryDeps = { ...svc.deps, onWarning: (t) => svc.log.warning(`${req.queueId}: ${t}`) };
  const { reply, connectedAt } = await deliverSmtp(outboundMessage(req), deps);
  const done = Date.now();
  const delays = formatDelays(req.arrival, req.activeTime, start, connectedAt ?? done, done);
  const orig =
    req.orcpt && bareOrcpt(req.orcpt).toLowerCase() !== req.recipient.toLowerCase()
      ? `, orig_to=<${bareOrcpt(req.orcpt)}>`
      : "";
  svc.log.info(
    `${req.queueId}: to=<${req.recipient}>${orig}, relay=${reply.relay}, ${delays}, dsn=${reply.dsn}, status=${reply.status} (${reply.text})`,
  );
  if (reply.status === "sent" && Number.isInteger(req.index)) await recordSent(req, reply, done, svc.log);
  return reply;
}

/**
 * The recipient's "sent" record, before qmgr hears of it (not fsynced: it guards against a
 * process dying, and qmgr removes the file or records durably itself). A file gone from
 * active/ (qmgr restarted and moved it, or gave up waiting) is not an error.
 */
async function recordSent(
  req: SmtpDeliveryRequest,
  reply: DeliveryReply,
  time: number,
  log: Logger,
): Promise<void> {
  const outcome = {
    index: req.index,
    status: "sent" as const,
    dsn: reply.dsn,
    relay: reply.relay,
    text: reply.text,
    time,
  };
  await appendOutcome(req.path, outcome, { sync: false }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      log.warning(
        `${req.queueId}: cannot record delivery to ${req.recipient} in the queue file: ${errorText(err)}`,
      );
  });
}

/** "rfc822;a+2Bb@x" → "a+b@x" (RFC 3461 xtext decoded); a plain address stays as is. */
export function bareOrcpt(orcpt: string): string {
  const semi = orcpt.indexOf(";");
  if (semi < 0) return orcpt;
  return orcpt
    .slice(semi + 1)
    .replace(/\+([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}
