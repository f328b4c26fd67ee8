/*
 * deliver — one recipient of one queued message over SMTP (Postfix's smtp_connect.c +
 * smtp_trouble.c): resolve the next hop, try its addresses in order (the next one after a
 * connection failure or a refused greeting/EHLO, as with backup MX hosts), reuse a cached
 * session when there is one, and turn what happened into a DeliveryReply:
 *   2xx → sent; 4xx, connection trouble, timeouts → deferred; 5xx → bounced.
 * Also returns the "connected" instant for the c/d split of Postfix's delays= field.
 * Talks to DNS (nexthop.ts) and remote servers (session.ts). Security: the texts built here
 * quote remote replies only after reply.ts cleaned them.
 */
import type { promises as dns } from "node:dns";
import type { DeliveryReply } from "../qmgr/agents.js";
import { SessionCache } from "./cache.js";
import { ConnectionFailure, type Peer, peerName } from "./connection.js";
import { type NexthopConfig, resolveTargets, type Target } from "./nexthop.js";
import { replyDsn, replyText } from "./reply.js";
import {
  type OutboundMessage,
  type SendResult,
  type SessionOptions,
  SessionRefused,
  SmtpSession,
} from "./session.js";

export interface SmtpDeliveryDeps {
  readonly nexthop: NexthopConfig;
  readonly resolver: dns.Resolver;
  readonly session: SessionOptions;
  readonly cache: SessionCache;
  /** Details of unexpected errors, for the maillog (the reply says only "internal error"). */
  readonly onWarning?: (text: string) => void;
}

export interface SmtpAttempt {
  readonly reply: DeliveryReply;
  /** When the session was ready for MAIL FROM (ms since the epoch); undefined when none was. */
  readonly connectedAt: number | undefined;
}

function statusOf(dsn: string): DeliveryReply["status"] {
  return dsn.startsWith("5") ? "bounced" : dsn.startsWith("2") ? "sent" : "deferred";
}

function relayOf(peer: Peer): string {
  return `${peerName(peer)}:${peer.port}`;
}

/** The DSN Postfix gives network trouble: 4.4.1 no connection, 4.4.2 lost/timed out, 4.7.5 TLS. */
function failureDsn(err: ConnectionFailure, connected: boolean): string {
  if (err.kind === "tls") return "4.7.5";
  return connected ? "4.4.2" : "4.4.1";
}

/** Map a transaction's result to the reply qmgr records. */
export function resultReply(result: SendResult, peer: Peer): DeliveryReply {
  const relay = relayOf(peer);
  if (result.kind === "refused")
    return { status: statusOf(result.dsn), dsn: result.dsn, relay, text: result.text };
  const dsn = replyDsn(result.reply);
  if (result.kind === "sent") return { status: "sent", dsn, relay, text: replyText(result.reply) };
  const text = `host ${peerName(peer)} said: ${replyText(result.reply)} (in reply to ${result.command} command)`;
  const status = result.reply.code >= 500 ? "bounced" : "deferred";
  return { status, dsn: status === "bounced" && !dsn.startsWith("5") ? "5.0.0" : dsn, relay, text };
}

/** Deliver one message to one recipient. Never throws: every failure becomes a reply. */
export async function deliverSmtp(msg: OutboundMessage, deps: SmtpDeliveryDeps): Promise<SmtpAttempt> {
  const resolved = await resolveTargets(msg.recipient, deps.nexthop, deps.resolver).catch(
    (err: unknown) =>
      ({
        ok: false,
        error: { temporary: true, dsn: "4.4.3", text: `next-hop lookup failed: ${String(err)}` },
      }) as const,
  );
  if (!resolved.ok) {
    const { dsn, text } = resolved.error;
    return { reply: { status: statusOf(dsn), dsn, relay: "none", text }, connectedAt: undefined };
  }
  let last: DeliveryReply = { status: "deferred", dsn: "4.4.3", relay: "none", text: "no next hop" };
  for (const target of resolved.targets) {
    const tried = await tryTarget(msg, target, deps);
    if (tried.final) return tried.attempt;
    last = tried.attempt.reply;
  }
  return { reply: last, connectedAt: undefined };
}

type Tried = { final: boolean; attempt: SmtpAttempt };

async function openSession(target: Target, deps: SmtpDeliveryDeps): Promise<SmtpSession | DeliveryReply> {
  const peer: Peer = { hostname: target.hostname, address: target.address, port: target.port };
  const cached = await deps.cache.take(SessionCache.key(target.hostname, target.address, target.port));
  if (cached) return cached;
  try {
    return await SmtpSession.establish(peer, deps.session);
  } catch (err) {
    if (err instanceof SessionRefused)
      return { status: statusOf(err.dsn), dsn: err.dsn, relay: relayOf(peer), text: err.message };
    if (err instanceof ConnectionFailure) {
      const connected = err.kind !== "refused" && !err.message.startsWith("connect to ");
      const relay = connected ? relayOf(peer) : "none";
      return { status: "deferred", dsn: failureDsn(err, connected), relay, text: err.message };
    }
    throw err;
  }
}

async function tryTarget(msg: OutboundMessage, target: Target, deps: SmtpDeliveryDeps): Promise<Tried> {
  const session = await openSession(target, deps);
  if (!(session instanceof SmtpSession))
    return { final: false, attempt: { reply: session, connectedAt: undefined } };
  const connectedAt = Date.now();
  try {
    const result = await session.send(msg);
    deps.cache.put(SessionCache.key(target.hostname, target.address, target.port), session);
    return { final: true, attempt: { reply: resultReply(result, session.peer), connectedAt } };
  } catch (err) {
    session.conn.destroy();
    const reply: DeliveryReply =
      err instanceof ConnectionFailure
        ? { status: "deferred", dsn: failureDsn(err, true), relay: relayOf(session.peer), text: err.message }
        : internalError(err, session.peer, deps);
    return { final: true, attempt: { reply, connectedAt } };
  }
}

function internalError(err: unknown, peer: Peer, deps: SmtpDeliveryDeps): DeliveryReply {
  deps.onWarning?.(`delivery via ${relayOf(peer)}: ${err instanceof Error ? err.message : String(err)}`);
  return { status: "deferred", dsn: "4.3.0", relay: relayOf(peer), text: "mail system internal error" };
}
