/*
 * proxy — a login process' side of the hand-off: connect to the mail process
 * (queue_directory/private/pop3 or .../imap), send the authenticated user (handoff.ts),
 * wait for its pid, then relay bytes both ways between the client (plain or TLS) and the
 * mail process until either side closes. Dovecot's login proxying after TLS, with
 * backpressure from stream pipes. Used for TLS sessions only: a plaintext session's socket
 * is passed to the mail process instead (client-session.ts handOffSession).
 * Security: the login process never opens mail storage; it only relays bytes.
 */
import { connect, type Socket } from "node:net";
import {
  handoffSocketPath,
  type LoginHandoff,
  type LoginService,
  parseHandoffReply,
  readHandoffFrame,
  writeHandoffFrame,
} from "./handoff.js";

function connectUnix(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect to ${path}: timeout`));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      sock.on("error", () => undefined);
      resolve(sock);
    });
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`connect to ${path}: ${e.message}`));
    });
  });
}

/** Hand the session over; resolves with the mail process pid and the connection, paused. */
export async function handOff(
  handoff: LoginHandoff,
  opts: { queueDir: string; service: LoginService; timeoutMs: number },
): Promise<{ pid: number; mail: Socket; rest: Buffer }> {
  const { timeoutMs } = opts;
  const mail = await connectUnix(handoffSocketPath(opts.queueDir, opts.service), timeoutMs);
  try {
    writeHandoffFrame(mail, handoff);
    const { msg, rest } = await readHandoffFrame(mail, timeoutMs);
    const reply = parseHandoffReply(msg);
    if (reply === undefined) throw new Error("malformed hand-off reply");
    if (!reply.ok) throw new Error(`mail process refused the session: ${reply.reason}`);
    return { pid: reply.pid, mail, rest };
  } catch (err) {
    mail.destroy();
    throw err;
  }
}

/**
 * Relay until both sides are closed; `early` bytes go out first. The mail process ending
 * (QUIT, LOGOUT) ends the client connection after what it wrote; the client vanishing ends the
 * mail process' session at once (which then deletes nothing).
 */
export function relay(
  client: Socket,
  mail: Socket,
  early: { toClient: Buffer; toMail: Buffer },
): Promise<void> {
  const closed = (s: Socket) =>
    s.destroyed && s.closed
      ? Promise.resolve()
      : new Promise<void>((resolve) => s.once("close", () => resolve()));
  client.once("close", () => mail.destroy());
  mail.once("close", () => {
    client.end();
    setTimeout(() => client.destroy(), 5000).unref();
  });
  client.on("error", () => client.destroy());
  if (early.toClient.length > 0) client.write(early.toClient);
  if (early.toMail.length > 0) mail.write(early.toMail);
  client.pipe(mail);
  mail.pipe(client);
  client.resume();
  mail.resume();
  return Promise.all([closed(client), closed(mail)]).then(() => undefined);
}
