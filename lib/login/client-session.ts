/*
 * client-session — what pop3-login and imap-login do alike around their protocol engines:
 * writing to the client with backpressure, Dovecot's plaintext-auth policy
 * (disable_plaintext_auth, login_loopback_secured, ssl = required), accepting a connection
 * in implicit-TLS mode (pop3s, imaps), and, after a successful login, handing the session to
 * the mail process. Without TLS the client socket itself goes to the mail process through
 * master (descriptor passing, lib/server SocketPasser) and this process is out of the path;
 * with TLS (which this process terminates) it connects to the mail process and relays bytes
 * both ways (holding what the client sent meanwhile), as Dovecot does.
 * Talks to: master (IPC), lib/login/proxy.ts, lib/smtpd/tls.ts. Security: unprivileged;
 * relays bytes only.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { AuthUser } from "../auth/protocol.js";
import { stopReading } from "../io/stop-reading.js";
import { errorText, type Logger } from "../log/index.js";
import type { SocketPasser } from "../server/index.js";
import { upgradeToTls } from "../smtpd/tls.js";
import { isLoopback, plainIp } from "./client-address.js";
import type { LoginHandoff, LoginService } from "./handoff.js";
import { handOff, relay } from "./proxy.js";
import type { LoginCommonSettings } from "./settings.js";

/** Writes to whatever socket is current (plain, then TLS after STARTTLS), with backpressure. */
export function socketOutput(get: () => Socket): { write(bytes: Buffer): void | Promise<void>; end(): void } {
  return {
    write: (bytes) => {
      const s = get();
      if (s.destroyed || s.write(bytes)) return;
      return new Promise<void>((resolve) => {
        s.once("drain", resolve);
        s.once("close", resolve);
      });
    },
    end: () => get().end(),
  };
}

/** Dovecot's rule: plaintext passwords only over TLS or (when trusted) from loopback. */
export function plaintextAllowed(s: LoginCommonSettings, rip: string): boolean {
  if (s.tlsRequired) return false;
  return !s.disablePlaintextAuth || (s.loopbackSecured && isLoopback(rip));
}

/** What the auth service is told: is this connection secured (TLS, or trusted loopback)? */
export function securedConnection(s: LoginCommonSettings, tls: boolean, rip: string): boolean {
  return tls || (s.loopbackSecured && isLoopback(rip));
}

/**
 * Accept a connection master handed over: plain, or (wrapper mode: pop3s, imaps) after a
 * TLS handshake; then run the session on the stream.
 */
export async function acceptLogin(
  socket: Socket,
  opts: {
    settings: LoginCommonSettings;
    wrapperMode: boolean;
    log: Logger;
    program: string;
    wrapper: string;
  },
  run: (stream: Socket, tls: boolean) => Promise<void>,
): Promise<void> {
  const s = opts.settings;
  // Replies leave in several writes and the client waits for each: Nagle would hold them
  // back until a delayed ACK, ~40 ms per command.
  socket.setNoDelay(true);
  if (!opts.wrapperMode) return run(socket, false);
  if (s.tls === undefined) {
    opts.log.warning(`${opts.program}: ${opts.wrapper} connection but no TLS certificate is configured`);
    return void socket.destroy();
  }
  let secure: TLSSocket;
  try {
    secure = await upgradeToTls(socket, s.tls, s.loginTimeoutMs);
  } catch (e: unknown) {
    opts.log.info(
      `${opts.program}: Disconnected (TLS handshake failed: ${errorText(e)}): rip=${plainIp(socket.remoteAddress)}`,
    );
    return void socket.destroy();
  }
  secure.once("close", () => socket.destroy());
  await run(secure, true);
}

export interface HandoffRequest {
  readonly user: AuthUser;
  readonly pipelined: Buffer;
  readonly rip: string;
  readonly lip: string;
  readonly tls: boolean;
  readonly session: string;
  /** IMAP: the login command's tag. */
  readonly tag?: string;
}

/** A failed hand-off; `client` is where to answer the client, if it is still reachable. */
export class HandoffFailed extends Error {
  constructor(
    message: string,
    readonly client: Socket | undefined,
  ) {
    super(message);
  }
}

export interface HandoffOptions {
  settings: LoginCommonSettings;
  service: LoginService;
  onLogin: (pid: number) => void;
  /** Master's descriptor passing; unavailable (no master): the relay is used. */
  passer?: SocketPasser;
}

/**
 * Give the authenticated session to the mail process: pass the socket when the client is
 * not on TLS (the session is over for this process once master has answered), else relay.
 * Call it in the same tick the session stopped reading the client, so no byte is missed.
 * Throws HandoffFailed when the session could not be handed over.
 */
export async function handOffSession(
  client: Socket,
  req: HandoffRequest,
  opts: HandoffOptions,
): Promise<void> {
  const passer = opts.passer;
  if (req.tls || passer === undefined || !passer.available()) {
    try {
      return await handOffAndRelay(client, req, opts);
    } catch (e: unknown) {
      throw new HandoffFailed(errorText(e), client);
    }
  }
  client.pause();
  const timeoutMs = opts.settings.ipcTimeoutMs;
  // Whatever this process still has to write must reach the client before the socket goes.
  await flushed(client, timeoutMs);
  if (client.destroyed) throw new HandoffFailed("the client left during the hand-off", undefined);
  // allowHalfOpen: reading the client's EOF here must not shut down the socket's write side.
  client.allowHalfOpen = true;
  const handoff = handoffOf(req, Buffer.concat([req.pipelined, takeBuffered(client)]));
  // From here what the client sends stays in the kernel for the mail process: Node would
  // read it, and drop it, until master acknowledges the descriptor (lib/io/stop-reading.ts).
  stopReading(client);
  const reply = await passer.pass(client, opts.service, handoff, timeoutMs);
  // The socket object no longer has a descriptor: close it so the session here ends.
  client.destroy();
  if (!reply.ok)
    throw new HandoffFailed(`master could not pass the connection: ${reply.reason}`, reply.socket);
  opts.onLogin(reply.pid);
}

/** Answer a client whose hand-off failed (if it can still be reached) and close. */
export function refuseClient(e: unknown, fallback: Socket, answer: Buffer): Promise<void> {
  const client = e instanceof HandoffFailed ? e.client : fallback;
  if (client === undefined || client.destroyed) return Promise.resolve();
  client.on("error", () => undefined);
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  client.end(answer);
  setTimeout(() => client.destroy(), 5000).unref();
  return closed;
}

function flushed(socket: Socket, timeoutMs: number): Promise<void> {
  if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    socket.once("drain", done);
    socket.once("close", done);
  });
}

/** What a paused socket has read but nobody consumed yet. */
function takeBuffered(socket: Socket): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const chunk: unknown = socket.read();
    if (!Buffer.isBuffer(chunk)) break;
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

function handoffOf(req: HandoffRequest, pipelined: Buffer): LoginHandoff {
  const u = req.user;
  return {
    user: u.user,
    ...(u.uid !== undefined ? { uid: u.uid } : {}),
    ...(u.gid !== undefined ? { gid: u.gid } : {}),
    home: u.home,
    extra: u.extra,
    pipelined: pipelined.toString("base64"),
    rip: req.rip,
    lip: req.lip,
    tls: req.tls,
    session: req.session,
    ...(req.tag !== undefined ? { tag: req.tag } : {}),
  };
}

/**
 * Hand the authenticated session to the mail process and relay until both sides are done.
 * The client's bytes that arrive during the hand-off are held and passed on; `onLogin`
 * gets the mail process pid once it has accepted. A failed hand-off throws before
 * anything was relayed, for the caller to answer in its protocol.
 */
export async function handOffAndRelay(
  client: Socket,
  req: HandoffRequest,
  opts: { settings: LoginCommonSettings; service: LoginService; onLogin: (pid: number) => void },
): Promise<void> {
  const late: Buffer[] = [];
  const hold = (d: Buffer) => late.push(d);
  client.on("data", hold);
  const handoff = handoffOf(req, req.pipelined);
  const s = opts.settings;
  let accepted: Awaited<ReturnType<typeof handOff>>;
  try {
    accepted = await handOff(handoff, {
      queueDir: s.queueDir,
      service: opts.service,
      timeoutMs: s.ipcTimeoutMs,
    });
  } finally {
    client.off("data", hold);
  }
  client.pause();
  opts.onLogin(accepted.pid);
  await relay(client, accepted.mail, { toClient: accepted.rest, toMail: Buffer.concat(late) });
}
