/*
 * login-engine — the pre-authentication half of POP3 (what pop3-login runs): greeting
 * (with an APOP timestamp when APOP is on), CAPA, STLS, USER/PASS, APOP and AUTH with
 * SASL-IR, ending in an "authenticated" event that carries the user and every byte the
 * client pipelined after its successful command, for the mail process to continue with.
 *
 * RFCs: 1939 (USER, PASS, APOP, QUIT), 2449 (CAPA, response codes), 2595 (STLS), 5034
 * (AUTH, SASL-IR), 3206 ([AUTH], [SYS/TEMP]). Pure: bytes in through push(), replies out
 * through Pop3Output, credentials checked by the injected Pop3LoginAuth (the auth
 * process, which also applies the failure penalty delay).
 * Security: no storage access. Plaintext mechanisms are refused unless the daemon says
 * plaintext is allowed (TLS or loopback: disable_plaintext_auth). Input pipelined after
 * STLS is discarded (CVE-2011-0411 class). Bad commands are counted and end the session.
 */
import { createHash, randomBytes } from "node:crypto";
import { createSaslServer, isSaslMechanism, type SaslCredentials, type SaslServer } from "../auth/sasl.js";
import {
  capaLines,
  DEFAULT_LINE_LIMIT,
  DEFAULT_MAX_BAD_COMMANDS,
  err,
  LineBuffer,
  multiline,
  ok,
  type Pop3Command,
  type Pop3Output,
  parseCommand,
  type RespCode,
} from "./protocol.js";

export type Pop3Credentials =
  | SaslCredentials
  | { type: "apop"; user: string; timestamp: string; digest: string };

export type Pop3AuthVerdict = { ok: true; user: string } | { ok: false; code?: RespCode; text?: string };

export interface Pop3LoginAuth {
  verify(credentials: Pop3Credentials, method: string): Promise<Pop3AuthVerdict>;
}

export interface Pop3LoginOptions {
  hostname: string;
  /** Text after "+OK " in the greeting. */
  greeting?: string;
  apop: boolean;
  /** The connection is already TLS (pop3s, or after STLS). */
  tls: boolean;
  /** STLS is offered (certificates configured) while not yet on TLS. */
  stlsAvailable: boolean;
  /** disable_plaintext_auth evaluated by the daemon: TLS or loopback. Re-evaluated as true after STLS. */
  plaintextAllowed: boolean;
  saslMechanisms: readonly string[];
  lineLimit?: number;
  maxBadCommands?: number;
  implementation?: string;
}

export type Pop3LoginEvent =
  | { type: "authenticated"; user: string; method: string; pipelined: Buffer }
  | { type: "starttls" }
  | { type: "auth-failed"; user?: string; method: string; attempts: number }
  | { type: "closed"; reason: "quit" | "bad-commands" | "line-too-long" };

type State = "command" | "sasl" | "tls-pending" | "done";

export class Pop3LoginEngine {
  private readonly input: LineBuffer;
  private state: State = "command";
  private busy = false;
  private idleWaiters: Array<() => void> = [];
  private user: string | undefined;
  private sasl: SaslServer | undefined;
  private badCommands = 0;
  private attempts = 0;
  private tls: boolean;
  readonly apopTimestamp: string;

  constructor(
    private readonly opts: Pop3LoginOptions,
    private readonly auth: Pop3LoginAuth,
    private readonly out: Pop3Output,
    private readonly onEvent: (e: Pop3LoginEvent) => void = () => {},
  ) {
    this.input = new LineBuffer(opts.lineLimit ?? DEFAULT_LINE_LIMIT);
    this.tls = opts.tls;
    this.apopTimestamp = `<${process.pid}.${randomBytes(6).toString("hex")}.${Math.floor(Date.now() / 1000)}@${opts.hostname}>`;
  }

  /** Send the greeting. */
  start(): void {
    const text = this.opts.greeting ?? "postern ready.";
    void this.out.write(ok(this.opts.apop ? `${text} ${this.apopTimestamp}` : text));
  }

  /** Feed client bytes (any split). */
  push(bytes: Buffer): void {
    if (this.state === "done" || this.state === "tls-pending") return;
    this.input.push(bytes);
    void this.pump();
  }

  /** The daemon finished the TLS handshake after a starttls event. */
  tlsStarted(): void {
    if (this.state !== "tls-pending") return;
    this.tls = true;
    this.state = "command";
  }

  /** Resolves when every buffered line has been handled (tests, orderly shutdown). */
  idle(): Promise<void> {
    return this.busy ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.state === "command" || this.state === "sasl") {
        const line = this.input.next();
        if (line.kind === "none") break;
        if (line.kind === "too-long") {
          await this.finish(err("Input line too long."), "line-too-long");
          break;
        }
        await (this.state === "sasl" ? this.saslLine(line.text) : this.command(parseCommand(line.text)));
      }
    } finally {
      this.busy = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async finish(reply: Buffer, reason: "quit" | "bad-commands" | "line-too-long"): Promise<void> {
    this.state = "done";
    this.input.clear();
    await this.out.write(reply);
    this.out.end();
    this.onEvent({ type: "closed", reason });
  }

  private plaintextOk(): boolean {
    return this.opts.plaintextAllowed || this.tls;
  }

  private offeredMechanisms(): string[] {
    return this.opts.saslMechanisms.filter((m) => m.toUpperCase() === "CRAM-MD5" || this.plaintextOk());
  }

  private async bad(reply: Buffer): Promise<void> {
    this.badCommands++;
    if (this.badCommands >= (this.opts.maxBadCommands ?? DEFAULT_MAX_BAD_COMMANDS)) {
      await this.finish(err("Too many bad commands."), "bad-commands");
      return;
    }
    await this.out.write(reply);
  }

  private async command(cmd: Pop3Command): Promise<void> {
    switch (cmd.verb) {
      case "CAPA":
        return void (await this.out.write(multiline(ok(), this.capa())));
      case "QUIT":
        return this.finish(ok("Logging out"), "quit");
      case "STLS":
        return this.stls();
      case "USER":
        return this.userCommand(cmd);
      case "PASS":
        return this.passCommand(cmd);
      case "APOP":
        return this.apopCommand(cmd);
      case "AUTH":
        return this.authCommand(cmd);
      case "":
        return this.bad(err("Unknown command."));
      default:
        return this.bad(err(`Unknown command: ${cmd.verb.slice(0, 20).replace(/[^\x21-\x7e]/g, "?")}`));
    }
  }

  private capa(): string[] {
    return capaLines({
      stage: "login",
      stls: this.opts.stlsAvailable && !this.tls,
      user: this.plaintextOk(),
      saslMechanisms: this.offeredMechanisms(),
      implementation: this.opts.implementation ?? "postern",
    });
  }

  private async stls(): Promise<void> {
    if (this.tls) return this.bad(err("TLS is already active."));
    if (!this.opts.stlsAvailable) return this.bad(err("TLS support isn't enabled."));
    await this.out.write(ok("Begin TLS negotiation now."));
    this.input.clear();
    this.user = undefined;
    this.state = "tls-pending";
    this.onEvent({ type: "starttls" });
  }

  private async userCommand(cmd: Pop3Command): Promise<void> {
    if (!this.plaintextOk())
      return this.bad(
        err("Plaintext authentication disallowed on non-secure (SSL/TLS) connections.", "AUTH"),
      );
    if (cmd.rest === "") return this.bad(err("No username given."));
    this.user = cmd.rest;
    await this.out.write(ok());
  }

  private async passCommand(cmd: Pop3Command): Promise<void> {
    if (this.user === undefined) return this.bad(err("No username given."));
    const user = this.user;
    this.user = undefined;
    await this.verify({ type: "password", user, password: cmd.rest }, "PLAIN");
  }

  private async apopCommand(cmd: Pop3Command): Promise<void> {
    const [user, digest] = cmd.args;
    if (!this.opts.apop) return this.bad(err("APOP is not enabled."));
    if (
      cmd.args.length !== 2 ||
      user === undefined ||
      digest === undefined ||
      !/^[0-9a-fA-F]{32}$/.test(digest)
    )
      return this.bad(err("Invalid parameters."));
    await this.verify(
      { type: "apop", user, timestamp: this.apopTimestamp, digest: digest.toLowerCase() },
      "APOP",
    );
  }

  private async authCommand(cmd: Pop3Command): Promise<void> {
    const offered = this.offeredMechanisms();
    const [name, initial] = cmd.args;
    if (name === undefined) return void (await this.out.write(multiline(ok(), offered)));
    const mech = name.toUpperCase();
    if (!isSaslMechanism(mech) || !offered.some((m) => m.toUpperCase() === mech))
      return this.bad(err("Unsupported authentication mechanism."));
    if (cmd.args.length > 2) return this.bad(err("Invalid parameters."));
    this.sasl = createSaslServer(mech, { hostname: this.opts.hostname });
    await this.saslStep(this.sasl.start(initial ?? null));
  }

  private async saslLine(line: string): Promise<void> {
    if (this.sasl === undefined) return;
    await this.saslStep(this.sasl.next(line));
  }

  private async saslStep(step: ReturnType<SaslServer["start"]>): Promise<void> {
    const method = this.sasl?.mechanism ?? "";
    if (step.kind === "challenge") {
      this.state = "sasl";
      return void (await this.out.write(Buffer.from(`+ ${step.base64}\r\n`)));
    }
    this.state = "command";
    this.sasl = undefined;
    if (step.kind === "credentials") return this.verify(step.credentials, method);
    if (step.reason === "cancelled") return this.bad(err("Authentication aborted by client."));
    return this.failed(undefined, method, err("Invalid base64 data in continued response", "AUTH"));
  }

  private async verify(credentials: Pop3Credentials, method: string): Promise<void> {
    let verdict: Pop3AuthVerdict;
    try {
      verdict = await this.auth.verify(credentials, method);
    } catch {
      verdict = { ok: false, code: "SYS/TEMP", text: "Temporary authentication failure." };
    }
    if (verdict.ok) {
      this.state = "done";
      this.onEvent({
        type: "authenticated",
        user: verdict.user,
        method,
        pipelined: Buffer.from(this.input.rest()),
      });
      this.input.clear();
      return;
    }
    const reply = err(verdict.text ?? "Authentication failed.", verdict.code ?? "AUTH");
    await this.failed(credentials.user, method, reply);
  }

  private async failed(user: string | undefined, method: string, reply: Buffer): Promise<void> {
    this.attempts++;
    this.onEvent(
      user === undefined
        ? { type: "auth-failed", method, attempts: this.attempts }
        : { type: "auth-failed", user, method, attempts: this.attempts },
    );
    await this.bad(reply);
  }
}

/** RFC 1939 7: the APOP digest is MD5(timestamp + shared secret), in lower-case hex. */
export function apopDigest(timestamp: string, password: string): string {
  return createHash("md5")
    .update(timestamp + password, "utf8")
    .digest("hex");
}
