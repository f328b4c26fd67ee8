/*
 * handoff — how a login process (pop3-login, imap-login) gives an authenticated session to
 * its mail process (pop3, imap) (Dovecot's login → mail process hand-off). Two ways:
 *   - no TLS: the LoginHandoff travels with the client's socket itself, login → master →
 *     mail process over the IPC channels (lib/master/protocol.ts "pass"); the mail process
 *     then talks to the client and the login process is out of the path. "pipelined" holds
 *     every byte the login process (and master) read after the login command.
 *   - TLS (which the login process terminates): over queue_directory/private/<service>, with
 *     the login process relaying the decrypted stream (lib/login/proxy.ts), as below.
 *
 * On the Unix socket: one lib/ipc message frame each way (4-byte big-endian length, kind
 * byte 1, JSON), then raw bytes in both directions for the rest of the connection — the
 * client's commands from the login process (which decrypts TLS) and the server's replies
 * back, with no further framing, so proxying is a plain pipe with TCP-style backpressure.
 *   login → mail  LoginHandoff: the user as auth's userdb returned it, the bytes the client
 *                 pipelined after its login command, addresses, TLS state, session ID and,
 *                 for IMAP, the tag of the LOGIN/AUTHENTICATE command, which the mail
 *                 process answers ("tag OK [CAPABILITY ...] Logged in").
 *   mail → login  HandoffReply: {ok:true, pid} (for the "mpid=" log field).
 * Security: private/<service> is mode 0600 for the postern user, and master accepts a pass
 * only from pop3-login/imap-login workers (to pop3/imap respectively); the mail process
 * trusts the login process' claim of who authenticated, as Dovecot's master does.
 */
import type { Socket } from "node:net";
import { join } from "node:path";
import type { UserInfo } from "../delivery/users.js";

/** The mail services a login process hands sessions to. */
export type LoginService = "pop3" | "imap";

/** queue_directory/private/<service>: where the mail process listens for hand-offs. */
export function handoffSocketPath(queueDir: string, service: LoginService): string {
  return join(queueDir, "private", service);
}

export interface LoginHandoff {
  user: string;
  uid?: number;
  gid?: number;
  home: string;
  extra: Record<string, string>;
  /** Base64 of the bytes the client sent after its successful login command. */
  pipelined: string;
  rip: string;
  lip: string;
  tls: boolean;
  session: string;
  /** IMAP: the tag of the successful LOGIN/AUTHENTICATE command. */
  tag?: string;
}

export type HandoffReply = { ok: true; pid: number } | { ok: false; reason: string };

const MAX_HANDOFF = 64 * 1024;
const KIND_MSG = 1;

export function writeHandoffFrame(socket: Socket, msg: unknown): void {
  const payload = Buffer.from(JSON.stringify(msg));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt8(KIND_MSG, 4);
  socket.write(Buffer.concat([head, payload]));
}

/**
 * Read the one message frame; resolves with it and whatever raw bytes followed it. The
 * socket is left paused with no data listener, for the caller to pipe or listen.
 */
export function readHandoffFrame(socket: Socket, timeoutMs: number): Promise<{ msg: unknown; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: { msg: unknown; rest: Buffer }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (err !== undefined || value === undefined) reject(err ?? new Error("handoff failed"));
      else resolve(value);
    };
    const onClose = () => done(new Error("connection closed during hand-off"));
    const onData = (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      if (buf.length < 5) return;
      const len = buf.readUInt32BE(0);
      if (len > MAX_HANDOFF || buf.readUInt8(4) !== KIND_MSG) return done(new Error("bad hand-off frame"));
      if (buf.length < 5 + len) return;
      try {
        const msg: unknown = JSON.parse(buf.subarray(5, 5 + len).toString("utf8"));
        done(undefined, { msg, rest: Buffer.from(buf.subarray(5 + len)) });
      } catch {
        done(new Error("bad hand-off message"));
      }
    };
    const timer = setTimeout(() => done(new Error("hand-off timeout")), timeoutMs);
    socket.on("data", onData);
    socket.on("close", onClose);
  });
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return typeof v === "object" && v !== null && Object.values(v).every((x) => typeof x === "string");
}

/** Check the shape of what the login process sent. */
export function parseHandoff(v: unknown): LoginHandoff | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const strings = ["user", "home", "pipelined", "rip", "lip", "session"] as const;
  if (!strings.every((k) => typeof o[k] === "string") || typeof o["tls"] !== "boolean") return undefined;
  if (!isStringRecord(o["extra"]) || o["user"] === "") return undefined;
  if (o["tag"] !== undefined && typeof o["tag"] !== "string") return undefined;
  const num = (k: string) =>
    typeof o[k] === "number" && Number.isInteger(o[k]) ? { [k]: o[k] as number } : {};
  return {
    user: o["user"] as string,
    home: o["home"] as string,
    extra: o["extra"],
    pipelined: o["pipelined"] as string,
    rip: o["rip"] as string,
    lip: o["lip"] as string,
    tls: o["tls"] as boolean,
    session: o["session"] as string,
    ...num("uid"),
    ...num("gid"),
    ...(typeof o["tag"] === "string" ? { tag: o["tag"] } : {}),
  };
}

export function parseHandoffReply(v: unknown): HandoffReply | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o["ok"] === true && typeof o["pid"] === "number") return { ok: true, pid: o["pid"] };
  if (o["ok"] === false && typeof o["reason"] === "string") return { ok: false, reason: o["reason"] };
  return undefined;
}

/** The mail user the hand-off names, as local delivery describes users (for mailboxLocation). */
export function handoffUser(h: LoginHandoff): UserInfo {
  const mail = h.extra["userdb_mail"] ?? h.extra["mail"];
  return {
    user: h.user,
    uid: h.uid ?? process.getuid?.() ?? 0,
    gid: h.gid ?? process.getgid?.() ?? 0,
    home: h.home,
    shell: "",
    kind: "virtual",
    ...(mail !== undefined ? { mailLocation: mail } : {}),
  };
}
