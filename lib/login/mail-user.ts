/*
 * mail-user — who a POP3/IMAP mail process is while it serves one session. When it runs
 * as root (master.cf unpriv n, needed when system users' mail lives in their homes), it
 * becomes the owner of the mail it serves before it opens anything: the uid/gid the userdb
 * gave (system users, passwd-file entries with ids), else virtual_uid — Dovecot's mail
 * processes do the same. A root process can only switch once, so it must serve one session
 * and exit: master.cf gives such services -o worker_connection_limit=1 -o max_use=1.
 * A shared root process (several sessions) is refused for users it would have to switch to,
 * rather than reading their mail as root.
 * Talks to: /etc/passwd (virtual_uid by name). Security: never serves mail as uid 0 unless it
 * already runs as that uid (a sandbox run by root).
 */

import type { Socket } from "node:net";
import { fileSignature } from "../io/file-signature.js";
import type { Logger } from "../log/index.js";
import { lookupUser, readSystemAccounts } from "../master/accounts.js";
import { type LoginHandoff, parseHandoff, readHandoffFrame, writeHandoffFrame } from "./handoff.js";

export interface MailUserOptions {
  /** virtual_uid: the owner of virtual users' mail when the userdb gives no uid. */
  readonly virtualUser: string;
  /** The process serves only this session (worker_connection_limit = 1 and max_use = 1). */
  readonly singleSession: boolean;
}

export type MailUserResult =
  | { readonly ok: true; readonly switched: boolean }
  | { readonly ok: false; readonly reason: string };

type Ids = { uid: number; gid: number };

/**
 * virtual_uid's ids, looked up again only when /etc/passwd changed (a process serving
 * several sessions would otherwise read and parse /etc/passwd and /etc/group for each).
 */
let virtualIds: { name: string; stamp: string; ids: Ids | undefined } | undefined;

function virtualUserIds(name: string): Ids | undefined {
  const stamp = fileSignature("/etc/passwd");
  if (stamp !== undefined && virtualIds?.name === name && virtualIds.stamp === stamp) return virtualIds.ids;
  const user = lookupUser(readSystemAccounts(), name);
  const ids = user === undefined ? undefined : { uid: user.uid, gid: user.gid };
  virtualIds = stamp === undefined ? undefined : { name, stamp, ids };
  return ids;
}

function target(h: LoginHandoff, virtualUser: string): Ids | undefined {
  if (h.uid !== undefined) return { uid: h.uid, gid: h.gid ?? h.uid };
  return virtualUserIds(virtualUser);
}

/** Become the mail's owner if running as root; see the header for the rules. */
export function becomeMailUser(h: LoginHandoff, opts: MailUserOptions): MailUserResult {
  const self = process.getuid?.();
  if (self !== 0) return { ok: true, switched: false };
  const ids = target(h, opts.virtualUser);
  if (ids === undefined) return { ok: false, reason: `virtual_uid ${opts.virtualUser}: no such user` };
  if (ids.uid === self) return { ok: true, switched: false };
  if (!opts.singleSession)
    return {
      ok: false,
      reason:
        "running as root and serving several sessions per process: cannot switch to the mail owner; " +
        "give this master.cf service -o worker_connection_limit=1 -o max_use=1, or unpriv y",
    };
  process.setgroups?.([ids.gid]);
  process.setgid?.(ids.gid);
  process.setuid?.(ids.uid);
  return { ok: true, switched: true };
}

/** A session the mail process accepted: over the login process' relay, or the client's own socket. */
export interface ReceivedSession {
  readonly handoff: LoginHandoff;
  /** Client bytes that followed the hand-off frame (relay only). */
  readonly rest: Buffer;
  /** The socket is the client's (master passed it): answer the client, not the login process. */
  readonly direct: boolean;
}

export interface ReceiveOptions {
  service: string;
  timeoutMs: number;
  mailUser: MailUserOptions;
  log: Logger;
  /** The hand-off master passed with the client's socket; absent: read it from the socket. */
  passed?: unknown;
  /** What the client is told when its session is refused (passed sockets only). */
  refusal: (h: LoginHandoff | undefined) => Buffer;
}

/**
 * The mail process' side of the hand-off: read it (or take the one passed with the client's
 * socket), check it, become the mail's owner. Refusals are answered to the login process
 * (which tells the client) or to the client directly, and logged; undefined then, and the
 * connection is closed.
 */
export async function receiveSession(
  socket: Socket,
  opts: ReceiveOptions,
): Promise<ReceivedSession | undefined> {
  const direct = opts.passed !== undefined;
  const { msg, rest } = direct
    ? { msg: opts.passed, rest: Buffer.alloc(0) }
    : await readHandoffFrame(socket, opts.timeoutMs);
  const handoff = parseHandoff(msg);
  if (handoff === undefined) {
    opts.log.warning(`${opts.service}: malformed hand-off from the login process`);
    await refuseSession(socket, direct, "malformed hand-off", opts.refusal(undefined));
    return undefined;
  }
  const who = becomeMailUser(handoff, opts.mailUser);
  if (!who.ok) {
    opts.log.error(`${opts.service}(${handoff.user}): ${who.reason}`);
    await refuseSession(socket, direct, "cannot switch to the mail owner", opts.refusal(handoff));
    return undefined;
  }
  return { handoff, rest, direct };
}

/**
 * Refuse a received session: a frame to the login process, or the protocol's answer to the
 * client; resolves when the connection is closed (at most 5 s later).
 */
export function refuseSession(
  socket: Socket,
  direct: boolean,
  reason: string,
  answer: Buffer,
): Promise<void> {
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  if (direct) socket.end(answer);
  else {
    writeHandoffFrame(socket, { ok: false, reason });
    socket.end();
  }
  setTimeout(() => socket.destroy(), 5000).unref();
  return closed;
}

/** Accept the session: tell the login process our pid, or take the client over from it. */
export function acceptSession(socket: Socket, direct: boolean): void {
  // Replies leave in several writes and the client waits for each: without TCP_NODELAY, as
  // the login process sets it, Nagle would hold them back until a delayed ACK.
  if (direct) socket.setNoDelay(true);
  else writeHandoffFrame(socket, { ok: true, pid: process.pid });
}
