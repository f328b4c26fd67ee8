/*
 * login-auth — LOGIN and AUTHENTICATE for the IMAP login engine: plaintext and TLS policy,
 * the SASL exchange (lib/auth/sasl.ts) with "+ " continuations, SASL-IR and "*" to cancel,
 * verification through the injected ImapLoginAuth, and Dovecot's imap-login replies:
 *   NO [AUTHENTICATIONFAILED] Authentication failed.
 *   NO [UNAVAILABLE] Temporary authentication failure.
 *   NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.
 *   NO [ALERT] Unsupported authentication mechanism.
 *   BAD Authentication aborted by client.
 * RFCs: 3501 6.2.2-6.2.3, 4959 (SASL-IR), 5530 (codes), 4616 (PLAIN).
 * Talks to: the engine (ImapAuthHost) and the verifier. Security: passwords are passed on,
 * never logged or echoed; a LOGIN sent in the clear where it is not allowed is refused
 * with an alert that the password was exposed, and counted as a failed attempt.
 */
import { createSaslServer, isSaslMechanism, type SaslCredentials, type SaslServer } from "../auth/sasl.js";
import type { FramedCommand } from "./framer.js";
import { saslResponse } from "./parser/index.js";
import type { ImapResponse, ResponseCode } from "./serializer/responses.js";

export type ImapAuthVerdict = { ok: true; user: string } | { ok: false; temporary: boolean };

export interface ImapLoginAuth {
  verify(credentials: SaslCredentials, method: string): Promise<ImapAuthVerdict>;
}

/** Why a login attempt failed, for the daemon's log line. */
export type ImapAuthFailure =
  | "failed"
  | "temporary"
  | "plaintext-disallowed"
  | "tls-required"
  | "unsupported-mechanism"
  | "aborted"
  | "malformed";

export interface ImapAuthFailureEvent {
  user?: string;
  method: string;
  attempts: number;
  reason: ImapAuthFailure;
}

/** What the authenticator needs from the engine it serves. */
export interface ImapAuthHost {
  readonly hostname: string;
  /** auth_mechanisms, upper case. */
  readonly mechanisms: readonly string[];
  plaintextOk(): boolean;
  /** ssl = required and the connection is not TLS yet. */
  tlsMissing(): boolean;
  send(...responses: ImapResponse[]): Promise<void>;
  /** The next input lines are SASL responses (true) or commands again (false). */
  saslActive(active: boolean): void;
  succeeded(user: string, method: string, tag: string): void;
  failed(event: ImapAuthFailureEvent): void;
}

export const statusResponse = (
  tag: string | null,
  kind: "OK" | "NO" | "BAD" | "BYE",
  text: string,
  code: ResponseCode | null = null,
): ImapResponse => ({ type: "status", tag, status: kind, code, text });

/** RFC 3501 mechanisms a server must not offer in the clear; CRAM-MD5 hides the password. */
const PLAINTEXT_MECHANISMS: ReadonlySet<string> = new Set(["PLAIN", "LOGIN"]);
/** A SASL exchange longer than this is not one of our mechanisms misbehaving, but a client. */
const MAX_SASL_ROUNDS = 4;

const PLAINTEXT_EXPOSED =
  "Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed.";

interface Exchange {
  readonly tag: string;
  readonly server: SaslServer;
  rounds: number;
}

export class ImapAuthenticator {
  private attempts = 0;
  private exchange: Exchange | undefined;

  constructor(
    private readonly host: ImapAuthHost,
    private readonly verifier: ImapLoginAuth,
  ) {}

  /** The mechanisms usable on this connection now (AUTH= capabilities). */
  offeredMechanisms(): string[] {
    return this.host.mechanisms.filter(
      (m) => isSaslMechanism(m) && (!PLAINTEXT_MECHANISMS.has(m) || this.host.plaintextOk()),
    );
  }

  /** LOGINDISABLED: plaintext not allowed here, or no PLAIN to run LOGIN through (Dovecot). */
  loginDisabled(): boolean {
    return !this.host.plaintextOk() || !this.host.mechanisms.includes("PLAIN");
  }

  async login(tag: string, user: string, password: string): Promise<void> {
    this.attempts++;
    if (!this.host.plaintextOk()) {
      await this.host.send(
        statusResponse(null, "BAD", PLAINTEXT_EXPOSED, { name: "ALERT" }),
        statusResponse(
          tag,
          "NO",
          "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
          { name: "PRIVACYREQUIRED" },
        ),
      );
      return this.fail(user, "PLAIN", "plaintext-disallowed");
    }
    if (this.loginDisabled()) return this.unsupported(tag, "PLAIN");
    await this.verify(tag, { type: "password", user, password }, "PLAIN");
  }

  async authenticate(tag: string, mechanism: string, initialResponse: string | null): Promise<void> {
    this.attempts++;
    const mech = mechanism.toUpperCase();
    if (this.host.tlsMissing()) {
      await this.host.send(
        statusResponse(tag, "NO", "Authentication not allowed until SSL/TLS is enabled.", {
          name: "PRIVACYREQUIRED",
        }),
      );
      return this.fail(undefined, mech, "tls-required");
    }
    if (!isSaslMechanism(mech) || !this.host.mechanisms.includes(mech)) return this.unsupported(tag, mech);
    if (!this.offeredMechanisms().includes(mech)) {
      await this.host.send(
        statusResponse(tag, "NO", "Plaintext authentication disabled.", { name: "PRIVACYREQUIRED" }),
      );
      return this.fail(undefined, mech, "plaintext-disallowed");
    }
    const server = createSaslServer(mech, { hostname: this.host.hostname });
    this.exchange = { tag, server, rounds: 0 };
    // The parser turns SASL-IR "=" into ""; the SASL layer wants the client's text.
    await this.step(server.start(initialResponse === "" ? "=" : initialResponse));
  }

  /** One client line during AUTHENTICATE; null when it was not a plain line (literal, too long). */
  async response(framed: FramedCommand | null): Promise<void> {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    const line = framed === null ? null : saslResponse(framed);
    if (line === null) return this.end("BAD", "Invalid base64 data in continued response", "malformed");
    if (line.cancel) return this.end("BAD", "Authentication aborted by client.", "aborted");
    await this.step(exchange.server.next(line.base64));
  }

  private async step(step: ReturnType<SaslServer["start"]>): Promise<void> {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    if (step.kind === "challenge") {
      if (++exchange.rounds > MAX_SASL_ROUNDS) return this.end("BAD", "Too many SASL rounds.", "malformed");
      this.host.saslActive(true);
      return this.host.send({ type: "continuation", text: step.base64 });
    }
    this.exchange = undefined;
    this.host.saslActive(false);
    if (step.kind === "credentials")
      return this.verify(exchange.tag, step.credentials, exchange.server.mechanism);
    const method = exchange.server.mechanism;
    if (step.reason === "cancelled") {
      await this.host.send(statusResponse(exchange.tag, "BAD", "Authentication aborted by client."));
      return this.fail(undefined, method, "aborted");
    }
    if (step.reason === "authzid") {
      await this.host.send(
        statusResponse(exchange.tag, "NO", "Authorization failed", { name: "AUTHORIZATIONFAILED" }),
      );
      return this.fail(undefined, method, "failed");
    }
    await this.host.send(
      statusResponse(exchange.tag, "NO", "Authentication failed.", { name: "AUTHENTICATIONFAILED" }),
    );
    this.fail(undefined, method, "malformed");
  }

  private async end(kind: "BAD", text: string, reason: ImapAuthFailure): Promise<void> {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.exchange = undefined;
    this.host.saslActive(false);
    await this.host.send(statusResponse(exchange.tag, kind, text));
    this.fail(undefined, exchange.server.mechanism, reason);
  }

  private async unsupported(tag: string, mech: string): Promise<void> {
    await this.host.send(
      statusResponse(tag, "NO", "Unsupported authentication mechanism.", { name: "ALERT" }),
    );
    this.fail(undefined, mech.slice(0, 20), "unsupported-mechanism");
  }

  private async verify(tag: string, credentials: SaslCredentials, method: string): Promise<void> {
    let verdict: ImapAuthVerdict;
    try {
      verdict = await this.verifier.verify(credentials, method);
    } catch {
      verdict = { ok: false, temporary: true };
    }
    if (verdict.ok) return this.host.succeeded(verdict.user, method, tag);
    await this.host.send(
      verdict.temporary
        ? statusResponse(tag, "NO", "Temporary authentication failure.", { name: "UNAVAILABLE" })
        : statusResponse(tag, "NO", "Authentication failed.", { name: "AUTHENTICATIONFAILED" }),
    );
    this.fail(credentials.user, method, verdict.temporary ? "temporary" : "failed");
  }

  private fail(user: string | undefined, method: string, reason: ImapAuthFailure): void {
    const base = { method, attempts: this.attempts, reason };
    this.host.failed(user === undefined ? base : { ...base, user });
  }
}
