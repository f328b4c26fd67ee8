/*
 * login-engine — the pre-authentication half of IMAP (what imap-login runs): greeting with
 * [CAPABILITY ...], CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, ENABLE, LOGIN and AUTHENTICATE
 * (SASL-IR, "+" continuations, "*" to cancel), ending in an "authenticated" event that
 * carries the user, the tag of the successful command and every byte the client pipelined
 * after it, for the mail process to answer and continue with.
 *
 * RFCs: 3501 6.1-6.2 (any-state and not-authenticated commands), 2595/3501 (STARTTLS,
 * LOGINDISABLED), 4959 (SASL-IR), 2971 (ID), 5161 (ENABLE), 5530 (response codes). Reply
 * texts are Dovecot's imap-login's. Pure: bytes in through push() (ImapFramer, then
 * parseCommand), responses out through ImapOutput, credentials checked by the injected
 * ImapLoginAuth (the auth process, which also applies the failure penalty delay).
 * Security: no storage access. Plaintext logins are refused unless the daemon says
 * plaintext is allowed (TLS or loopback: disable_plaintext_auth). Input pipelined after
 * STARTTLS is discarded (CVE-2011-0411 class). Literals before login are small. Invalid
 * commands are counted and end the session.
 */
import { loginCapabilities } from "./capabilities.js";
import { type FramedCommand, type FrameEvent, ImapFramer } from "./framer.js";
import {
  ImapAuthenticator,
  type ImapAuthFailure,
  type ImapLoginAuth,
  statusResponse as status,
} from "./login-auth.js";
import { type ImapCommand, type NoArgVerb, type ParseResult, parseCommand } from "./parser/index.js";
import { type ImapResponse, responseBuffer } from "./serializer/responses.js";

export interface ImapOutput {
  /** Send bytes; a returned promise is awaited (backpressure). */
  write(bytes: Buffer): Promise<void> | void;
  /** Close the connection after what was written. */
  end(): void;
}

export type { ImapAuthFailure, ImapAuthVerdict, ImapLoginAuth } from "./login-auth.js";

export interface ImapLoginOptions {
  hostname: string;
  /** Text after the greeting's [CAPABILITY ...]. */
  greeting?: string;
  /** The connection is already TLS (imaps, or after STARTTLS). */
  tls: boolean;
  /** STARTTLS is offered (certificates configured) while not yet on TLS. */
  starttlsAvailable: boolean;
  /** disable_plaintext_auth evaluated by the daemon: TLS or loopback. Taken as true once on TLS. */
  plaintextAllowed: boolean;
  /** ssl = required: no AUTHENTICATE of any mechanism before TLS. */
  tlsRequired?: boolean;
  /** auth_mechanisms, upper case. */
  saslMechanisms: readonly string[];
  /** imap_max_line_length. */
  maxLineLength?: number;
  maxBadCommands?: number;
  /** The "name" field of the ID answer. */
  implementation?: string;
}

export type ImapLoginEvent =
  | { type: "authenticated"; user: string; method: string; tag: string; pipelined: Buffer }
  | { type: "starttls" }
  | { type: "auth-failed"; user?: string; method: string; attempts: number; reason: ImapAuthFailure }
  | { type: "closed"; reason: "logout" | "bad-commands" };

export const DEFAULT_MAX_BAD_COMMANDS = 20;
/** Literals before login carry a user name, a password or an ID value: small ones only. */
const LOGIN_LITERAL_LIMIT = 8192;
const LOGIN_MAX_LITERALS = 16;
const BAD_COMMAND = "Error in IMAP command received by server.";
const TAG_IS_LOGIN =
  "First parameter in line is IMAP's command tag, not the command name. Add that before the command, like: a login user pass";

type State = "command" | "sasl" | "tls-pending" | "done";
type LoginVerb = "CAPABILITY" | "NOOP" | "LOGOUT" | "STARTTLS" | "LOGIN" | "AUTHENTICATE" | "ID" | "ENABLE";
type CommandOf<V extends LoginVerb> = V extends NoArgVerb
  ? { readonly tag: string; readonly name: V }
  : Extract<ImapCommand, { name: V }>;
type HandlerTable = { readonly [V in LoginVerb]: (cmd: CommandOf<V>) => Promise<void> };

/** The raw bytes most recently pushed, trimmed to what the framer has not consumed yet. */
class InputTail {
  private chunks: Buffer[] = [];
  private length = 0;

  push(bytes: Buffer): void {
    this.chunks.push(Buffer.from(bytes));
    this.length += bytes.length;
  }

  /** Forget all but the last n bytes; returns them. */
  keep(n: number): Buffer {
    while (this.chunks.length > 0 && this.length - this.chunks[0]!.length >= n) {
      this.length -= this.chunks.shift()!.length;
    }
    if (this.length > n && this.chunks[0] !== undefined) {
      this.chunks[0] = this.chunks[0].subarray(this.length - n);
      this.length = n;
    }
    return Buffer.concat(this.chunks, this.length);
  }

  clear(): void {
    this.chunks = [];
    this.length = 0;
  }
}

export class ImapLoginEngine {
  private framer: ImapFramer;
  private readonly tail = new InputTail();
  private state: State = "command";
  private busy = false;
  private idleWaiters: Array<() => void> = [];
  private badCommands = 0;
  private tls: boolean;
  private readonly auth: ImapAuthenticator;
  private readonly handlers: HandlerTable = {
    CAPABILITY: (cmd) => this.capability(cmd.tag),
    NOOP: (cmd) => this.send(status(cmd.tag, "OK", "NOOP completed.")),
    LOGOUT: (cmd) => this.logout(cmd.tag),
    STARTTLS: (cmd) => this.starttls(cmd.tag),
    ID: (cmd) => this.id(cmd.tag),
    ENABLE: (cmd) =>
      this.send(
        { type: "ENABLED", capabilities: [] },
        status(cmd.tag, "OK", "ENABLE ignored in non-authenticated state."),
      ),
    LOGIN: (cmd) => this.auth.login(cmd.tag, cmd.user, cmd.password),
    AUTHENTICATE: (cmd) => this.auth.authenticate(cmd.tag, cmd.mechanism, cmd.initialResponse),
  };

  constructor(
    private readonly opts: ImapLoginOptions,
    verifier: ImapLoginAuth,
    private readonly out: ImapOutput,
    private readonly onEvent: (e: ImapLoginEvent) => void = () => {},
  ) {
    this.framer = this.newFramer();
    this.tls = opts.tls;
    this.auth = new ImapAuthenticator(
      {
        hostname: opts.hostname,
        mechanisms: opts.saslMechanisms,
        plaintextOk: () => this.plaintextOk(),
        tlsMissing: () => opts.tlsRequired === true && !this.tls,
        send: (...r) => this.send(...r),
        saslActive: (active) => {
          this.state = active ? "sasl" : "command";
        },
        succeeded: (user, method, tag) => this.succeeded(user, method, tag),
        failed: (e) => this.onEvent({ type: "auth-failed", ...e }),
      },
      verifier,
    );
  }

  /** Send the greeting. */
  start(): void {
    const text = this.opts.greeting ?? "postern ready.";
    void this.out.write(
      responseBuffer(status(null, "OK", text, { name: "CAPABILITY", capabilities: this.capabilities() })),
    );
  }

  /** Feed client bytes (any split). */
  push(bytes: Buffer): void {
    if (this.state === "done" || this.state === "tls-pending") return;
    this.framer.push(bytes);
    this.tail.push(bytes);
    void this.pump();
  }

  /** Bytes received and not yet handled (the daemon stops reading above a limit). */
  get buffered(): number {
    return this.framer.buffered;
  }

  /** The daemon finished the TLS handshake after a starttls event. */
  tlsStarted(): void {
    if (this.state !== "tls-pending") return;
    this.tls = true;
    this.state = "command";
  }

  /** Resolves when every buffered command has been handled (tests, orderly shutdown). */
  idle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private reading(): boolean {
    return this.state === "command" || this.state === "sasl";
  }

  private newFramer(): ImapFramer {
    return new ImapFramer({
      maxLineLength: this.opts.maxLineLength ?? 64 * 1024,
      maxLiteralSize: LOGIN_LITERAL_LIMIT,
      maxLiterals: LOGIN_MAX_LITERALS,
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.reading()) {
        const event = this.framer.next();
        if (event.kind === "none") break;
        await this.handle(event);
        if (this.reading()) this.tail.keep(this.framer.buffered);
      }
    } finally {
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async handle(event: Exclude<FrameEvent, { kind: "none" }>): Promise<void> {
    if (this.state === "sasl") return this.saslInput(event);
    switch (event.kind) {
      case "continue":
        return this.send({ type: "continuation", text: "Ready for literal data" });
      case "error":
        return this.bad(event.tag, event.text, event.status, event.code);
      case "command":
        return this.command(parseCommand(event.command));
    }
  }

  private saslInput(event: Exclude<FrameEvent, { kind: "none" }>): Promise<void> {
    if (event.kind === "continue") this.framer.abortCommand();
    const framed: FramedCommand | null = event.kind === "command" ? event.command : null;
    return this.auth.response(framed);
  }

  private async command(parsed: ParseResult): Promise<void> {
    if (!parsed.ok) {
      if (parsed.tag === null) return this.bad(null, BAD_COMMAND);
      if (parsed.verb !== null && isLoginVerb(parsed.verb)) return this.bad(parsed.tag, parsed.text);
      return this.unknown(parsed.tag);
    }
    const cmd = parsed.command;
    if (!isLoginVerb(cmd.name)) return this.unknown(cmd.tag);
    const handler = this.handlers[cmd.name] as (c: ImapCommand) => Promise<void>;
    await handler(cmd);
  }

  /** Commands of other states are unknown here, as in Dovecot's imap-login. */
  private unknown(tag: string): Promise<void> {
    if (tag.toUpperCase() === "LOGIN") return this.send(status(tag, "BAD", TAG_IS_LOGIN));
    return this.bad(tag, BAD_COMMAND);
  }

  private async send(...responses: ImapResponse[]): Promise<void> {
    await this.out.write(Buffer.concat(responses.map(responseBuffer)));
  }

  private async bad(
    tag: string | null,
    text: string,
    kind: "BAD" | "NO" = "BAD",
    code: "TOOBIG" | null = null,
  ): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= (this.opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS)) {
      return this.finish(status(null, "BYE", "Too many invalid IMAP commands."), [], "bad-commands");
    }
    await this.send(status(tag, kind, text, code === null ? null : { name: code }));
  }

  private async finish(
    bye: ImapResponse,
    more: ImapResponse[],
    reason: "logout" | "bad-commands",
  ): Promise<void> {
    this.stopReading();
    await this.send(bye, ...more);
    this.out.end();
    this.onEvent({ type: "closed", reason });
  }

  private stopReading(): void {
    this.state = "done";
    this.framer = this.newFramer();
    this.tail.clear();
  }

  private plaintextOk(): boolean {
    return this.opts.plaintextAllowed || this.tls;
  }

  private capabilities(): string[] {
    return loginCapabilities({
      starttls: this.opts.starttlsAvailable && !this.tls,
      loginDisabled: this.auth.loginDisabled(),
      mechanisms: this.auth.offeredMechanisms(),
    });
  }

  private capability(tag: string): Promise<void> {
    return this.send(
      { type: "CAPABILITY", capabilities: this.capabilities() },
      status(tag, "OK", "Pre-login capabilities listed, post-login capabilities have more."),
    );
  }

  private logout(tag: string): Promise<void> {
    return this.finish(
      status(null, "BYE", "Logging out"),
      [status(tag, "OK", "Logout completed.")],
      "logout",
    );
  }

  private async starttls(tag: string): Promise<void> {
    if (this.tls) return this.send(status(tag, "BAD", "TLS is already active."));
    if (!this.opts.starttlsAvailable) return this.send(status(tag, "BAD", "TLS support isn't enabled."));
    await this.send(status(tag, "OK", "Begin TLS negotiation now."));
    this.framer = this.newFramer();
    this.tail.clear();
    this.state = "tls-pending";
    this.onEvent({ type: "starttls" });
  }

  private id(tag: string): Promise<void> {
    return this.send(
      { type: "ID", params: [["name", this.opts.implementation ?? "postern"]] },
      status(tag, "OK", "ID completed."),
    );
  }

  private succeeded(user: string, method: string, tag: string): void {
    // Right after a command the framer holds only unread input: exactly the tail's bytes.
    const pipelined = this.tail.keep(this.framer.buffered);
    this.stopReading();
    this.onEvent({ type: "authenticated", user, method, tag, pipelined });
  }
}

const LOGIN_VERBS: ReadonlySet<string> = new Set<LoginVerb>([
  "CAPABILITY",
  "NOOP",
  "LOGOUT",
  "STARTTLS",
  "LOGIN",
  "AUTHENTICATE",
  "ID",
  "ENABLE",
]);

function isLoginVerb(verb: string): verb is LoginVerb {
  return LOGIN_VERBS.has(verb);
}
