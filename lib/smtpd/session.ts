/*
 * session — one SMTP connection: the socket handed over by master, wired to the pure
 * protocol engine (lib/smtp), the restriction hooks, and cleanup. Owns the idle timer
 * (smtpd_timeout), applies the engine's backpressure to the socket, and writes Postfix's
 * smtpd log lines: connect, ID: client=..., NOQUEUE: reject: ..., lost connection /
 * timeout after X, disconnect with per-command counts.
 * Input is untrusted; nothing a client sends can throw out of here.
 */
import type { Socket } from "node:net";
import { type CleanupClient, CleanupError } from "../cleanup/client.js";
import { errorText, type Logger } from "../log/index.js";
import {
  type MessageSink,
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

export interface SmtpdSettings {
  engine: SmtpEngineOptions;
  hostname: string;
  timeoutMs: number;
  connectionLimit: number;
  peerLookup: boolean;
}

export interface SmtpdShared {
  settings: SmtpdSettings;
  policy: SmtpdPolicy;
  cleanup: CleanupClient;
  log: Logger;
  perIp: Map<string, number>;
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

async function openSink(
  sh: SmtpdShared,
  s: SmtpSessionInfo,
  env: SmtpEnvelope,
  onId: (id: string) => void,
): Promise<MessageSink> {
  const h = await sh.cleanup.open({
    envelope: queueEnvelope(env, s),
    received: {
      heloName: env.heloName,
      clientName: s.clientName,
      clientIp: s.clientIp,
      protocol: protocolOf(env, s),
      ...(s.authUser ? { saslUser: s.authUser } : {}),
      ...(env.recipients.length === 1 && env.recipients[0]
        ? { forRecipient: env.recipients[0].address }
        : {}),
    },
    inputIsCrlf: true,
  });
  onId(h.id);
  sh.log.info(clientLine({ queueId: h.id, host: s.clientName, ip: s.clientIp }));
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

export async function serveSmtp(socket: Socket, sh: SmtpdShared): Promise<void> {
  const ip = plainIp(socket.remoteAddress ?? "unknown");
  const count = (sh.perIp.get(ip) ?? 0) + 1;
  sh.perIp.set(ip, count);
  try {
    await session(socket, sh, ip, count);
  } finally {
    const n = (sh.perIp.get(ip) ?? 1) - 1;
    if (n <= 0) sh.perIp.delete(ip);
    else sh.perIp.set(ip, n);
  }
}

async function session(socket: Socket, sh: SmtpdShared, ip: string, count: number): Promise<void> {
  const { settings, log } = sh;
  const name = settings.peerLookup ? await verifiedName(ip) : "unknown";
  const info: SmtpSessionInfo = {
    clientIp: ip,
    clientPort: socket.remotePort ?? 0,
    clientName: name,
    serverName: settings.hostname,
    tls: false,
  };
  log.info(connectLine(name, ip));
  if (settings.connectionLimit > 0 && count > settings.connectionLimit) {
    log.warning(`Connection concurrency limit exceeded: ${count} from ${name}[${ip}] for service smtp`);
    socket.end(`421 4.7.0 ${settings.hostname} Error: too many connections from ${ip}\r\n`);
    log.info(`disconnect from ${name}[${ip}] commands=0/0`);
    return;
  }
  let queueId: string | undefined;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => engine.timeout(), settings.timeoutMs);
  };
  const emit = (e: SmtpEngineEvent): void => {
    switch (e.type) {
      case "reply":
        if (!socket.destroyed) socket.write(e.bytes);
        break;
      case "close":
        socket.end();
        break;
      case "pause":
        socket.pause();
        break;
      case "resume":
        socket.resume();
        break;
      case "reject":
        log.info(
          rejectLine({
            ...(queueId ? { queueId } : {}),
            stage: e.stage,
            host: name,
            ip,
            reply: e.reply,
            proto: e.helo === undefined ? "SMTP" : "ESMTP",
            ...(e.sender !== undefined ? { sender: e.sender } : {}),
            ...(e.recipient !== undefined ? { recipient: e.recipient } : {}),
            ...(e.helo !== undefined ? { helo: e.helo } : {}),
          }),
        );
        break;
      case "queued":
        queueId = undefined;
        break;
      case "lost":
        log.info(e.timedOut ? timeoutLine(name, ip, e.after) : lostConnectionLine(name, ip, e.after));
        break;
      case "protocol-error":
        log.warning(protocolWarningLine(name, ip, e.detail).replace(/^warning: /, ""));
        break;
    }
  };
  const engine = new SmtpServerEngine(
    info,
    settings.engine,
    {
      helo: (s, h) => sh.policy.helo(s, h),
      mailFrom: (s, env) => sh.policy.mailFrom(s, env),
      rcptTo: (s, env, r) => sh.policy.rcptTo(s, env, r.address),
      data: (s, env) => sh.policy.data(s, env),
      openMessage: (s, env) => openSink(sh, s, env, (id) => (queueId = id)),
    },
    emit,
  );
  socket.on("data", (d: Buffer) => {
    arm();
    engine.feed(d);
  });
  socket.on("end", () => engine.end());
  socket.on("error", () => engine.end());
  socket.on("close", () => {
    if (timer) clearTimeout(timer);
    engine.end();
    done();
  });
  arm();
  // Replies are small and each waits for the client: never let Nagle hold one back.
  socket.setNoDelay(true);
  engine.start();
  socket.resume();
  await finished;
  log.info(disconnectLine(name, ip, engine.stats));
}
