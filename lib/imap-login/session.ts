/*
 * session — one imap-login client connection: greeting, CAPABILITY, STARTTLS, LOGIN and
 * AUTHENTICATE through ImapLoginEngine with credentials checked by the auth service
 * (lib/auth/client), then the hand-off to the imap mail process over
 * with the command's tag and the pipelined bytes (lib/login): the client socket itself,
 * through master, when the session is not on TLS, else over queue_directory/private/imap
 * with this process staying in the middle as a TLS proxy. imaps (imap_tls_wrappermode)
 * starts TLS before the greeting. Logs Dovecot's lines (log-lines.ts).
 * RFCs 3501, 2595, 4959 (the engine's). Security: unprivileged, no mail storage and no
 * password data; plaintext logins only over TLS or from loopback (disable_plaintext_auth,
 * Dovecot semantics); input pipelined after STARTTLS is discarded by the engine; reading
 * pauses while a client has sent more than the engine may buffer.
 */
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { AuthClient } from "../auth/client.js";
import { sanitizeLogValue } from "../auth/penalty.js";
import type { AuthUser } from "../auth/protocol.js";
import type { SaslCredentials } from "../auth/sasl.js";
import { type ImapAuthVerdict, ImapLoginEngine, type ImapLoginEvent } from "../imap/login-engine.js";
import { responseBuffer } from "../imap/serializer/responses.js";
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
import { imapRefusal } from "../login/refusals.js";
import type { SocketPasser } from "../server/index.js";
import { upgradeToTls } from "../smtpd/tls.js";
import { formatLogin, formatLoginEnd } from "./log-lines.js";
import type { ImapLoginSettings } from "./settings.js";

export interface ImapLoginShared {
  readonly settings: ImapLoginSettings;
  readonly auth: AuthClient;
  readonly log: Logger;
  /** Master's descriptor passing (plaintext sessions leave this process after login). */
  readonly passer?: SocketPasser;
}

/** Input the engine may hold beyond one maximal command before reading pauses. */
const INPUT_SLACK = 64 * 1024;

class LoginSession {
  private stream: Socket;
  private readonly rip: string;
  private readonly lip: string;
  private readonly id = randomBytes(9).toString("base64");
  private readonly startedAt = Date.now();
  private attempts = 0;
  private lastUser: string | undefined;
  private lastMethod: string | undefined;
  private triedPlaintext = false;
  private triedUnsupported = false;
  private aborted = false;
  private ending = "Disconnected";
  private authUser: AuthUser | undefined;
  private handoff: Promise<void> | undefined;
  private paused = false;
  private readonly engine: ImapLoginEngine;
  private readonly onData = (d: Buffer) => this.input(d);

  constructor(
    socket: Socket,
    private tls: boolean,
    private readonly shared: ImapLoginShared,
  ) {
    this.stream = socket;
    this.rip = plainIp(socket.remoteAddress);
    this.lip = plainIp(socket.localAddress);
    const s = shared.settings;
    this.engine = new ImapLoginEngine(
      {
        hostname: s.hostname,
        tls,
        starttlsAvailable: s.tls !== undefined,
        plaintextAllowed: plaintextAllowed(s, this.rip),
        tlsRequired: s.tlsRequired,
        saslMechanisms: s.saslMechanisms,
        maxLineLength: s.maxLineLength,
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
    else this.logEnd();
  }

  private input(bytes: Buffer): void {
    this.engine.push(bytes);
    if (this.paused || this.engine.buffered <= this.shared.settings.maxLineLength + INPUT_SLACK) return;
    const stream = this.stream;
    this.paused = true;
    stream.pause();
    void this.engine.idle().then(() => {
      this.paused = false;
      if (this.stream === stream && this.handoff === undefined) stream.resume();
    });
  }

  private attach(stream: Socket): void {
    this.stream = stream;
    stream.on("data", this.onData);
    stream.setTimeout(this.shared.settings.loginTimeoutMs, () => {
      this.ending = "Disconnected: Inactivity";
      stream.end(
        responseBuffer({
          type: "status",
          tag: null,
          status: "BYE",
          code: null,
          text: "Disconnected for inactivity.",
        }),
      );
      stream.destroy();
    });
  }

  private async verify(c: SaslCredentials, method: string): Promise<ImapAuthVerdict> {
    const reply = await this.shared.auth.passdb({
      service: "imap",
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
    return { ok: false, temporary: reply.temporary };
  }

  private async onEvent(e: ImapLoginEvent): Promise<void> {
    if (e.type === "auth-failed") {
      this.attempts = e.attempts;
      if (e.user !== undefined) this.lastUser = e.user;
      this.lastMethod = e.method;
      this.triedPlaintext ||= e.reason === "plaintext-disallowed";
      this.triedUnsupported ||= e.reason === "unsupported-mechanism";
      this.aborted = e.reason === "aborted";
    } else if (e.type === "closed") {
      this.ending = e.reason === "logout" ? "Aborted login" : "Disconnected: Too many invalid commands";
    } else if (e.type === "starttls") {
      await this.startTls();
    } else if (e.type === "authenticated") {
      this.handoff = this.authenticated(e.method, e.tag, e.pipelined);
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
      this.ending = `Disconnected: TLS handshaking: ${errorText(e).replace(/[\r\n]+/g, " ")}`;
      plain.destroy();
    }
  }

  private async authenticated(method: string, tag: string, pipelined: Buffer): Promise<void> {
    const user = this.authUser;
    const client = this.stream;
    if (user === undefined) return void client.destroy();
    client.off("data", this.onData);
    client.setTimeout(0);
    const s = this.shared.settings;
    const where = { rip: this.rip, lip: this.lip, tls: this.tls, session: this.id };
    try {
      await handOffSession(
        client,
        { user, pipelined, tag, ...where },
        {
          settings: s,
          service: "imap",
          ...(this.shared.passer !== undefined ? { passer: this.shared.passer } : {}),
          onLogin: (mpid) =>
            this.shared.log.info(`imap-login: ${formatLogin({ user: user.user, method, mpid, ...where })}`),
        },
      );
    } catch (e: unknown) {
      this.shared.log.error(
        `imap-login: cannot hand session to the imap service: ${errorText(e)}, user=<${sanitizeLogValue(user.user)}>, session=<${this.id}>`,
      );
      await refuseClient(e, client, imapRefusal(tag, s.hostname));
    }
  }

  private logEnd(): void {
    const line = formatLoginEnd({
      ending: this.ending,
      attempts: this.attempts,
      secs: Math.round((Date.now() - this.startedAt) / 1000),
      ...(this.lastUser !== undefined ? { user: this.lastUser } : {}),
      ...(this.lastMethod !== undefined ? { method: this.lastMethod } : {}),
      triedPlaintext: this.triedPlaintext,
      triedUnsupportedMechanism: this.triedUnsupported,
      aborted: this.aborted,
      rip: this.rip,
      lip: this.lip,
      tls: this.tls,
      session: this.id,
    });
    this.shared.log.info(`imap-login: ${line}`);
  }
}

/** Serve one client connection master handed over. */
export function serveImapLogin(socket: Socket, shared: ImapLoginShared): Promise<void> {
  const s = shared.settings;
  return acceptLogin(
    socket,
    { settings: s, wrapperMode: s.wrapperMode, log: shared.log, program: "imap-login", wrapper: "imaps" },
    (stream, tls) => new LoginSession(stream, tls, shared).run(),
  );
}
