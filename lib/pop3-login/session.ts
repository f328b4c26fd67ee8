/*
 * session — one pop3-login client connection: greeting, CAPA, STLS, USER/PASS, APOP, AUTH
 * through Pop3LoginEngine with credentials checked by the auth service (lib/auth/client),
 * then the hand-off to the pop3 mail process: the client socket itself when the session is
 * not on TLS, else with this process staying in the middle as a TLS proxy (lib/login).
 * pop3s (pop3_tls_wrappermode) starts TLS before the greeting.
 * Logs Dovecot's lines:
 *   Login: user=<u>, method=PLAIN, rip=..., lip=..., mpid=..., TLS, session=<...>
 *   Disconnected (auth failed, N attempts in S secs): user=<u>, method=..., rip=..., lip=...
 * RFCs 1939, 2449, 2595, 5034 (the engine's). Security: unprivileged, no mail storage and
 * no password data; plaintext logins only over TLS or from loopback (disable_plaintext_auth,
 * Dovecot semantics); input pipelined after STLS is discarded by the engine.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { AuthClient } from "../auth/client.js";
import { formatLoginFailure, sanitizeLogValue } from "../auth/penalty.js";
import type { AuthUser } from "../auth/protocol.js";
import { errorText, type Logger } from "../log/index.js";
import { plainIp } from "../login/client-address.js";
import {
  acceptLogin,
  handOffSession,
  plaintextAllowed,
  refuseClient,
  securedConnection,
  socketOutput,
} from "../login/client-session.js";
import { pop3Refusal } from "../login/refusals.js";
import {
  type Pop3AuthVerdict,
  type Pop3Credentials,
  Pop3LoginEngine,
  type Pop3LoginEvent,
} from "../pop3/login-engine.js";
import { err } from "../pop3/protocol.js";
import type { SocketPasser } from "../server/index.js";
import { upgradeToTls } from "../smtpd/tls.js";
import type { Pop3LoginSettings } from "./settings.js";

export { isLoopback } from "../login/client-address.js";

export interface Pop3LoginShared {
  readonly settings: Pop3LoginSettings;
  readonly auth: AuthClient;
  readonly log: Logger;
  /** Master's descriptor passing (plaintext sessions leave this process after login). */
  readonly passer?: SocketPasser;
}

class LoginSession {
  private stream: Socket;
  private readonly rip: string;
  private readonly lip: string;
  private readonly id = randomBytes(9).toString("base64");
  private readonly startedAt = Date.now();
  private attempts = 0;
  private lastUser: string | undefined;
  private lastMethod: string | undefined;
  private authUser: AuthUser | undefined;
  private handoff: Promise<void> | undefined;
  private serverClosed = false;
  private readonly engine: Pop3LoginEngine;
  private readonly onData = (d: Buffer) => this.engine.push(d);

  constructor(
    socket: Socket,
    private tls: boolean,
    private readonly shared: Pop3LoginShared,
  ) {
    this.stream = socket;
    this.rip = plainIp(socket.remoteAddress);
    this.lip = plainIp(socket.localAddress);
    const s = shared.settings;
    this.engine = new Pop3LoginEngine(
      {
        hostname: s.hostname,
        apop: s.apop,
        tls,
        stlsAvailable: s.tls !== undefined,
        plaintextAllowed: plaintextAllowed(s, this.rip),
        saslMechanisms: s.saslMechanisms,
        lineLimit: s.lineLimit,
        maxBadCommands: s.maxBadCommands,
      },
      { verify: (c, m) => this.verify(c, m) },
      socketOutput(() => this.stream),
      (e) => void this.onEvent(e),
    );
  }

  /** Run until the client is gone (or the proxied session is over). */
  async run(): Promise<void> {
    const done = new Promise<void>((resolve) => this.stream.once("close", () => resolve()));
    this.attach(this.stream);
    this.engine.start();
    await done;
    if (this.handoff !== undefined) await this.handoff;
    else this.logFailure();
  }

  private attach(stream: Socket): void {
    this.stream = stream;
    stream.on("data", this.onData);
    stream.setTimeout(this.shared.settings.loginTimeoutMs, () => {
      this.serverClosed = true;
      stream.end(err("Disconnected for inactivity."));
      stream.destroy();
    });
  }

  private async verify(c: Pop3Credentials, method: string): Promise<Pop3AuthVerdict> {
    this.lastUser = c.user !== "" ? c.user : this.lastUser;
    this.lastMethod = method;
    const reply = await this.shared.auth.passdb({
      service: "pop3",
      mechanism: method,
      credentials: c,
      rip: this.rip,
      lip: this.lip,
      secured: securedConnection(this.shared.settings, this.tls, this.rip),
    });
    if (reply.ok) {
      this.authUser = reply.user;
      return { ok: true, user: reply.user.user };
    }
    if (reply.temporary) return { ok: false, code: "SYS/TEMP", text: "Temporary authentication failure." };
    return { ok: false, code: "AUTH", text: "Authentication failed." };
  }

  private async onEvent(e: Pop3LoginEvent): Promise<void> {
    if (e.type === "auth-failed") {
      this.attempts = e.attempts;
      if (e.user !== undefined) this.lastUser = e.user;
      this.lastMethod = e.method;
    } else if (e.type === "closed") {
      this.serverClosed = e.reason !== "quit";
    } else if (e.type === "starttls") {
      await this.startTls();
    } else if (e.type === "authenticated") {
      this.handoff = this.authenticated(e.method, e.pipelined);
    }
  }

  private async startTls(): Promise<void> {
    const ctx = this.shared.settings.tls;
    const plain = this.stream;
    plain.off("data", this.onData);
    plain.setTimeout(0);
    if (ctx === undefined) return void plain.destroy();
    try {
      const secure: TLSSocket = await upgradeToTls(plain, ctx, this.shared.settings.loginTimeoutMs);
      this.tls = true;
      this.attach(secure);
      secure.once("close", () => plain.destroy());
      this.engine.tlsStarted();
    } catch (e: unknown) {
      this.shared.log.info(
        `pop3-login: Disconnected (TLS handshake failed: ${errorText(e)}): rip=${this.rip}, lip=${this.lip}, session=<${this.id}>`,
      );
      plain.destroy();
    }
  }

  private async authenticated(method: string, pipelined: Buffer): Promise<void> {
    const user = this.authUser;
    const client = this.stream;
    if (user === undefined) return void client.destroy();
    client.off("data", this.onData);
    client.setTimeout(0);
    const where = { rip: this.rip, lip: this.lip, tls: this.tls, session: this.id };
    try {
      await handOffSession(
        client,
        { user, pipelined, ...where },
        {
          settings: this.shared.settings,
          service: "pop3",
          ...(this.shared.passer !== undefined ? { passer: this.shared.passer } : {}),
          onLogin: (mpid) =>
            this.shared.log.info(
              `pop3-login: Login: user=<${sanitizeLogValue(user.user)}>, method=${method}, rip=${this.rip}, lip=${this.lip}, mpid=${mpid}${this.tls ? ", TLS" : ""}, session=<${this.id}>`,
            ),
        },
      );
    } catch (e: unknown) {
      this.shared.log.error(
        `pop3-login: cannot hand session to the pop3 service: ${errorText(e)}, user=<${sanitizeLogValue(user.user)}>, session=<${this.id}>`,
      );
      await refuseClient(e, client, pop3Refusal());
    }
  }

  private logFailure(): void {
    const secs = Math.round((Date.now() - this.startedAt) / 1000);
    const base = { rip: this.rip, lip: this.lip, tls: this.tls, session: this.id };
    if (this.attempts === 0) {
      const who = this.lastUser !== undefined ? `user=<${sanitizeLogValue(this.lastUser)}>, ` : "";
      this.shared.log.info(
        `pop3-login: ${this.serverClosed ? "Aborted login" : "Disconnected"} (no auth attempts in ${secs} secs): ${who}rip=${this.rip}, lip=${this.lip}${this.tls ? ", TLS" : ""}, session=<${this.id}>`,
      );
      return;
    }
    this.shared.log.info(
      `pop3-login: ${formatLoginFailure({
        ending: this.serverClosed ? "Aborted login" : "Disconnected",
        attempts: this.attempts,
        secs,
        ...(this.lastUser !== undefined ? { user: this.lastUser } : {}),
        ...(this.lastMethod !== undefined ? { method: this.lastMethod } : {}),
        ...base,
      })}`,
    );
  }
}

/** Serve one client connection master handed over. */
export function serveLogin(socket: Socket, shared: Pop3LoginShared): Promise<void> {
  const s = shared.settings;
  return acceptLogin(
    socket,
    { settings: s, wrapperMode: s.wrapperMode, log: shared.log, program: "pop3-login", wrapper: "pop3s" },
    (stream, tls) => new LoginSession(stream, tls, shared).run(),
  );
}
