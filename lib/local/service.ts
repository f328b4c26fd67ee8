/*
 * service — the local delivery agent's side of qmgr's requests (Postfix's local(8)):
 * one request = one recipient of one queued message. Runs lib/delivery's deliverLocal,
 * re-queues forwarded copies through cleanup, logs the Postfix delivery line
 * ("ID: to=<...>, relay=local, delay=..., delays=..., dsn=..., status=sent (delivered to
 * maildir)") and answers qmgr, which records the outcome in the queue file.
 * Runs as root in production (deliveries run as the recipient); unprivileged in a sandbox.
 * A message up to SMALL_CONTENT bytes is read from the queue file with one blocking pread
 * (microseconds from the page cache, where a read stream costs several thread-pool round
 * trips); larger ones are streamed, so memory stays bounded.
 */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import type { Socket } from "node:net";
import type { CleanupClient } from "../cleanup/client.js";
import { deliverLocal, type LocalDeliveryConfig, type LocalDeliveryDeps } from "../delivery/deliver.js";
import { serveRequests } from "../ipc/index.js";
import { errorText, type Logger } from "../log/index.js";
import type { DeliveryReply, DeliveryRequest } from "../qmgr/agents.js";
import { formatDelays } from "../qmgr/delays.js";

export interface LocalService {
  cfg: LocalDeliveryConfig;
  deps: LocalDeliveryDeps;
  cleanup: CleanupClient;
  log: Logger;
  timeoutMs: number;
}

function isRequest(m: unknown): m is DeliveryRequest {
  const r = m as DeliveryRequest;
  return (
    typeof m === "object" &&
    m !== null &&
    r.op === "deliver" &&
    typeof r.path === "string" &&
    typeof r.recipient === "string"
  );
}

export function serveLocal(socket: Socket, svc: LocalService): Promise<void> {
  return serveRequests(socket, {
    timeoutMs: svc.timeoutMs,
    isRequest: isRequest,
    handle: (req) => deliverOne(req, svc),
    warn: (text) => svc.log.warning(text),
  });
}

/** Largest content read whole into memory; above it, deliveries stream from the queue file. */
export const SMALL_CONTENT = 256 * 1024;

/** The content of a small message (as much as the file holds, like the stream), else undefined. */
export function readSmallContent(req: DeliveryRequest): Buffer | undefined {
  if (req.contentLength > SMALL_CONTENT) return undefined;
  const buf = Buffer.allocUnsafe(req.contentLength);
  if (req.contentLength === 0) return buf;
  const fd = openSync(req.path, "r");
  try {
    let got = 0;
    // Bounded: every round reads at least one byte or stops.
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, req.contentOffset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export async function deliverOne(req: DeliveryRequest, svc: LocalService): Promise<DeliveryReply> {
  const start = Date.now();
  const openContent = () =>
    req.contentLength === 0
      ? createReadStream("/dev/null")
      : createReadStream(req.path, {
          start: req.contentOffset,
          end: req.contentOffset + req.contentLength - 1,
        });
  let reply: DeliveryReply;
  try {
    const outcome = await deliverLocal(
      {
        queueId: req.queueId,
        sender: req.sender,
        recipient: req.recipient,
        ...(req.orcpt ? { originalRecipient: req.orcpt } : {}),
        arrival: new Date(req.arrival),
        deliveryId: `${Math.floor(req.arrival / 1000)}.P${req.queueId}_${req.index}`,
        openContent,
        readContent: () => readSmallContent(req),
      },
      svc.cfg,
      svc.deps,
    );
    if (outcome.detail) svc.log.warning(`${req.queueId}: ${outcome.detail}`);
    let text = outcome.text;
    if (outcome.status === "sent" && outcome.forwards && outcome.forwards.length > 0) {
      const id = await forward(req, outcome.forwards, outcome.forwardHeaders ?? "", openContent, svc);
      text = outcome.text.startsWith("delivered")
        ? `${outcome.text}, forwarded as ${id}`
        : `forwarded as ${id}`;
    }
    reply = { status: outcome.status, dsn: outcome.dsn, relay: "local", text };
  } catch (err) {
    svc.log.warning(`${req.queueId}: local delivery to ${req.recipient}: ${errorText(err)}`);
    reply = { status: "deferred", dsn: "4.3.0", relay: "local", text: "mail system internal error" };
  }
  const delays = formatDelays(req.arrival, req.activeTime, start, start);
  const orig =
    req.orcpt && req.orcpt.toLowerCase() !== req.recipient.toLowerCase() ? `, orig_to=<${req.orcpt}>` : "";
  svc.log.info(
    `${req.queueId}: to=<${req.recipient}>${orig}, relay=local, ${delays}, dsn=${reply.dsn}, status=${reply.status} (${reply.text})`,
  );
  return reply;
}

/** Re-queue a copy for forward destinations (aliases, .forward) with the original sender. */
async function forward(
  req: DeliveryRequest,
  to: string[],
  headers: string,
  openContent: () => NodeJS.ReadableStream,
  svc: LocalService,
): Promise<string> {
  const h = await svc.cleanup.open({
    envelope: {
      sender: req.sender,
      recipients: to.map((address) => ({ address })),
      attrs: { origin: "local", forwarded_from: req.queueId },
    },
    inputIsCrlf: false,
  });
  try {
    if (headers) await h.write(Buffer.from(headers));
    for await (const chunk of openContent()) await h.write(chunk as Buffer);
    return (await h.finish()).id;
  } catch (err) {
    await h.abort();
    throw err;
  }
}
