/*
 * session-state — the state of one SMTP session as the engine's parts share it: the
 * transaction, the DATA/BDAT reading modes, and the EngineContext through which command
 * handlers and message intake act on the engine.
 *
 * Talks to: nothing; types and small pure helpers. RFCs: 5321 3.3 (transaction), 3030.
 * Security: a transaction holds only syntax- and policy-checked data; an open MessageSink
 * belongs to exactly one transaction and is aborted whenever that transaction is dropped.
 */
import type { DotDecoder } from "./data-decoder.js";
import type {
  MessageSink,
  PreparedMessage,
  SmtpEngineOptions,
  SmtpEnvelope,
  SmtpHooks,
  SmtpRecipient,
  SmtpSessionInfo,
  SmtpStage,
} from "./engine-types.js";
import type { SmtpReply } from "./reply.js";

/** Content of a BDAT transaction so far. */
export interface BdatProgress {
  sink: MessageSink | null;
  written: number;
  /** Once set, every later chunk of this transaction gets this reply. */
  failure: SmtpReply | null;
}

export interface Transaction {
  sender: string;
  mailParams: Record<string, string>;
  recipients: SmtpRecipient[];
  bdat: BdatProgress | null;
  /** Opened at the first accepted RCPT (hooks.prepareMessage), until DATA/BDAT takes it. */
  prepared: PreparedMessage | null;
}

export interface SessionState {
  helo: { name: string; protocol: "SMTP" | "ESMTP" } | null;
  tx: Transaction | null;
  errors: number;
  /** Commands that can be repeated without end (Postfix's junk commands) since the last accepted message. */
  junk: number;
}

export interface DataMode {
  readonly kind: "data";
  readonly decoder: DotDecoder;
  sink: MessageSink | null;
  written: number;
  failure: SmtpReply | null;
}

export interface ChunkMode {
  readonly kind: "chunk";
  remaining: number;
  readonly size: number;
  readonly last: boolean;
  /** null: discard the bytes, then send `discardReply` (if any). */
  readonly target: BdatProgress | null;
  readonly discardReply: SmtpReply | null;
}

export interface RejectFields {
  sender?: string;
  recipient?: string;
  helo?: string;
}

export interface EngineContext {
  readonly info: SmtpSessionInfo;
  readonly opts: SmtpEngineOptions;
  readonly hooks: SmtpHooks;
  readonly session: SessionState;
  readonly closed: boolean;
  reply(r: SmtpReply): void;
  /** Emits a "reject" event (for the maillog NOQUEUE line) without replying. */
  noteReject(stage: SmtpStage, r: SmtpReply, fields: RejectFields): void;
  /** Emits a "reject" event and sends the reply. */
  refuse(stage: SmtpStage, r: SmtpReply, fields: RejectFields): void;
  /** Runs a policy hook; an exception becomes 451 4.3.5 plus a protocol-error event. */
  policy(name: string, call: () => Promise<SmtpReply | null>): Promise<SmtpReply | null>;
  protocolError(detail: string): void;
  queued(queueId: string | undefined): void;
  setWhere(where: string): void;
  enterData(sink: MessageSink): void;
  enterChunk(mode: Omit<ChunkMode, "kind">): void;
  enterCommands(): void;
  resetTransaction(reason: string): void;
  /** Flushes the 220, discards buffered input, runs hooks.startTls, resets the session. */
  startTls(): Promise<void>;
  /** For SASL: sends "334 ..." and reads the next line (null: connection gone). */
  exchangeLine(challenge: string): Promise<string | null>;
  close(): void;
}

export function envelopeOf(ctx: EngineContext, tx: Transaction): SmtpEnvelope {
  return {
    sender: tx.sender,
    mailParams: tx.mailParams,
    recipients: tx.recipients,
    heloName: ctx.session.helo?.name ?? "",
    protocol: ctx.session.helo?.protocol ?? "SMTP",
  };
}

export function fieldsOf(ctx: EngineContext, sender: string | undefined, recipient?: string): RejectFields {
  const fields: RejectFields = {};
  if (sender !== undefined) fields.sender = sender;
  if (recipient !== undefined) fields.recipient = recipient;
  if (ctx.session.helo) fields.helo = ctx.session.helo.name;
  return fields;
}

export function failBdat(progress: BdatProgress, failure: SmtpReply, reason: string): void {
  progress.failure = failure;
  progress.sink?.abort(reason);
  progress.sink = null;
}
