/*
 * engine-types — the public contract of the SMTP server engine, and the internal context
 * its command handlers work on.
 *
 * The daemon (smtpd) supplies SmtpSessionInfo, SmtpEngineOptions and SmtpHooks (policy,
 * queue, TLS, SASL) and receives SmtpEngineEvents. Nothing here owns a socket.
 *
 * Talks to: nothing; types only. RFCs: 5321, 1870, 2920, 3030, 3207, 3461, 4954, 6531.
 * Security: hooks see client data already syntax-checked; hook failures are mapped to
 * temporary errors by the engine, never surfaced to the client as text.
 */
import type { SmtpReply } from "./reply.js";

export interface SmtpSessionInfo {
  clientIp: string;
  clientPort: number;
  /** Verified reverse name, or "unknown". */
  clientName: string;
  /** myhostname */
  serverName: string;
  tls: boolean;
  authUser?: string;
}

export interface SmtpRecipient {
  address: string;
  params: Readonly<Record<string, string>>;
}

export interface SmtpEnvelope {
  /** "" for the null sender <>. */
  sender: string;
  /** Upper-cased keys: SIZE, BODY, SMTPUTF8, RET, ENVID, AUTH. */
  mailParams: Readonly<Record<string, string>>;
  /** Accepted recipients only; params NOTIFY, ORCPT. */
  recipients: SmtpRecipient[];
  heloName: string;
  /** ESMTPS/ESMTPA/... are derived by the daemon from tls and authUser. */
  protocol: "SMTP" | "ESMTP";
}

/**
 * Where message content goes: un-dot-stuffed, each line ending CRLF exactly as received
 * (bare LF normalised per forbidBareNewline), headers + body, no terminating dot.
 */
export interface MessageSink {
  /** Resolves when the consumer can take more (backpressure). */
  write(chunk: Buffer): Promise<void>;
  /** Commit: e.g. "250 2.0.0 Ok: queued as ID", or "451 4.3.0 ...". */
  end(): Promise<SmtpReply>;
  /** Discard (size exceeded, client vanished, RSET during BDAT, ...). */
  abort(reason: string): void;
}

/**
 * A message begun at the first accepted RCPT (hooks.prepareMessage), before its envelope
 * is complete, where Postfix opens its queue file (smtpd_delay_open_until_valid_rcpt):
 * smtpd makes and logs the queue ID there, so DATA need not wait for anything.
 */
export interface PreparedMessage {
  /** At DATA / first BDAT, with the complete envelope: the sink (rejects: no message). */
  open(env: SmtpEnvelope): Promise<MessageSink>;
  /** The transaction ended before its content (RSET, HELO, QUIT, lost connection ...). */
  abort(reason: string): void;
}

/** Passed to the auth hook to run a SASL exchange over SMTP (RFC 4954 4). */
export interface SmtpAuthExchange {
  /**
   * Sends "334 <challenge>" (base64, may be "") and resolves with the client's next line,
   * or null when the client cancelled with "*" or the connection ended.
   */
  challenge(base64: string): Promise<string | null>;
}

export type SmtpAuthResult = { readonly user: string; readonly method?: string } | SmtpReply;

export interface SmtpHooks {
  /** Each returns null to accept with the engine's default reply, or a reply (4xx/5xx) to refuse. */
  helo?(s: SmtpSessionInfo, name: string): Promise<SmtpReply | null>;
  mailFrom?(s: SmtpSessionInfo, env: SmtpEnvelope): Promise<SmtpReply | null>;
  rcptTo?(s: SmtpSessionInfo, env: SmtpEnvelope, rcpt: SmtpRecipient): Promise<SmtpReply | null>;
  data?(s: SmtpSessionInfo, env: SmtpEnvelope): Promise<SmtpReply | null>;
  vrfy?(s: SmtpSessionInfo, arg: string): Promise<SmtpReply>;
  /** Called at DATA / first BDAT once the transaction may proceed (unless prepareMessage was). */
  openMessage(s: SmtpSessionInfo, env: SmtpEnvelope): Promise<MessageSink>;
  /**
   * Optional: called (not awaited) when a transaction accepts its first recipient, to start
   * opening the message early; must not throw. Its open() then replaces openMessage.
   */
  prepareMessage?(s: SmtpSessionInfo, env: SmtpEnvelope): PreparedMessage;
  /** STARTTLS: the daemon upgrades the socket; the engine calls this after sending 220 and waits. */
  startTls?(): Promise<void>;
  /** AUTH (optional): runs the SASL mechanism; the engine checks state and mechanism first. */
  auth?(
    s: SmtpSessionInfo,
    mechanism: string,
    initialResponse: string | null,
    io: SmtpAuthExchange,
  ): Promise<SmtpAuthResult>;
  /** Optional tarpit: awaited before the reply to a failed command once errors > softErrorLimit. */
  errorSleep?(errorCount: number): Promise<void>;
}

export interface SmtpExtensions {
  starttls: boolean;
  /** SASL mechanisms to advertise, or null for no AUTH. */
  auth: string[] | null;
  dsn: boolean;
  chunking: boolean;
  smtputf8: boolean;
  pipelining: boolean;
}

export interface SmtpEngineOptions {
  /** smtpd_banner text after "220 ". */
  greeting: string;
  hostname: string;
  /** 0 = unlimited. */
  messageSizeLimit: number;
  recipientLimit: number;
  lineLengthLimit: number;
  hardErrorLimit: number;
  softErrorLimit: number;
  /** smtpd_junk_command_limit: HELO/EHLO/RSET/NOOP/VRFY/HELP beyond it count as errors. */
  junkCommandLimit: number;
  forbidBareNewline: "normalize" | "reject" | "no";
  disableVrfy: boolean;
  heloRequired: boolean;
  extensions: SmtpExtensions;
}

export type SmtpStage = "CONNECT" | "HELO" | "MAIL" | "RCPT" | "DATA" | "END-OF-MESSAGE" | "VRFY";

export type SmtpEngineEvent =
  /** Write these bytes to the client. */
  | { type: "reply"; bytes: Buffer }
  /** Close the connection (after the replies are flushed). */
  | { type: "close" }
  /** Input backpressure to the transport. */
  | { type: "pause" }
  | { type: "resume" }
  | {
      type: "reject";
      stage: SmtpStage;
      reply: SmtpReply;
      sender?: string;
      recipient?: string;
      helo?: string;
    }
  | { type: "queued"; queueId?: string }
  /** Client vanished (or timed out): "lost connection after X" / "timeout after X". */
  | { type: "lost"; after: string; timedOut?: boolean }
  /** Bare newline, non-SMTP command, hook failure ...: for a warning in maillog. */
  | { type: "protocol-error"; detail: string };

export type CommandStats = ReadonlyMap<string, { ok: number; total: number }>;
