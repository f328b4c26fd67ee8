/*
 * session — one SMTP connection: the socket handed over by master, wired to the pure
 * protocol engine (lib/smtp), the restriction hooks, and cleanup. Owns the idle timer
 * (smtpd_timeout), applies the engine's backpressure to the socket, and writes Postfix's
 * smtpd log lines: connect, ID: client=..., NOQUEUE: reject: ..., lost connection /
 * timeout after X, disconnect with per-command counts.
 * Input is untrusted; nothing a client sends can throw out of here.
 */
import type { Socket } from "node:net";
import type { SecureContext, TLSSocket } from "node:tls";
import type { AuthClient } from "../auth/client.js";
import { type CleanupClient, CleanupError, type CleanupHandle } from "../cleanup/client.js";
import type { CleanupBegin } from "../cleanup/protocol.js";
import { errorText, type Logger } from "../log/index.js";
import { newQueueId } from "../queue/queue-id.js";
import {
  type MessageSink,
  type PreparedMessage,
  type SmtpAuthExchange,
  type SmtpAuthResult,
  type SmtpEngineEvent,
  type SmtpEngineOptions,
  type SmtpEnvelope,
  type SmtpReply,
  SmtpServerEngine,
  type SmtpSessionInfo,
} from "../smtp/server-engine.js";
import {
  clientLine,
  connectLine,
  disconnectLine,
  lostConnectionLine,
  protocolWarningLine,
  rejectLine,
  timeoutLine,
} from "../smtp/session-log.js";
import { plainIp, verifiedName } from "./peer.js";
import type { SmtpdPolicy } from "./policy-hooks.js";
import { smtpAuth } from "./sasl.js";
import { describeTls, type TlsLevel, upgradeToTls } from "./tls.js";

export interface SmtpdSettings {
  engine: SmtpEngineOptions;
  hostname: string;
  timeoutMs: number;
  peerLookup: boolean;
  tls: { context: SecureContext | undefined; level: TlsLevel; wrapper: boolean };
  /** SMTP AUTH: mechanisms offered (empty: AUTH off), and only after TLS when tlsOnly. */
  sasl: { mechanisms: string[]; tlsOnly: boolean };
}

export interface SmtpdShared {
  settings: SmtpdSettings;
  policy: SmtpdPolicy;
  cleanup: CleanupClient;
  log: Logger;
  auth: AuthClient | undefined;
}

function protocolOf(env: SmtpEnvelope, s: SmtpSessionInfo): string {
  if (env.protocol === "SMTP") return "SMTP";
  return `ESMTP${s.tls ? "S" : ""}${s.authUser ? "A" : ""}`;
}

function queueEnvelope(env: SmtpEnvelope, s: SmtpSessionInfo) {
  const attrs: Record<string, string> = {
    origin: "smtpd",
    client_name: s.clientName,
    client_address: s.clientIp,
    helo_name: env.heloName,
    protocol: protocolOf(env, s),
  };
  if (env.mailParams["RET"]) attrs["ret"] = env.mailParams["RET"];
  if (env.mailParams["ENVID"]) attrs["envid"] = env.mailParams["ENVID"];
  // The smtp agent relays these onward: BODY=8BITMIME, and SMTPUTF8 or a bounce if the next hop lacks it.
  if (env.mailParams["BODY"]) attrs["body"] = env.mailParams["BODY"].toUpperCase();
  if ("SMTPUTF8" in env.mailParams) attrs["smtputf8"] = "yes";
  if (s.authUser) attrs["sasl_username"] = s.authUser;
  return {
    sender: env.sender,
    recipients: env.recipients.map((r) => ({
      address: r.address,
      ...(r.params["ORCPT"] ? { orcpt: r.params["ORCPT"] } : {}),
      ...(r.params["NOTIFY"] ? { notify: r.params["NOTIFY"] } : {}),
    })),
    attrs,
  };
}

interface SinkContext {
  tls: string | undefined;
  saslMethod: string | undefined;
  /** The queue ID of the open transaction (for reject lines), or undefined once it ends. */
  setId(id: string | undefined): void;
}

function beginOf(s: SmtpSessionInfo, env: SmtpEnvelope, extra: SinkContext): Omit<CleanupBegin, "op"> {
  return {
    envelope: queueEnvelope(env, s),
    received: {
      heloName: env.heloName,
      clientName: s.clientName,
      clientIp: s.clientIp,
      protocol: protocolOf(env, s),
      ...(extra.tls ? { tls: extra.tls } : {}),
      ...(s.authUser ? { saslUser: s.authUser } : {}),
      ...(env.recipients.length === 1 && env.recipients[0]
        ? { forRecipient: env.recipients[0].address }
        : {}),
    },
    inputIsCrlf: true,
  };
}

/** "ID: client=..." once the queue file exists (Postfix logs it at the first accepted RCPT). */
function logClient(sh: SmtpdShared, s: SmtpSessionInfo, id: string, extra: SinkContext): void {
  extra.setId(id);
  const sasl =
    s.authUser && extra.saslMethod ? { saslMethod: extra.saslMethod, saslUsername: s.authUser } : {};
  sh.log.info(clientLine({ queueId: id, host: s.clientName, ip: s.clientIp, ...sasl }));
}

async function openSink(
  sh: SmtpdShared,
  s: SmtpSessionInfo,
  env: SmtpEnvelope,
  extra: SinkContext,
): Promise<MessageSink> {
  const h = await sh.cleanup.open(beginOf(s, env, extra));
  logClient(sh, s, h.id, extra);
  return sinkOf(sh, h);
}

function sinkOf(sh: SmtpdShared, h: CleanupHandle): MessageSink {
  return {
    write: (chunk) => h.write(chunk),
    async end(): Promise<SmtpReply> {
      try {
        const r = await h.finish();
        return { code: 250, enhanced: "2.0.0", text: `Ok: queued as ${r.id}` };
      } catch (err) {
        if (err instanceof CleanupError) {
          if (err.detail) sh.log.warning(`${h.id}: cleanup: ${err.detail}`);
          return { code: err.code, enhanced: err.enhanced, text: err.message };
        }
        sh.log.warning(`${h.id}: ${errorText(err)}`);
        return { code: 451, enhanced: "4.3.0", text: "Error: queue file write error" };
      }
    },
    abort: () => void h.abort(),
  };
}

/**
 * At the first accepted RCPT: the queue ID is made here and "ID: client=..." logged, as
 * Postfix does when it creates the queue file there (smtpd_delay_open_until_valid_rcpt);
 * nothing is asked of cleanup yet. At DATA, 354 goes out at once; the envelope (with the
 * ID) and the content then go to cleanup together, which creates the file under that ID
 * and answers once, at the end. Should it fail, the end of data is answered 451 4.3.0 (or
 * cleanup's own reply): nothing is queued, so nothing is lost or doubled.
 */
function prepareSink(sh: SmtpdShared, s: SmtpSessionInfo, extra: SinkContext): PreparedMessage {
  const id = newQueueId();
  logClient(sh, s, id, extra);
  return {
    async open(env) {
      return sinkOf(sh, await sh.cleanup.stream(id, beginOf(s, env, extra)));
    },
    abort() {
      extra.setId(undefined);
    },
  };
}

/** One client connection (the per-client connection limit is master's: see lib/master/pool.ts). */
export async function serveSmtp(socket: Socket, sh: SmtpdShared): Promise<void> {
  const ip = plainIp(socket.remoteAddress ?? "unknown");
  const name = sh.settings.peerLookup ? await verifiedName(ip) : "unknown";
  await new SmtpdConnection(socket, sh, ip, name).run();
}

const mustStartTls: SmtpReply = { code: 530, enhanced: "5.7.0", text: "Must issue a STARTTLS command first" };

/** One client connection: its transport (plain, then maybe TLS), timer, engine and log lines. */
class SmtpdConnection {
  private stream: Socket | TLSSocket;
  private readonly engine: SmtpServerEngine;
  private readonly info: SmtpSessionInfo;
  private timer: NodeJS.Timeout | undefined;
  private queueId: string | undefined;
  private tlsText: string | undefined;
  private saslMethod: string | undefined;
  private finished!: () => void;
  private readonly done = new Promise<void>((r) => (this.finished = r));

  constructor(
    private readonly socket: Socket,
    private readonly sh: SmtpdShared,
    private readonly ip: string,
    private readonly name: string,
  ) {
    this.stream = socket;
    this.info = {
      clientIp: ip,
      clientPort: socket.remotePort ?? 0,
      clientName: name,
      serverName: sh.settings.hostname,
      tls: false,
    };
    const { tls, sasl } = sh.settings;
    const encrypt = tls.level === "encrypt";
    const authNow =
      sh.auth && sasl.mechanisms.length > 0 && (!sasl.tlsOnly || tls.wrapper) ? sasl.mechanisms : null;
    this.engine = new SmtpServerEngine(
      this.info,
      {
        ...sh.settings.engine,
        extensions: {
          ...sh.settings.engine.extensions,
          auth: authNow,
          starttls: tls.context !== undefined && tls.level !== "none" && !tls.wrapper,
        },
      },
      {
        helo: (s, h) => sh.policy.helo(s, h),
        mailFrom: async (s, env) => (encrypt && !s.tls ? mustStartTls : sh.policy.mailFrom(s, env)),
        rcptTo: (s, env, r) => sh.policy.rcptTo(s, env, r.address),
        data: (s, env) => sh.policy.data(s, env),
        openMessage: (s, env) => openSink(sh, s, env, this.sinkContext()),
        prepareMessage: (s) => prepareSink(sh, s, this.sinkContext()),
        ...(sh.auth ? { auth: (s, mech, ir, io) => this.authenticate(s, mech, ir, io) } : {}),
        ...(tls.context ? { startTls: () => this.startTls() } : {}),
      },
      (e) => this.onEvent(e),
    );
  }

  private sinkContext(): SinkContext {
    return { tls: this.tlsText, saslMethod: this.saslMethod, setId: (id) => (this.queueId = id) };
  }

  async run(): Promise<void> {
    // Replies are small and each waits for the client: never let Nagle hold one back.
    this.socket.setNoDelay(true);
    this.socket.on("close", () => this.closed());
    this.socket.on("error", () => this.engine.end());

    const { tls } = this.sh.settings;
    const logConnect = () => this.sh.log.info(connectLine(this.name, this.ip));
    if (tls.wrapper && tls.context) {
      logConnect();
      try {
        await this.startTls();
        this.info.tls = true;
      } catch (err) {
        this.sh.log.warning(`TLS handshake failed from ${this.name}[${this.ip}]: ${errorText(err)}`);
        this.socket.destroy();
        await this.done;
        return;
      }
    } else this.listen(this.socket);
    this.arm();
    this.engine.start();
    // The greeting first, then the log line: the client need not wait for maillog.
    if (!this.info.tls) logConnect();
    this.socket.resume();
    // The client may be gone already (during the name lookup): its close event has passed.
    if (this.socket.destroyed) this.closed();
    await this.done;
    this.sh.log.info(disconnectLine(this.name, this.ip, this.engine.stats));
  }

  private listen(s: Socket | TLSSocket): void {
    s.on("data", (d: Buffer) => {
      this.arm();
      this.engine.feed(d);
    });
    s.on("end", () => this.engine.end());
  }

  /** STARTTLS (engine hook) and smtps: the handshake on the raw socket, then read from TLS. */
  private async startTls(): Promise<void> {
    const context = this.sh.settings.tls.context;
    if (!context) throw new Error("TLS is not configured");
    this.socket.removeAllListeners("data");
    this.socket.removeAllListeners("end");
    const tls = await upgradeToTls(this.socket, context, this.sh.settings.timeoutMs);
    tls.on("error", () => this.engine.end());
    this.stream = tls;
    this.tlsText = describeTls(tls);
    this.sh.log.info(`Anonymous TLS connection established from ${this.name}[${this.ip}]: ${this.tlsText}`);
    const { sasl } = this.sh.settings;
    if (this.sh.auth && sasl.mechanisms.length > 0) this.engine.setExtensions({ auth: sasl.mechanisms });
    this.listen(tls);
  }

  private async authenticate(
    s: SmtpSessionInfo,
    mech: string,
    ir: string | null,
    io: SmtpAuthExchange,
  ): Promise<SmtpAuthResult> {
    const client = this.sh.auth;
    if (!client) return { code: 503, enhanced: "5.5.1", text: "Error: authentication not enabled" };
    const localIp = plainIp(this.socket.localAddress ?? "");
    const r = await smtpAuth(
      { client, log: this.sh.log, hostname: this.sh.settings.hostname, localIp },
      s,
      mech,
      ir,
      io,
    );
    if ("user" in r) this.saslMethod = r.method;
    return r;
  }

  /** (Re)start the idle timer; refresh() is much cheaper than a new timer per read. */
  private arm(): void {
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.engine.timeout(), this.sh.settings.timeoutMs);
  }

  private closed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.engine.end();
    // After the engine has logged how the client left ("lost connection after ..."), which
    // it does once its pending microtasks ran: then the disconnect line.
    setImmediate(() => this.finished());
  }

  private onEvent(e: SmtpEngineEvent): void {
    const { log } = this.sh;
    switch (e.type) {
      case "reply":
        if (!this.stream.destroyed) this.stream.write(e.bytes);
        break;
      case "close":
        // Hang up as Postfix does: close once the last reply is out, without waiting for
        // the client's FIN (a wake-up of this process for nothing).
        this.stream.destroySoon();
        break;
      case "pause":
        this.stream.pause();
        break;
      case "resume":
        this.stream.resume();
        break;
      case "reject":
        log.info(
          rejectLine({
            ...(this.queueId ? { queueId: this.queueId } : {}),
            stage: e.stage,
            host: this.name,
            ip: this.ip,
            reply: e.reply,
            proto: e.helo === undefined ? "SMTP" : "ESMTP",
            ...(e.sender !== undefined ? { sender: e.sender } : {}),
            ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
            ...(e.helo !== undefined ? { helo: e.helo } : {}),
          }),
        );
        break;
      case "queued":
        this.queueId = undefined;
        break;
      case "lost":
        log.info(
          e.timedOut
            ? timeoutLine(this.name, this.ip, e.after)
            : lostConnectionLine(this.name, this.ip, e.after),
        );
        break;
      case "protocol-error":
        log.warning(protocolWarningLine(this.name, this.ip, e.detail).replace(/^warning: /, ""));
        break;
    }
  }
}
