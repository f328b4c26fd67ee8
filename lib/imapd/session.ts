/*
 * session — one authenticated IMAP session in the imap mail process: takes the hand-off
 * from imap-login (the user, the login command's tag, the bytes the client pipelined after
 * it), opens the user's Maildir++ store where local delivery puts mail (userdb mail,
 * mail_location, home_mailbox), runs ImapMailEngine over the raw stream and logs Dovecot's
 * logout line:
 *   imap(alice)<pid><session>: Disconnected: Logged out in=123 out=4567 expunged=0
 * Talks to: the client (its socket, passed by imap-login through master) or imap-login (the
 * Unix socket master handed over, for TLS sessions), the Maildir.
 * Security: runs as the mail owner; trusts the hand-off (private socket); mbox stores are
 * refused (IMAP needs folders and flags: Maildir only).
 */
import type { Socket } from "node:net";
import { mailboxLocation } from "../delivery/users.js";
import { mailCapabilities } from "../imap/engine/capability.js";
import { type CloseReason, ImapMailEngine, type ImapOutput } from "../imap/engine/mail-engine.js";
import type { Logger } from "../log/index.js";
import { handoffUser } from "../login/handoff.js";
import { acceptSession, receiveSession, refuseSession } from "../login/mail-user.js";
import { imapRefusal } from "../login/refusals.js";
import { MailStore } from "../mailbox/folders.js";
import type { ImapdSettings } from "./settings.js";

export interface ImapdShared {
  readonly settings: ImapdSettings;
  readonly log: Logger;
}

function socketOutput(socket: Socket): ImapOutput {
  return {
    write: (bytes) =>
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
          }),
    // the write's callback runs once libuv is done with the buffer (written, or failed)
    writeReleasing: (bytes) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.write(bytes, () => resolve());
      }),
    end: () => socket.end(),
  };
}

const REASONS: Record<CloseReason, string> = {
  logout: "Logged out",
  "bad-commands": "Too many invalid IMAP commands",
  disconnected: "Connection closed",
  error: "Internal error",
};

/** Pause reading while this many bytes wait to be framed (a slow FETCH, a big APPEND). */
const INPUT_HIGH_WATER = 1024 * 1024;

/**
 * Serve one session until the client is gone: a hand-off connection from imap-login, or the
 * client's own socket with the hand-off master passed along (`passed`).
 */
export async function serveImap(socket: Socket, shared: ImapdShared, passed?: unknown): Promise<void> {
  const { log, settings } = shared;
  const refusal = (tag: string | undefined) => imapRefusal(tag, settings.hostname);
  const received = await receiveSession(socket, {
    service: "imap",
    timeoutMs: settings.handoffTimeoutMs,
    mailUser: settings.mailUser,
    log,
    ...(passed !== undefined ? { passed } : {}),
    refusal: (h) => refusal(h?.tag),
  });
  if (received === undefined) return;
  const { handoff: h, rest } = received;
  const prefix = `imap(${h.user})<${process.pid}><${h.session}>`;
  const where = mailboxLocation(handoffUser(h), settings);
  if ("error" in where || where.format !== "maildir") {
    log.error(`${prefix}: ${"error" in where ? where.error : `${where.path}: IMAP needs a Maildir mailbox`}`);
    return refuseSession(socket, received.direct, "mailbox unavailable", refusal(h.tag));
  }
  let timedOut = false;
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const engine = new ImapMailEngine(
    {
      user: h.user,
      store: new MailStore(where.path, settings.separator),
      settings: { separator: settings.separator, appendLimit: settings.appendLimit },
      limits: {
        maxLineLength: settings.maxLineLength,
        maxLiteralSize: settings.appendLimit > 0 ? settings.appendLimit : 2 ** 31,
        maxLiterals: 32,
      },
      maxBadCommands: settings.maxBadCommands,
      capabilities: mailCapabilities(settings.appendLimit),
      idleNotifyMs: settings.idleNotifyMs,
    },
    socketOutput(socket),
    (e) => {
      if (e.type === "error") return log.error(`${prefix}: ${e.text}`);
      const reason = timedOut
        ? `Inactivity - no input for ${settings.idleTimeoutMs / 1000} secs`
        : REASONS[e.reason];
      const s = engine.stats;
      log.info(`${prefix}: Disconnected: ${reason} in=${s.bytesIn} out=${s.bytesOut} expunged=${s.expunged}`);
    },
  );
  acceptSession(socket, received.direct);
  socket.setTimeout(settings.idleTimeoutMs, () => {
    timedOut = true;
    socket.destroy();
  });
  socket.on("close", () => engine.disconnected());
  socket.on("error", () => socket.destroy());
  await engine.start(h.tag ?? null, Buffer.concat([Buffer.from(h.pipelined, "base64"), rest]));
  socket.on("data", (d: Buffer) => {
    engine.push(d);
    if (engine.buffered > INPUT_HIGH_WATER) {
      socket.pause();
      void engine.idle().then(() => socket.resume());
    }
  });
  socket.resume();
  await closed;
  await engine.idle();
}
