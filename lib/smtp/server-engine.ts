/*
 * server-engine — the SMTP server protocol engine: bytes in, replies and events out.
 *
 * One SmtpServerEngine per connection. The daemon feeds it the client's bytes in any split
 * and writes the "reply" events to the socket; policy, queue, TLS and SASL are injected
 * hooks (engine-types.ts). The engine frames input (command lines, DATA, BDAT chunks),
 * runs one command at a time through the handler table (command-handlers.ts) and keeps
 * every later byte buffered while a hook is pending, so pipelined input (RFC 2920) is
 * processed strictly in order. Replies of a pipelined burst are coalesced into one "reply"
 * event, sent when no further complete input is waiting.
 *
 * Talks to: its hooks and its emit callback only; no sockets, no timers (the daemon owns
 * the idle timer and calls timeout()). RFCs: 5321, 2920, 3030, 3207, 4954.
 * Security: input is hostile. A loop, never recursion, drives commands (thousands per
 * feed); buffered input above 256 KiB pauses the transport; lines are length-capped and
 * DATA streams without holding lines; input buffered behind STARTTLS is discarded
 * (CVE-2011-0411); DATA ends only at CRLF.CRLF (data-decoder.ts, CVE-2023-51764); hook
 * exceptions become 4xx replies and protocol-error events, never text to the client, and
 * feed() never throws.
 */
import { TextDecoder } from "node:util";
import { runCommand, stateRefusal } from "./command-handlers.js";
import { type ParseResult, parseCommand } from "./command-parser.js";
import { DotDecoder } from "./data-decoder.js";
import type {
  CommandStats,
  MessageSink,
  SmtpEngineEvent,
  SmtpEngineOptions,
  SmtpHooks,
  SmtpSessionInfo,
  SmtpStage,
} from "./engine-types.js";
import { InputBuffer, type LineResult } from "./input-buffer.js";
import { stepChunk, stepData } from "./message-intake.js";
import { R, reply, type SmtpReply } from "./reply.js";
import { ReplyQueue } from "./reply-queue.js";
import type { ChunkMode, DataMode, EngineContext, RejectFields, SessionState } from "./session-state.js";

export * from "./engine-types.js";
export type { SmtpReply } from "./reply.js";

/** Pause the transport above this many buffered bytes, resume below the low mark. */
const PAUSE_ABOVE = 256 * 1024;
const RESUME_BELOW = 64 * 1024;
/** Replies are flushed early once this much is queued. */
const FLUSH_ABOVE = 64 * 1024;
/** SASL responses may be longer than command lines (Postfix: smtpd_sasl ... 12288). */
const SASL_LINE_LIMIT = 12288;

type Mode =
  | { readonly kind: "command" }
  | DataMode
  | ChunkMode
  | { readonly kind: "tls" }
  | { readonly kind: "closed" };

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Postfix's junk commands (smtpd_junk_command_limit); we have no ETRN, and HELP may loop too. */
const JUNK_COMMANDS: ReadonlySet<string> = new Set(["HELO", "EHLO", "RSET", "NOOP", "VRFY", "HELP"]);

function decodeLine(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class SmtpServerEngine implements EngineContext {
  readonly info: SmtpSessionInfo;
  readonly opts: SmtpEngineOptions;
  readonly session: SessionState = { helo: null, tx: null, errors: 0, junk: 0 };
  private readonly replies = new ReplyQueue(FLUSH_ABOVE);
  private readonly input = new InputBuffer();
  private mode: Mode = { kind: "command" };
  private where = "CONNECT";
  private failedCommand = false;
  private running = false;
  private dirty = false;
  private eof = false;
  private paused = false;
  private isClosed = false;
  private lineWaiter: ((line: string | null) => void) | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(
    info: SmtpSessionInfo,
    opts: SmtpEngineOptions,
    readonly hooks: SmtpHooks,
    private readonly listener: (e: SmtpEngineEvent) => void,
  ) {
    this.info = { ...info };
    this.opts = { ...opts, extensions: { ...opts.extensions } };
  }

  get stats(): CommandStats {
    return this.replies.stats;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  // ── the transport's interface ─────────────────────────────────────────────────

  /** Emits the 220 greeting. */
  start(): void {
    this.queueReply(reply(220, "", this.opts.greeting));
    this.flush();
  }

  /** Bytes from the client, any split. Never throws. */
  feed(chunk: Buffer): void {
    if (this.isClosed || this.mode.kind === "tls") return; // bytes behind STARTTLS are discarded
    this.input.append(chunk);
    this.dirty = true;
    if (this.lineWaiter) this.serveLineWaiter();
    this.updateBackpressure();
    this.kick();
  }

  /** The client closed its side: process what is buffered, then report the loss. */
  end(): void {
    if (this.isClosed) return;
    this.eof = true;
    this.dirty = true;
    if (this.lineWaiter) this.serveLineWaiter();
    this.kick();
  }

  /** The daemon's idle timer fired. */
  timeout(): void {
    if (this.isClosed) return;
    const after = this.describeWhere();
    this.abortMessage("timeout");
    this.queueReply(R.timeout(this.opts.hostname));
    this.emit({ type: "lost", after, timedOut: true });
    this.close();
  }

  setTls(on: boolean): void {
    this.info.tls = on;
  }

  setAuthUser(user: string): void {
    this.info.authUser = user;
  }

  /** Changes advertised extensions (e.g. AUTH only after TLS). */
  setExtensions(ext: Partial<SmtpEngineOptions["extensions"]>): void {
    Object.assign(this.opts.extensions, ext);
  }

  /** Resolves once buffered input has been processed as far as it can be without more input. */
  idle(): Promise<void> {
    if (!this.running || this.lineWaiter !== null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // ── the processing loop ───────────────────────────────────────────────────────

  private kick(): void {
    if (!this.running) void this.pump();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (!this.isClosed) {
        this.dirty = false;
        const progressed = await this.step();
        if (!progressed && !this.dirty) break;
      }
      if (!this.isClosed && this.eof && this.lineWaiter === null) this.lostConnection();
    } catch (e: unknown) {
      this.protocolError(`internal error: ${messageOf(e)}`);
      this.abortMessage("internal error");
      this.queueReply(reply(421, "4.3.0", `${this.opts.hostname} Error: internal error`));
      this.close();
    } finally {
      this.running = false;
      this.flush();
      this.updateBackpressure();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async step(): Promise<boolean> {
    const mode = this.mode;
    switch (mode.kind) {
      case "command":
        return this.stepCommand();
      case "data":
        return stepData(this, this.input, mode);
      case "chunk":
        return stepChunk(this, this.input, mode);
      default:
        return false;
    }
  }

  private async stepCommand(): Promise<boolean> {
    const line = this.input.takeLine(this.opts.lineLengthLimit);
    if (line.kind === "none") return false;
    this.updateBackpressure();
    this.failedCommand = false;
    await this.processLine(line);
    const sleep = this.hooks.errorSleep;
    if (this.failedCommand && sleep && !this.isClosed && this.session.errors > this.opts.softErrorLimit) {
      await sleep.call(this.hooks, this.session.errors);
    }
    return true;
  }

  private async processLine(line: Exclude<LineResult, { kind: "none" }>): Promise<void> {
    const hard = this.opts.hardErrorLimit;
    if (hard > 0 && this.session.errors >= hard) {
      this.queueReply(R.tooManyErrors(this.opts.hostname));
      return this.close();
    }
    if (line.kind === "too-long") return this.rejectLine(R.lineTooLong);
    if (line.bareLf && this.opts.forbidBareNewline === "reject") {
      this.protocolError("bare <LF> received");
      this.rejectLine(R.bareLf);
      return this.close();
    }
    const text = decodeLine(line.bytes);
    if (text === null) return this.rejectLine(R.badUtf8);
    await this.dispatch(parseCommand(text), text);
  }

  private rejectLine(r: SmtpReply): void {
    this.beginCommand("unknown");
    this.where = "UNKNOWN";
    this.queueReply(r);
  }

  private async dispatch(parsed: ParseResult, text: string): Promise<void> {
    if (!parsed.ok) {
      this.beginCommand(parsed.verb);
      if (parsed.nonSmtp) this.protocolError(`non-SMTP command: ${text.slice(0, 100)}`);
      this.queueReply(stateRefusal(this, parsed.verb) ?? parsed.reply);
      if (parsed.fatal) return this.close();
      if (parsed.skipBytes !== undefined && parsed.skipBytes > 0) {
        this.mode = {
          kind: "chunk",
          remaining: parsed.skipBytes,
          size: parsed.skipBytes,
          last: false,
          target: null,
          discardReply: null,
        };
      }
      return;
    }
    const command = parsed.command;
    this.beginCommand(command.verb === "UNKNOWN" ? "unknown" : command.verb.toLowerCase());
    this.where = command.verb;
    // As Postfix: a client may repeat these only so often before each counts as an error, so
    // that the error limits end a session kept open with them.
    if (JUNK_COMMANDS.has(command.verb) && this.session.junk++ > this.opts.junkCommandLimit)
      this.session.errors++;
    await runCommand(this, command);
  }

  // ── EngineContext: what handlers may do ────────────────────────────────────────

  reply(r: SmtpReply): void {
    this.queueReply(r);
  }

  noteReject(stage: SmtpStage, r: SmtpReply, fields: RejectFields): void {
    this.emit({ type: "reject", stage, reply: r, ...fields });
  }

  refuse(stage: SmtpStage, r: SmtpReply, fields: RejectFields): void {
    this.noteReject(stage, r, fields);
    this.queueReply(r);
  }

  async policy(name: string, call: () => Promise<SmtpReply | null>): Promise<SmtpReply | null> {
    try {
      return await call();
    } catch (e: unknown) {
      this.protocolError(`${name} hook failed: ${messageOf(e)}`);
      return R.policyProblem;
    }
  }

  protocolError(detail: string): void {
    this.emit({ type: "protocol-error", detail });
  }

  queued(queueId: string | undefined): void {
    // As Postfix: an accepted message forgives the client's errors and junk commands so far.
    this.session.errors = 0;
    this.session.junk = 0;
    this.emit(queueId === undefined ? { type: "queued" } : { type: "queued", queueId });
  }

  setWhere(where: string): void {
    this.where = where;
  }

  enterData(sink: MessageSink): void {
    this.mode = {
      kind: "data",
      decoder: new DotDecoder(this.opts.forbidBareNewline),
      sink,
      written: 0,
      failure: null,
    };
    this.flush(); // the client waits for 354 before sending content
  }

  enterChunk(mode: Omit<ChunkMode, "kind">): void {
    this.mode = { kind: "chunk", ...mode };
  }

  enterCommands(): void {
    if (!this.isClosed) this.mode = { kind: "command" };
  }

  resetTransaction(reason: string): void {
    const tx = this.session.tx;
    const bdat = tx?.bdat;
    if (bdat?.sink) bdat.sink.abort(reason);
    if (tx?.prepared) {
      tx.prepared.abort(reason);
      tx.prepared = null;
    }
    this.session.tx = null;
  }

  async startTls(): Promise<void> {
    const upgrade = this.hooks.startTls;
    this.flush();
    this.mode = { kind: "tls" };
    this.input.discardAll(); // CVE-2011-0411: nothing sent in plaintext may survive the upgrade
    try {
      await upgrade?.call(this.hooks);
    } catch (e: unknown) {
      this.protocolError(`STARTTLS failed: ${messageOf(e)}`);
      return this.close();
    }
    if (this.isClosed) return;
    this.input.discardAll();
    this.info.tls = true;
    this.session.helo = null;
    this.resetTransaction("STARTTLS");
    this.mode = { kind: "command" };
  }

  exchangeLine(challenge: string): Promise<string | null> {
    this.queueReply(reply(334, "", challenge));
    this.flush();
    return new Promise((resolve) => {
      this.lineWaiter = resolve;
      this.serveLineWaiter();
      if (this.lineWaiter !== null) this.notifyIdle(); // blocked on the client, not on us
    });
  }

  close(): void {
    if (this.isClosed) return;
    this.abortMessage("connection closed");
    this.flush();
    this.isClosed = true;
    this.mode = { kind: "closed" };
    this.input.discardAll();
    this.emit({ type: "close" });
    this.lineWaiter?.(null);
    this.lineWaiter = null;
  }

  // ── internals ─────────────────────────────────────────────────────────────────

  /** A failing listener is the daemon's bug; it must not unwind the protocol state machine. */
  private emit(e: SmtpEngineEvent): void {
    try {
      this.listener(e);
    } catch {
      // nothing sensible to tell the client; the daemon's own error handling applies
    }
  }

  private serveLineWaiter(): void {
    const waiter = this.lineWaiter;
    if (waiter === null) return;
    const line = this.input.takeLine(SASL_LINE_LIMIT);
    if (line.kind === "none" && !this.eof) return;
    this.lineWaiter = null;
    this.updateBackpressure();
    waiter(line.kind === "line" ? line.bytes.toString("latin1") : null);
  }

  private beginCommand(verb: string): void {
    this.replies.beginCommand(verb);
  }

  private queueReply(r: SmtpReply): void {
    if (this.isClosed) return;
    if (r.code >= 400) {
      this.session.errors++;
      this.failedCommand = true;
    }
    if (this.replies.push(r)) this.flush();
  }

  private flush(): void {
    const bytes = this.isClosed ? null : this.replies.take();
    if (bytes !== null) this.emit({ type: "reply", bytes });
  }

  private updateBackpressure(): void {
    const size = this.input.size;
    if (!this.paused && size > PAUSE_ABOVE && !this.isClosed) {
      this.paused = true;
      this.emit({ type: "pause" });
    } else if (this.paused && (size < RESUME_BELOW || this.isClosed)) {
      this.paused = false;
      this.emit({ type: "resume" });
    }
  }

  /** "DATA (123 bytes)" while content is streaming, else the last command. */
  private describeWhere(): string {
    const mode = this.mode;
    if (mode.kind === "data") return `DATA (${mode.written} bytes)`;
    const bdat = this.session.tx?.bdat;
    if (mode.kind === "chunk" || bdat) return `BDAT (${bdat?.written ?? 0} bytes)`;
    return this.where;
  }

  private abortMessage(reason: string): void {
    if (this.mode.kind === "data" && this.mode.sink) {
      this.mode.sink.abort(reason);
      this.mode.sink = null;
    }
    this.resetTransaction(reason);
  }

  private lostConnection(): void {
    const after = this.describeWhere();
    this.abortMessage("lost connection");
    this.emit({ type: "lost", after });
    this.close();
  }
}
