/*
 * mail-engine — the authenticated half of POP3 (what the pop3 process runs): the
 * TRANSACTION state on a mailbox snapshot and the UPDATE state at QUIT.
 *
 * RFC 1939 STAT, LIST [n], RETR, DELE, NOOP, RSET, TOP, UIDL [n], QUIT; RFC 2449 CAPA,
 * response codes [IN-USE] and [SYS/TEMP]. The message list is fixed when the session
 * starts; DELE only marks, and marks are applied by Pop3Store.commitDeletes at QUIT —
 * a connection that ends any other way deletes nothing. Sizes are the store's CRLF octet
 * counts; bodies are dot-stuffed as they stream, with backpressure through Pop3Output.
 * Talks to: the injected Pop3Store (mailbox storage) and Pop3Output (the client).
 * Security: runs as the mail owner; store errors become "-ERR [SYS/TEMP] ..." without
 * detail, reported through onEvent for maillog.
 */
import { DotStuffer, stuffedReply } from "./dot-stuff.js";
import {
  capaLines,
  DEFAULT_LINE_LIMIT,
  DEFAULT_MAX_BAD_COMMANDS,
  err,
  LineBuffer,
  multiline,
  ok,
  okLine,
  type Pop3Command,
  type Pop3Output,
  parseCommand,
} from "./protocol.js";

/**
 * A whole message held in memory as it is stored, with LF or CRLF line ends: the engine
 * turns bare LFs into CRLF while it dot-stuffs, in the one pass that builds the reply.
 */
export interface StoredMessage {
  readonly stored: Buffer;
  /** Called with the message's size in CRLF form once the reply is built (statistics). */
  sent?(crlfOctets: number): void;
}

export type Pop3Body = AsyncIterable<Buffer> | readonly Buffer[] | StoredMessage;

export interface Pop3ListEntry {
  readonly uidl: string;
  readonly size: number;
}

/**
 * The session's message list without an object per message: what the engine keeps for
 * the session (a mailbox of thousands of messages costs one array, not thousands of objects
 * made at login and kept, and later collected, for the whole session).
 */
export interface Pop3Listing {
  /** CRLF octets of message i + 1. */
  readonly sizes: ArrayLike<number>;
  /** The UIDL of message i + 1; asked for only by UIDL, so it can be computed then. */
  uidl(i: number): string;
}

export interface Pop3Store {
  /** Sizes are octets of the CRLF form. */
  /** `uidl` may be a getter: the engine reads it only for UIDL, so it can be computed then. */
  list(): Promise<readonly Pop3ListEntry[]>;
  /** Optional: the same list as a Pop3Listing, which the engine then uses instead of list(). */
  listing?(): Pop3Listing;
  /**
   * The message in CRLF form (the engine dot-stuffs): streamed, or, for a message small
   * enough to hold, its chunks already in memory, or the whole stored message in LF or CRLF
   * form (a StoredMessage); a held message's reply is built in one buffer and one write.
   */
  retrieve(n: number): Promise<Pop3Body>;
  /**
   * Optional fast path for RETR: a small message read now with blocking calls, or undefined
   * when it must take retrieve() (too big, renamed, any error: retrieve() then decides). The
   * buffer may be reused by the store's next call, so the engine consumes it before returning.
   */
  retrieveNow?(n: number): StoredMessage | undefined;
  /** Header, the blank line, and the first `lines` body lines, CRLF form. */
  top(n: number, lines: number): Promise<Pop3Body>;
  /** 1-based numbers of the session's list. */
  commitDeletes(ns: number[]): Promise<void>;
  /** Release locks; called once when the session ends for any reason. */
  close?(): Promise<void>;
}

/** A store error that says what kind it is (protocol-neutral MailError shape). */
export interface Pop3StoreError {
  kind: string;
}

function isHeld(body: Pop3Body): body is readonly Buffer[] {
  return Array.isArray(body);
}

function isStored(body: Pop3Body): body is StoredMessage {
  return (body as Partial<StoredMessage>).stored !== undefined;
}

function errorKind(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "kind" in e && typeof e.kind === "string"
    ? e.kind
    : undefined;
}

export interface Pop3MailOptions {
  user: string;
  lineLimit?: number;
  maxBadCommands?: number;
  implementation?: string;
}

export type Pop3MailEvent =
  | { type: "opened"; messages: number; octets: number }
  | { type: "store-error"; command: string; error: unknown }
  | {
      type: "closed";
      reason: "quit" | "bad-commands" | "line-too-long" | "open-failed" | "disconnected";
      deleted: number;
      retrieved: number;
    };

/** A Pop3Listing over list()'s entries (stores without listing()). */
function entriesListing(entries: readonly Pop3ListEntry[]): Pop3Listing {
  return { sizes: entries.map((e) => e.size), uidl: (i) => (entries[i] as Pop3ListEntry).uidl };
}

const NO_MESSAGES: Pop3Listing = { sizes: [], uidl: () => "" };

type Handler = (cmd: Pop3Command) => Promise<void>;

export class Pop3MailEngine {
  private readonly input: LineBuffer;
  /** The session's messages (fixed at login); DELE marks are the `deleted` flags. */
  private listed: Pop3Listing = NO_MESSAGES;
  private count = 0;
  private deleted = new Uint8Array(0);
  /** Messages not marked deleted, and their octets (STAT, LIST). */
  private liveCount = 0;
  private liveOctets = 0;
  private state: "starting" | "transaction" | "done" = "starting";
  private busy = false;
  private idleWaiters: Array<() => void> = [];
  private badCommands = 0;
  private retrieved = 0;
  private readonly handlers: ReadonlyMap<string, Handler>;

  constructor(
    private readonly openStore: () => Promise<Pop3Store>,
    private readonly opts: Pop3MailOptions,
    private readonly out: Pop3Output,
    private readonly onEvent: (e: Pop3MailEvent) => void = () => {},
  ) {
    this.input = new LineBuffer(opts.lineLimit ?? DEFAULT_LINE_LIMIT);
    this.slot = out.slot?.bind(out);
    this.handlers = new Map<string, Handler>([
      ["CAPA", () => this.capa()],
      ["STAT", (c) => this.stat(c)],
      ["LIST", (c) => this.list(c)],
      ["UIDL", (c) => this.uidl(c)],
      ["RETR", (c) => this.retr(c)],
      ["TOP", (c) => this.top(c)],
      ["DELE", (c) => this.dele(c)],
      ["NOOP", (c) => this.noArgs(c, () => ok())],
      ["RSET", (c) => this.noArgs(c, () => this.rset())],
      ["QUIT", () => this.quit()],
    ]);
  }

  private store: Pop3Store | undefined;
  /** Where a whole reply can be built in the output's batch (Pop3Output.slot), if it offers that. */
  private readonly slot: ((size: number) => Buffer | undefined) | undefined;
  /** Commands arrived while a batch was being answered: run another batch after it. */
  private inputWhileBusy = false;

  /** Open the mailbox, answer "+OK Logged in." (or [IN-USE]/[SYS/TEMP]), then run `pipelined`. */
  async start(pipelined: Buffer = Buffer.alloc(0)): Promise<void> {
    this.busy = true;
    try {
      this.store = await this.openStore();
      this.listed = this.store.listing?.() ?? entriesListing(await this.store.list());
      this.count = this.listed.sizes.length;
      this.deleted = new Uint8Array(this.count);
      this.unmarkAll();
    } catch (e: unknown) {
      this.busy = false;
      const inUse = errorKind(e) === "in-use";
      this.onEvent({ type: "store-error", command: "open", error: e });
      return this.end(
        inUse
          ? err("Mailbox is locked by another POP3 session.", "IN-USE")
          : err("Couldn't open INBOX.", "SYS/TEMP"),
        "open-failed",
      );
    }
    this.state = "transaction";
    this.onEvent({ type: "opened", messages: this.count, octets: this.liveOctets });
    await this.out.write(ok("Logged in."));
    this.busy = false;
    this.push(pipelined);
    await this.idle();
  }

  push(bytes: Buffer): void {
    if (this.state === "done") return;
    this.input.push(bytes);
    if (this.state === "transaction") void this.pump();
  }

  /** The client vanished or timed out: nothing is deleted. */
  async disconnected(): Promise<void> {
    if (this.state === "done") return;
    this.state = "done";
    this.input.clear();
    await this.closeStore();
    this.onEvent({ type: "closed", reason: "disconnected", deleted: 0, retrieved: this.retrieved });
  }

  idle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private async pump(): Promise<void> {
    if (this.busy) {
      this.inputWhileBusy = true;
      return;
    }
    this.busy = true;
    this.inputWhileBusy = false;
    this.out.cork?.();
    try {
      while (this.state === "transaction") {
        const line = this.input.next();
        if (line.kind === "none") break;
        if (line.kind === "too-long") {
          await this.end(err("Input line too long."), "line-too-long");
          break;
        }
        const cmd = parseCommand(line.text);
        // RETR of a small message is answered without a promise per command (pipelined
        // batches of it are the common case); anything else goes through dispatch.
        const now = this.retrNow(cmd);
        if (now === false) await this.dispatch(cmd);
        else if (now !== undefined) await now;
      }
    } finally {
      // Backpressure: the next batch of commands waits until the client took this one.
      const sent = this.out.uncork?.();
      if (sent !== undefined) await sent;
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
    if (this.inputWhileBusy) void this.pump();
  }

  private async dispatch(cmd: Pop3Command): Promise<void> {
    const handler = this.handlers.get(cmd.verb);
    if (handler === undefined) return this.bad(err("Unknown command."));
    try {
      await handler(cmd);
    } catch (e: unknown) {
      this.onEvent({ type: "store-error", command: cmd.verb, error: e });
      await this.end(
        err("Internal error occurred. Refer to server log for more information.", "SYS/TEMP"),
        "quit",
      );
    }
  }

  private async end(
    reply: Buffer,
    reason: "quit" | "bad-commands" | "line-too-long" | "open-failed",
    deleted = 0,
  ): Promise<void> {
    this.state = "done";
    this.input.clear();
    await this.out.write(reply);
    this.out.end();
    await this.closeStore();
    this.onEvent({ type: "closed", reason, deleted, retrieved: this.retrieved });
  }

  private async closeStore(): Promise<void> {
    const store = this.store;
    this.store = undefined;
    await store
      ?.close?.()
      .catch((e: unknown) => this.onEvent({ type: "store-error", command: "close", error: e }));
  }

  private async bad(reply: Buffer): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= (this.opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS))
      return this.end(err("Too many bad commands."), "bad-commands");
    await this.out.write(reply);
  }

  private size(n: number): number {
    return this.listed.sizes[n - 1] as number;
  }

  /** No message marked deleted (login, RSET). */
  private unmarkAll(): void {
    this.deleted.fill(0);
    this.liveCount = this.count;
    this.liveOctets = 0;
    for (let i = 0; i < this.count; i++) this.liveOctets += this.listed.sizes[i] as number;
  }

  /** A message number argument: decimal, in range, not deleted; otherwise the error reply. */
  private message(arg: string | undefined): number | Buffer {
    if (arg === undefined) return err("Message number argument missing.");
    if (!/^\d{1,10}$/.test(arg))
      return err(`Invalid message number: ${arg.slice(0, 20).replace(/[^\x21-\x7e]/g, "?")}`);
    const n = Number(arg);
    if (n < 1 || n > this.count) return err(`There's no message ${n}.`);
    return this.deleted[n - 1] === 1 ? err("Message is deleted.") : n;
  }

  /** The argument count is within [min, max] (otherwise the handler answers with badArgs). */
  private argCount(cmd: Pop3Command, min: number, max: number): boolean {
    return cmd.args.length >= min && cmd.args.length <= max;
  }

  private badArgs(cmd: Pop3Command, min: number): Promise<void> {
    return this.bad(err(cmd.args.length < min ? "Missing argument." : "Too many arguments."));
  }

  private async noArgs(cmd: Pop3Command, reply: () => Buffer): Promise<void> {
    if (!this.argCount(cmd, 0, 0)) return this.badArgs(cmd, 0);
    await this.out.write(reply());
  }

  private async capa(): Promise<void> {
    const lines = capaLines({
      stage: "mail",
      stls: false,
      user: false,
      saslMechanisms: [],
      implementation: this.opts.implementation ?? "postern",
    });
    await this.out.write(multiline(ok(), lines));
  }

  private async stat(cmd: Pop3Command): Promise<void> {
    await this.noArgs(cmd, () => ok(`${this.liveCount} ${this.liveOctets}`));
  }

  /** LIST or UIDL: `field` of message n. */
  private async listing(cmd: Pop3Command, field: (n: number) => string, header: string): Promise<void> {
    if (!this.argCount(cmd, 0, 1)) return this.badArgs(cmd, 0);
    if (cmd.args.length === 0) {
      const lines: string[] = [];
      for (let n = 1; n <= this.count; n++) if (this.deleted[n - 1] === 0) lines.push(`${n} ${field(n)}`);
      return void (await this.out.write(multiline(ok(header), lines)));
    }
    const n = this.message(cmd.args[0]);
    if (typeof n !== "number") return this.bad(n);
    await this.out.write(ok(`${n} ${field(n)}`));
  }

  private list(cmd: Pop3Command): Promise<void> {
    return this.listing(cmd, (n) => String(this.size(n)), `${this.liveCount} messages:`);
  }

  private uidl(cmd: Pop3Command): Promise<void> {
    return this.listing(cmd, (n) => this.listed.uidl(n - 1), "");
  }

  /** A multi-line reply: the status line (with its CRLF), then the body dot-stuffed and ended. */
  private async streamBody(status: string, body: Pop3Body): Promise<void> {
    if (isStored(body)) return this.sendStored(status, body);
    if (isHeld(body)) {
      const whole = body.length === 1 ? (body[0] as Buffer) : Buffer.concat(body);
      const { reply, placed } = stuffedReply(status, whole, false, this.slot);
      return placed ? undefined : this.out.write(reply);
    }
    const stuffer = new DotStuffer();
    await this.out.write(Buffer.from(status, "latin1"));
    for await (const chunk of body) await this.out.write(stuffer.stuff(chunk));
    await this.out.write(stuffer.finish());
  }

  private async retr(cmd: Pop3Command): Promise<void> {
    if (!this.argCount(cmd, 1, 1)) return this.badArgs(cmd, 1);
    const n = this.message(cmd.args[0]);
    if (typeof n !== "number") return this.bad(n);
    const body = await (this.store as Pop3Store).retrieve(n);
    await this.streamBody(this.retrStatus(n), body);
    this.retrieved++;
  }

  private retrStatus(n: number): string {
    return okLine(`${this.size(n)} octets`);
  }

  /** A message as stored, dot-stuffed in one buffer (in the output's batch when it has room). */
  private sendStored(status: string, body: StoredMessage): Promise<void> | undefined {
    const { reply, crlfOctets, placed } = stuffedReply(status, body.stored, true, this.slot);
    body.sent?.(crlfOctets);
    return placed ? undefined : (this.out.write(reply) ?? undefined);
  }

  /**
   * RETR answered synchronously when the store can read the message now: false when the
   * command needs the general path (errors included, which retr() then reports), otherwise
   * what out.write returned (a promise only under backpressure).
   */
  private retrNow(cmd: Pop3Command): Promise<void> | undefined | false {
    const store = this.store;
    if (cmd.verb !== "RETR" || store?.retrieveNow === undefined || cmd.args.length !== 1) return false;
    const n = this.message(cmd.args[0]);
    if (typeof n !== "number") return false;
    let body: StoredMessage | undefined;
    try {
      body = store.retrieveNow(n);
    } catch {
      return false;
    }
    if (body === undefined) return false;
    const sent = this.sendStored(this.retrStatus(n), body);
    this.retrieved++;
    return sent;
  }

  private async top(cmd: Pop3Command): Promise<void> {
    if (!this.argCount(cmd, 2, 2)) return this.badArgs(cmd, 2);
    const n = this.message(cmd.args[0]);
    if (typeof n !== "number") return this.bad(n);
    const lines = cmd.args[1] ?? "";
    if (!/^\d{1,9}$/.test(lines)) return this.bad(err("Invalid number of lines."));
    await this.streamBody(okLine(), await (this.store as Pop3Store).top(n, Number(lines)));
  }

  private async dele(cmd: Pop3Command): Promise<void> {
    if (!this.argCount(cmd, 1, 1)) return this.badArgs(cmd, 1);
    const n = this.message(cmd.args[0]);
    if (typeof n !== "number") return this.bad(n);
    this.deleted[n - 1] = 1;
    this.liveCount--;
    this.liveOctets -= this.size(n);
    await this.out.write(ok("Marked to be deleted."));
  }

  private rset(): Buffer {
    this.unmarkAll();
    return ok();
  }

  /** UPDATE state: apply the marks, then say goodbye. */
  private async quit(): Promise<void> {
    const ns: number[] = [];
    for (let n = 1; n <= this.count; n++) if (this.deleted[n - 1] === 1) ns.push(n);
    if (ns.length === 0) return this.end(ok("Logging out."), "quit");
    try {
      await (this.store as Pop3Store).commitDeletes(ns);
    } catch (e: unknown) {
      this.onEvent({ type: "store-error", command: "QUIT", error: e });
      return this.end(err("Some deleted messages were not removed.", "SYS/TEMP"), "quit");
    }
    await this.end(ok("Logging out, messages deleted."), "quit", ns.length);
  }
}
