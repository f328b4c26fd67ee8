/*
 * session — one authenticated POP3 session in the pop3 mail process: takes the hand-off
 * from pop3-login (lib/login/handoff.ts), finds the user's Maildir or mbox (mailbox location as local
 * delivery computes it: userdb_mail, mail_location, home_mailbox), runs Pop3MailEngine
 * over the raw byte stream and logs Dovecot's logout line:
 *   pop3(alice): Disconnected: Logged out top=0/0, retr=1/1234, del=1/1, size=1234
 * RFC 1939 TRANSACTION/UPDATE states are the engine's; this file is wiring and logging.
 * Talks to: the client (its socket, passed by pop3-login through master) or pop3-login (the
 * Unix socket master handed over, for TLS sessions), the Maildir or mbox.
 * Security: runs as the mail owner; trusts the hand-off (private socket).
 */
import type { Socket } from "node:net";
import { mailboxLocation } from "../delivery/users.js";
import type { Logger } from "../log/index.js";
import { errorText } from "../log/index.js";
import { handoffUser, type LoginHandoff } from "../login/handoff.js";
import { acceptSession, receiveSession } from "../login/mail-user.js";
import { pop3Refusal } from "../login/refusals.js";
import { MailError } from "../mailbox/errors.js";
import { Pop3MailEngine, type Pop3MailEvent, type Pop3Store } from "../pop3/mail-engine.js";
import type { Pop3Output } from "../pop3/protocol.js";
import { MboxPop3Store } from "./mbox-store.js";
import type { Pop3dSettings } from "./settings.js";
import { formatLogout, MaildirPop3Store, newSessionStats, type Pop3SessionStats } from "./store.js";

export interface Pop3dShared {
  readonly settings: Pop3dSettings;
  readonly log: Logger;
}

/** A store that reports Dovecot's logout statistics. */
export type CountingPop3Store = Pop3Store & { readonly stats: Pop3SessionStats };

/** The store opener for one user: Maildir or mbox, wherever local delivery puts the mail. */
export function mailboxOpener(h: LoginHandoff, s: Pop3dSettings, onOpen: (st: CountingPop3Store) => void) {
  return async (): Promise<Pop3Store> => {
    const where = mailboxLocation(handoffUser(h), s);
    if ("error" in where) throw new MailError("temp", where.error);
    const store =
      where.format === "maildir"
        ? await MaildirPop3Store.open(where.path, { uidlFormat: s.uidlFormat })
        : await MboxPop3Store.open(where.path);
    onOpen(store);
    return store;
  };
}

/** While corked, replies are gathered in a buffer of this many bytes before a write. */
const BATCH_BYTES = 64 * 1024;

/**
 * Batch buffers no session holds. A session takes one when it first gathers output and gives
 * it back at uncork once the kernel took its bytes (a write that completed at once); one left
 * queued in the socket is the socket's. So in the steady state a reply costs no allocation.
 */
const freeBatches: Buffer[] = [];
const MAX_FREE_BATCHES = 4;

/**
 * The client side of the engine: socket writes with backpressure, and batching while the
 * engine works through pipelined commands (one write of up to 64 KiB instead of one per
 * reply; each write is a system call and a TCP segment, and for TLS a relay through pop3-login).
 * Replies are built straight into the batch (slot) or copied there.
 */
export function socketOutput(socket: Socket, touch: () => void): Pop3Output {
  let corked = false;
  let batch: Buffer | undefined;
  let used = 0;
  const send = (bytes: Buffer): Promise<void> | undefined => {
    touch();
    // write() says false whenever a chunk is over the high-water mark, even when the kernel
    // took it all at once: wait for drain only when something is really left queued.
    return socket.destroyed || socket.write(bytes) || socket.writableLength === 0
      ? undefined
      : new Promise<void>((resolve) => {
          const done = () => {
            socket.off("drain", done);
            socket.off("close", done);
            touch();
            resolve();
          };
          socket.once("drain", done);
          socket.once("close", done);
        });
  };
  /** True when `size` more bytes fit in the batch (taking a buffer if the session has none). */
  const room = (size: number): boolean => {
    if (size > BATCH_BYTES) return false;
    batch ??= freeBatches.pop() ?? Buffer.allocUnsafeSlow(BATCH_BYTES);
    return used + size <= BATCH_BYTES;
  };
  const flush = (): Promise<void> | undefined => {
    if (batch === undefined || used === 0) return undefined;
    const sent = send(batch.subarray(0, used));
    used = 0;
    // Still queued in the socket (a slow client): the buffer is the socket's now.
    if (socket.writableLength !== 0) batch = undefined;
    return sent;
  };
  const release = () => {
    if (batch !== undefined && used === 0 && freeBatches.length < MAX_FREE_BATCHES) freeBatches.push(batch);
    batch = undefined;
  };
  return {
    write: (bytes) => {
      if (!corked) return send(bytes);
      if (room(bytes.length)) {
        bytes.copy(batch as Buffer, used);
        used += bytes.length;
        return undefined;
      }
      const sent = flush();
      if (sent === undefined && room(bytes.length)) {
        bytes.copy(batch as Buffer, used);
        used += bytes.length;
        return undefined;
      }
      return send(bytes) ?? sent;
    },
    slot: (size) => {
      if (!corked || !room(size)) return undefined;
      const view = (batch as Buffer).subarray(used, used + size);
      used += size;
      return view;
    },
    end: () => {
      void flush();
      release();
      socket.end();
    },
    cork: () => {
      corked = true;
    },
    uncork: () => {
      corked = false;
      const sent = flush();
      release();
      return sent;
    },
  };
}

/**
 * The idle timeout, re-armed lazily: input and output only note the time, and the one timer
 * re-arms itself for what is left when it fires (socket.setTimeout re-arms a timer on every
 * read and write, which is on the path of every command).
 */
export function idleTimer(ms: number, onIdle: () => void): { touch(): void; stop(): void } {
  let last = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const arm = (delay: number) => {
    timer = setTimeout(fire, delay);
    timer.unref();
  };
  const fire = () => {
    const left = last + ms - Date.now();
    if (left > 0) return arm(left);
    timer = undefined;
    onIdle();
  };
  if (ms > 0) arm(ms);
  return {
    touch: () => {
      last = Date.now();
    },
    stop: () => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

const REASONS: Record<Extract<Pop3MailEvent, { type: "closed" }>["reason"], string> = {
  quit: "Logged out",
  "bad-commands": "Too many invalid commands",
  "line-too-long": "Input line too long",
  "open-failed": "Couldn't open mailbox",
  disconnected: "Connection closed",
};

/**
 * Serve one session until the client is gone: a hand-off connection from pop3-login, or the
 * client's own socket with the hand-off master passed along (`passed`).
 */
export async function servePop3(socket: Socket, shared: Pop3dShared, passed?: unknown): Promise<void> {
  const { log, settings } = shared;
  const received = await receiveSession(socket, {
    service: "pop3",
    timeoutMs: settings.handoffTimeoutMs,
    mailUser: settings.mailUser,
    log,
    ...(passed !== undefined ? { passed } : {}),
    refusal: () => pop3Refusal(),
  });
  if (received === undefined) return;
  const { handoff: h, rest } = received;
  let store: CountingPop3Store | undefined;
  let timedOut = false;
  const prefix = `pop3(${h.user})<${process.pid}><${h.session}>`;
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const idle = idleTimer(settings.idleTimeoutMs, () => {
    timedOut = true;
    void engine.disconnected().finally(() => socket.destroy());
  });
  const engine = new Pop3MailEngine(
    mailboxOpener(h, settings, (s) => {
      store = s;
    }),
    { user: h.user, lineLimit: settings.lineLimit, maxBadCommands: settings.maxBadCommands },
    socketOutput(socket, idle.touch),
    (e) => logEvent(e),
  );
  function logEvent(e: Pop3MailEvent): void {
    if (e.type === "store-error") log.error(`${prefix}: ${e.command}: ${errorText(e.error)}`);
    if (e.type !== "closed") return;
    const reason = timedOut
      ? `Inactivity - no input for ${settings.idleTimeoutMs / 1000} secs`
      : REASONS[e.reason];
    const stats = store?.stats ?? newSessionStats();
    log.info(`${prefix}: ${formatLogout(reason, stats)}`);
  }
  acceptSession(socket, received.direct);
  socket.on("close", () => {
    idle.stop();
    void engine.disconnected();
  });
  await engine.start(Buffer.concat([Buffer.from(h.pipelined, "base64"), rest]));
  socket.on("data", (d: Buffer) => {
    idle.touch();
    engine.push(d);
  });
  socket.resume();
  await closed;
  await engine.idle();
}
