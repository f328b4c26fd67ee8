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

/** While corked, replies are gathered up to this many bytes before a write. */
const BATCH_BYTES = 64 * 1024;

/**
 * The client side of the engine: socket writes with backpressure, and batching while the
 * engine works through pipelined commands (one write of up to 64 KiB instead of one per
 * reply; each write is a system call and a TCP segment, and for TLS a relay through pop3-login).
 */
function socketOutput(socket: Socket): Pop3Output {
  let corked = false;
  let held: Buffer[] = [];
  let heldBytes = 0;
  const send = (bytes: Buffer): Promise<void> | undefined =>
    socket.destroyed || socket.write(bytes)
      ? undefined
      : new Promise<void>((resolve) => {
          const done = () => {
            socket.off("drain", done);
            socket.off("close", done);
            resolve();
          };
          socket.once("drain", done);
          socket.once("close", done);
        });
  const flush = () => {
    if (heldBytes === 0) return undefined;
    const bytes = held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    return send(bytes);
  };
  return {
    write: (bytes) => {
      if (!corked) return send(bytes);
      held.push(bytes);
      heldBytes += bytes.length;
      return heldBytes >= BATCH_BYTES ? flush() : undefined;
    },
    end: () => {
      void flush();
      socket.end();
    },
    cork: () => {
      corked = true;
    },
    uncork: () => {
      corked = false;
      return flush();
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
  const engine = new Pop3MailEngine(
    mailboxOpener(h, settings, (s) => {
      store = s;
    }),
    { user: h.user, lineLimit: settings.lineLimit, maxBadCommands: settings.maxBadCommands },
    socketOutput(socket),
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
  socket.setTimeout(settings.idleTimeoutMs, () => {
    timedOut = true;
    void engine.disconnected().finally(() => socket.destroy());
  });
  socket.on("close", () => void engine.disconnected());
  await engine.start(Buffer.concat([Buffer.from(h.pipelined, "base64"), rest]));
  socket.on("data", (d: Buffer) => engine.push(d));
  socket.resume();
  await closed;
  await engine.idle();
}
