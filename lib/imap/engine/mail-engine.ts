/*
 * mail-engine — the authenticated half of IMAP (what the imap mail process runs): client
 * bytes in through push(), responses out through ImapOutput, one command at a time in the
 * order received (pipelined commands wait their turn; their literals are already framed).
 *
 * It owns the session state (authenticated / selected / logout, RFC 3501 §3), dispatches
 * to the handlers in ../commands (routes.ts), answers the session commands itself
 * (CAPABILITY, NOOP, LOGOUT, ID, ENABLE, NAMESPACE, IDLE) and, after every command with a
 * mailbox selected, sends what changed meanwhile (refresh: EXPUNGE, EXISTS, RECENT, FETCH
 * FLAGS) — never an EXPUNGE during FETCH, STORE or SEARCH (RFC 3501 §7.4.1).
 * IDLE (RFC 2177) watches the folder and reports changes at once, with a keepalive
 * "* OK Still here" so NAT boxes keep the connection.
 *
 * Talks to: framer.ts, parser, serializer, ../commands, lib/mailbox.
 * Security: input is hostile. Framer limits bound memory; malformed commands get BAD and the
 * session goes on, until max bad commands ends it with BYE. Handler failures become NO
 * [SERVERBUG] with the cause in maillog, never a crash.
 */
import type { FolderChanges } from "../../mailbox/folder.js";
import type { MailStore } from "../../mailbox/folders.js";
import type {
  CommandResult,
  ImapContext,
  ImapSettings,
  RefreshOptions,
  SelectedMailbox,
} from "../commands/context.js";
import { reportedFlags } from "../commands/flags.js";
import { type FrameEvent, type FramerLimits, ImapFramer } from "../framer.js";
import { isIdleDone, parseCommand } from "../parser/index.js";
import type { ImapCommand } from "../parser/types.js";
import { encodeResponse, type ImapResponse, responseBuffer, streamParts } from "../serializer/responses.js";
import type { ImapValue } from "../serializer/values.js";
import { ROUTES } from "./routes.js";
import { sessionCommand } from "./session-commands.js";

/** Pending output is written once it reaches this many bytes (and after every command). */
const FLUSH_AT = 64 * 1024;

export interface ImapOutput {
  write(bytes: Buffer): void | Promise<void>;
  /**
   * Optional: write and resolve once the output no longer holds `bytes` (written, or the
   * connection gone), so the caller may fill the same buffer again. Without it the engine
   * copies what a caller wants to reuse.
   */
  writeReleasing?(bytes: Buffer): Promise<void>;
  end(): void;
}

export interface ImapMailOptions {
  readonly user: string;
  readonly store: MailStore;
  readonly settings: ImapSettings;
  readonly limits: FramerLimits;
  readonly maxBadCommands: number;
  readonly capabilities: readonly string[];
  /** IDLE keepalive interval (Dovecot's imap_idle_notify_interval, 2 minutes). */
  readonly idleNotifyMs: number;
  readonly implementation?: string;
}

export type CloseReason = "logout" | "bad-commands" | "disconnected" | "error";

export type ImapMailEvent =
  | { readonly type: "closed"; readonly reason: CloseReason }
  | { readonly type: "error"; readonly text: string };

interface Idling {
  readonly tag: string;
  readonly stopWatch: () => void;
  readonly keepalive: NodeJS.Timeout;
}

/** EXPUNGE may not be sent while these (non-UID) commands are answered. */
const NO_EXPUNGE = new Set(["FETCH", "STORE", "SEARCH"]);

export class ImapMailEngine implements ImapContext {
  selected: SelectedMailbox | null = null;
  condstore = false;
  readonly stats = { bytesIn: 0, bytesOut: 0, expunged: 0 };
  private readonly framer: ImapFramer;
  private chain: Promise<void> = Promise.resolve();
  private pumping = false;
  private closed = false;
  private badCommands = 0;
  private idling: Idling | null = null;
  private keywordCount = 0;
  /** Set by refresh() during the current command: whether one ran, and with EXPUNGEs allowed. */
  private refreshed: boolean | undefined;
  /** Output waiting to be written: responses are coalesced into few large writes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly opts: ImapMailOptions,
    private readonly output: ImapOutput,
    private readonly onEvent: (e: ImapMailEvent) => void,
  ) {
    this.framer = new ImapFramer(opts.limits);
  }

  get user(): string {
    return this.opts.user;
  }
  get store(): MailStore {
    return this.opts.store;
  }
  get settings(): ImapSettings {
    return this.opts.settings;
  }
  get capabilities(): readonly string[] {
    return this.opts.capabilities;
  }
  get implementation(): string {
    return this.opts.implementation ?? "postern";
  }
  /** Bytes received and not yet handled, for the daemon's backpressure. */
  get buffered(): number {
    return this.framer.buffered;
  }

  /** Answer the login command (its tag came with the hand-off), then run what followed it. */
  async start(tag: string | null, pipelined: Buffer): Promise<void> {
    try {
      await this.opts.store.ensureSpecialUse();
    } catch (err) {
      this.logError(`creating special-use folders: ${String(err)}`);
    }
    const code = { name: "CAPABILITY" as const, capabilities: this.opts.capabilities };
    await this.sendRaw({
      type: "status",
      tag,
      status: tag === null ? "PREAUTH" : "OK",
      code,
      text: "Logged in",
    });
    await this.flush();
    this.push(pipelined);
  }

  push(bytes: Buffer): void {
    if (this.closed || bytes.length === 0) return;
    this.stats.bytesIn += bytes.length;
    this.framer.push(bytes);
    void this.pump();
  }

  /** The client went away. */
  disconnected(): void {
    this.finish("disconnected");
  }

  /** Resolves when no command is running. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** True while input is being worked through. */
  get busy(): boolean {
    return this.pumping;
  }

  /** Run after everything queued before, then push out what it wrote. */
  private exclusive(fn: () => Promise<void>): Promise<void> {
    const run = this.chain.then(fn).finally(() => this.flush());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed) {
        const event = this.framer.next();
        if (event.kind === "none") break;
        await this.exclusive(() => this.onFrame(event));
      }
    } catch (err) {
      this.onEvent({ type: "error", text: err instanceof Error ? err.message : String(err) });
      this.finish("error");
    } finally {
      this.pumping = false;
    }
  }

  private async onFrame(event: Exclude<FrameEvent, { kind: "none" }>): Promise<void> {
    if (event.kind === "continue")
      return this.sendRaw({ type: "continuation", text: "Ready for literal data." });
    if (event.kind === "error") {
      const code = event.code === null ? null : { name: event.code };
      await this.sendRaw({
        type: "status",
        tag: event.tag ?? null,
        status: event.status,
        code,
        text: event.text,
      });
      return this.countBad();
    }
    if (this.idling !== null) return this.endIdle(isIdleDone(event.command));
    const parsed = parseCommand(event.command);
    if (!parsed.ok) {
      await this.sendRaw({ type: "status", tag: parsed.tag, status: "BAD", code: null, text: parsed.text });
      return this.countBad();
    }
    await this.run(parsed.command);
  }

  private async countBad(): Promise<void> {
    if (++this.badCommands < this.opts.maxBadCommands) return;
    await this.sendRaw({
      type: "status",
      tag: null,
      status: "BYE",
      code: null,
      text: "Too many invalid IMAP commands.",
    });
    await this.flush();
    this.finish("bad-commands");
  }

  private async run(cmd: ImapCommand): Promise<void> {
    const selectedBefore = this.selected;
    this.refreshed = undefined;
    const result = await this.execute(cmd).catch((err: unknown): CommandResult => {
      this.logError(`${cmd.name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return {
        status: "NO",
        code: { name: "SERVERBUG" },
        text: "Internal error occurred. Refer to server log for more information.",
      };
    });
    if (result === null || this.closed) return; // IDLE answers later; LOGOUT has answered
    // Consecutive errors end the session; a long-lived client's occasional BAD does not.
    if (result.status === "BAD") await this.countBad();
    else this.badCommands = 0;
    // A mailbox this command selected was synced by it just now, and a handler that sent
    // its own refresh last (STORE, EXPUNGE, MOVE) did the same: no second freshness check
    if (this.selected !== null && this.selected === selectedBefore && this.idling === null) {
      const uid = "uid" in cmd && cmd.uid === true;
      const expunges = uid || !NO_EXPUNGE.has(cmd.name);
      if (this.refreshed === undefined || (expunges && !this.refreshed)) await this.refresh({ expunges });
    }
    await this.sendRaw({
      type: "status",
      tag: cmd.tag,
      status: result.status,
      code: result.code,
      text: result.text,
    });
  }

  private async execute(cmd: ImapCommand): Promise<CommandResult | null> {
    const own = await sessionCommand(cmd, this);
    if (own !== undefined) return own;
    const route = ROUTES.get(cmd.name);
    if (route === undefined)
      return { status: "BAD", code: null, text: `Error in IMAP command ${cmd.name}: Unknown command.` };
    if (route.state === "selected" && this.selected === null)
      return { status: "BAD", code: null, text: "No mailbox selected." };
    return route.handler(cmd, this);
  }

  // --- ImapContext ---------------------------------------------------------------------

  enableCondstore(): void {
    this.condstore = true;
  }

  setSelected(selected: SelectedMailbox | null): void {
    this.selected = selected;
    this.keywordCount = selected?.folder.keywords.length ?? 0;
  }

  logError(text: string): void {
    this.onEvent({ type: "error", text });
  }

  async send(response: ImapResponse): Promise<void> {
    if (this.closed) return;
    const parts = encodeResponse(response);
    if (parts.length === 1 && Buffer.isBuffer(parts[0])) return this.write(parts[0]);
    for await (const chunk of streamParts(parts)) await this.write(chunk);
  }

  sendText(text: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.write(Buffer.from(text, "latin1"));
  }

  async sendWire(bytes: Buffer, _ends: readonly number[]): Promise<void> {
    if (this.closed) return;
    const releasing = this.output.writeReleasing;
    if (bytes.length < FLUSH_AT || releasing === undefined) {
      // kept until the next flush: a copy, so the caller may fill its buffer again at once
      return this.write(Buffer.from(bytes));
    }
    this.stats.bytesOut += bytes.length;
    if (this.pendingBytes > 0) {
      // flush() concatenates them into a new buffer: `bytes` is free once that is made
      this.pending.push(bytes);
      this.pendingBytes += bytes.length;
      return this.flush();
    }
    await releasing.call(this.output, bytes);
  }

  private sendRaw(response: ImapResponse): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.write(responseBuffer(response));
  }

  private async write(bytes: Buffer): Promise<void> {
    this.stats.bytesOut += bytes.length;
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= FLUSH_AT) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const out =
      this.pending.length === 1
        ? (this.pending[0] as Buffer)
        : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.output.write(out);
  }

  async refresh(opts: RefreshOptions): Promise<void> {
    const sel = this.selected;
    if (sel === null) return;
    this.refreshed = this.refreshed === true || opts.expunges;
    const before = sel.folder.messages.length;
    const recentBefore = sel.folder.recentCount;
    const changes = await sel.folder.sync({ announceExpunges: opts.expunges });
    for (const seq of changes.expungedSeqs) await this.sendRaw({ type: "EXPUNGE", number: seq });
    this.stats.expunged += changes.expunged.length;
    if (sel.folder.keywords.length !== this.keywordCount) await this.announceKeywords(sel);
    const count = sel.folder.messages.length;
    if (count !== before - changes.expungedSeqs.length || changes.added.length > 0) {
      await this.sendRaw({ type: "EXISTS", number: count });
      await this.sendRaw({ type: "RECENT", number: sel.folder.recentCount });
    } else if (sel.folder.recentCount !== recentBefore) {
      await this.sendRaw({ type: "RECENT", number: sel.folder.recentCount });
    }
    await this.reportFlags(sel, changes, opts);
  }

  private async announceKeywords(sel: SelectedMailbox): Promise<void> {
    this.keywordCount = sel.folder.keywords.length;
    const flags = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", ...sel.folder.keywords];
    await this.sendRaw({ type: "FLAGS", flags });
    if (sel.readOnly) return;
    const code = { name: "PERMANENTFLAGS" as const, flags: [...flags, "\\*"] };
    await this.sendRaw({ type: "status", tag: null, status: "OK", code, text: "Flags permitted." });
  }

  private async reportFlags(
    sel: SelectedMailbox,
    changes: FolderChanges,
    opts: RefreshOptions,
  ): Promise<void> {
    // the usual refresh (NOOP, after most commands): nothing changed, nothing asked for
    if (changes.flagged.length === 0 && (opts.always === undefined || opts.always.size === 0)) return;
    const uids = new Set(changes.flagged.map((m) => m.uid));
    for (const uid of opts.always ?? []) uids.add(uid);
    for (const uid of opts.quiet ?? []) if (!opts.always?.has(uid)) uids.delete(uid);
    const ordered = [...uids].filter((u) => !sel.folder.isExpunged(u)).sort((a, b) => a - b);
    for (const uid of ordered) {
      const m = sel.folder.byUid(uid);
      const seq = sel.folder.seqOf(uid);
      if (m === undefined || seq === undefined) continue;
      const flags: ImapValue = reportedFlags(m.flags, sel.folder.isRecent(uid)).map((atom) => ({ atom }));
      const items: [string, ImapValue][] = [
        ["UID", m.uid],
        ["FLAGS", flags],
      ];
      if (this.condstore) items.push(["MODSEQ", [BigInt(m.modseq)]]);
      await this.sendRaw({ type: "FETCH", seq, items });
    }
  }

  // --- IDLE and LOGOUT -----------------------------------------------------------------

  /** IDLE: "+ idling", then changes as they happen until DONE. */
  async startIdle(tag: string): Promise<void> {
    await this.sendRaw({ type: "continuation", text: "idling" });
    const sel = this.selected;
    if (sel !== null) await this.refresh({ expunges: true });
    const onChange = () => {
      if (this.idling?.tag === tag)
        void this.exclusive(() => this.refresh({ expunges: true })).catch((err: unknown) =>
          this.logError(`IDLE: ${String(err)}`),
        );
    };
    const stopWatch = sel === null ? () => undefined : sel.folder.watch(onChange);
    const keepalive = setInterval(() => {
      if (this.idling?.tag === tag)
        void this.exclusive(() =>
          this.sendRaw({ type: "status", tag: null, status: "OK", code: null, text: "Still here" }),
        );
    }, this.opts.idleNotifyMs);
    keepalive.unref();
    this.idling = { tag, stopWatch, keepalive };
  }

  private async endIdle(done: boolean): Promise<void> {
    const idling = this.idling;
    if (idling === null) return;
    this.stopIdle();
    if (this.selected !== null) await this.refresh({ expunges: true });
    if (done)
      return this.sendRaw({
        type: "status",
        tag: idling.tag,
        status: "OK",
        code: null,
        text: "Idle completed.",
      });
    await this.sendRaw({
      type: "status",
      tag: idling.tag,
      status: "BAD",
      code: null,
      text: "Expected DONE.",
    });
    await this.countBad();
  }

  private stopIdle(): void {
    if (this.idling === null) return;
    this.idling.stopWatch();
    clearInterval(this.idling.keepalive);
    this.idling = null;
  }

  async logout(tag: string): Promise<void> {
    await this.sendRaw({ type: "status", tag: null, status: "BYE", code: null, text: "Logging out" });
    await this.sendRaw({ type: "status", tag, status: "OK", code: null, text: "Logout completed." });
    await this.flush();
    this.finish("logout");
  }

  private finish(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.stopIdle();
    this.selected = null;
    if (reason !== "disconnected") this.output.end();
    this.onEvent({ type: "closed", reason });
  }
}
