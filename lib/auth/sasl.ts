/*
 * sasl — server side of the SASL mechanisms PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and CRAM-MD5 (RFC 2195), as pure state machines, plus a
 * small driver for protocols that run the exchange through a challenge() callback
 * (SMTP AUTH, RFC 4954; POP3 AUTH, RFC 5034; IMAP AUTHENTICATE).
 *
 * A mechanism is started with the client's initial response (SASL-IR, RFC 4959: null =
 * none given, "" = the client sent "="), answers each client line with either another
 * challenge, the credentials to check, or a failure. "*" cancels (RFC 4954 4). Lines that
 * are not strict base64 fail with "malformed". Verification itself is not done here: the
 * caller checks the credentials against the passdb (auth process).
 * Talks to: nothing (schemes.ts for verifyCramMd5). Security: treats all client input as
 * hostile; PLAIN refuses an authorization identity different from the login (no proxy
 * authorization); no secret appears in a failure reason.
 */
import { createHash, randomBytes } from "node:crypto";
import { md5Finish, md5StateFromBytes } from "./md5-state.js";
import { constantTimeEqual, cramMd5Context, parseStoredPassword } from "./scheme-core.js";

export const SASL_MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5"] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export type SaslCredentials =
  | { type: "password"; user: string; password: string }
  | { type: "cram-md5"; user: string; challenge: string; response: string };

export type SaslFailureReason = "cancelled" | "malformed" | "authzid" | "unexpected-initial-response";

export type SaslStep =
  /** Send this base64 challenge ("" = an empty one) and feed the client's reply to next(). */
  | { kind: "challenge"; base64: string }
  /** The exchange is complete: check these credentials. */
  | { kind: "credentials"; credentials: SaslCredentials }
  | { kind: "failure"; reason: SaslFailureReason };

export interface SaslServer {
  readonly mechanism: SaslMechanism;
  /** Begin; `initialResponse` null = none, otherwise the raw client text ("=" = empty). */
  start(initialResponse: string | null): SaslStep;
  /** The client's reply line to the last challenge. */
  next(line: string): SaslStep;
}

/** Limit on one decoded SASL message; RFC 4616 allows 255 octets per field. */
const MAX_DECODED = 1024;

export function isSaslMechanism(name: string): name is SaslMechanism {
  return (SASL_MECHANISMS as readonly string[]).includes(name.toUpperCase());
}

type Decoded = { ok: true; bytes: Buffer } | { ok: false; step: SaslStep };

/** Decode one client response: "*" cancels, "=" is empty (only as an initial response). */
export function decodeClientResponse(line: string, initial: boolean): Decoded {
  if (line === "*") return { ok: false, step: { kind: "failure", reason: "cancelled" } };
  if (initial && line === "=") return { ok: true, bytes: Buffer.alloc(0) };
  const strict = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  if (!strict.test(line) || line.length > (MAX_DECODED * 4) / 3 + 4)
    return { ok: false, step: { kind: "failure", reason: "malformed" } };
  return { ok: true, bytes: Buffer.from(line, "base64") };
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

const fail = (reason: SaslFailureReason): SaslStep => ({ kind: "failure", reason });

/** RFC 4616: [authzid] NUL authcid NUL passwd; authzid, when given, must equal authcid. */
export function parsePlainMessage(bytes: Buffer): SaslStep {
  const text = utf8(bytes);
  if (text === undefined) return fail("malformed");
  const parts = text.split("\0");
  if (parts.length !== 3) return fail("malformed");
  const [authzid = "", user = "", password = ""] = parts;
  if (user === "" || password === "" || user.length > 255 || password.length > 255) return fail("malformed");
  if (authzid !== "" && authzid !== user) return fail("authzid");
  return { kind: "credentials", credentials: { type: "password", user, password } };
}

function plainServer(): SaslServer {
  const handle = (line: string, initial: boolean): SaslStep => {
    const d = decodeClientResponse(line, initial);
    return d.ok ? parsePlainMessage(d.bytes) : d.step;
  };
  return {
    mechanism: "PLAIN",
    start: (ir) => (ir === null ? { kind: "challenge", base64: "" } : handle(ir, true)),
    next: (line) => handle(line, false),
  };
}

const USERNAME_PROMPT = Buffer.from("Username:").toString("base64");
const PASSWORD_PROMPT = Buffer.from("Password:").toString("base64");

function loginServer(): SaslServer {
  let user: string | undefined;
  const field = (line: string, initial: boolean): string | SaslStep => {
    const d = decodeClientResponse(line, initial);
    if (!d.ok) return d.step;
    const text = utf8(d.bytes);
    return text === undefined || text === "" || text.includes("\0") || text.length > 255
      ? fail("malformed")
      : text;
  };
  const takeUser = (line: string, initial: boolean): SaslStep => {
    const v = field(line, initial);
    if (typeof v !== "string") return v;
    user = v;
    return { kind: "challenge", base64: PASSWORD_PROMPT };
  };
  return {
    mechanism: "LOGIN",
    start: (ir) => (ir === null ? { kind: "challenge", base64: USERNAME_PROMPT } : takeUser(ir, true)),
    next(line) {
      if (user === undefined) return takeUser(line, false);
      const v = field(line, false);
      if (typeof v !== "string") return v;
      return { kind: "credentials", credentials: { type: "password", user, password: v } };
    },
  };
}

/** RFC 2195 challenge: a msg-id-like string, unique per exchange. */
export function makeCramChallenge(hostname: string): string {
  return `<${randomBytes(8).readBigUInt64BE()}.${Date.now()}@${hostname}>`;
}

function cramServer(hostname: string): SaslServer {
  const challenge = makeCramChallenge(hostname);
  return {
    mechanism: "CRAM-MD5",
    start: (ir) =>
      ir === null
        ? { kind: "challenge", base64: Buffer.from(challenge).toString("base64") }
        : fail("unexpected-initial-response"),
    next(line) {
      const d = decodeClientResponse(line, false);
      if (!d.ok) return d.step;
      const m = /^(\S{1,255}) ([0-9a-fA-F]{32})$/.exec(utf8(d.bytes) ?? "");
      if (m === null || m[1] === undefined || m[2] === undefined) return fail("malformed");
      return {
        kind: "credentials",
        credentials: { type: "cram-md5", user: m[1], challenge, response: m[2].toLowerCase() },
      };
    },
  };
}

export function createSaslServer(mechanism: SaslMechanism, opts: { hostname: string }): SaslServer {
  switch (mechanism) {
    case "PLAIN":
      return plainServer();
    case "LOGIN":
      return loginServer();
    case "CRAM-MD5":
      return cramServer(opts.hostname);
  }
}

/**
 * Check a CRAM-MD5 response against a stored password: {CRAM-MD5} contexts and plaintext
 * schemes work; anything else (hashes) cannot, and yields false.
 */
export function verifyCramMd5(stored: string, challenge: string, responseHex: string): boolean {
  const { scheme, data } = parseStoredPassword(stored);
  let context: string;
  if (scheme === "CRAM-MD5" && /^[0-9a-fA-F]{64}$/.test(data)) context = data.toLowerCase();
  else if (scheme === "PLAIN" || scheme === "CLEAR" || scheme === "CLEARTEXT") context = cramMd5Context(data);
  else return false;
  const bytes = Buffer.from(context, "hex");
  const inner = md5Finish(md5StateFromBytes(bytes.subarray(16)), 64, Buffer.from(challenge, "utf8"));
  const mac = md5Finish(md5StateFromBytes(bytes.subarray(0, 16)), 64, inner).toString("hex");
  return constantTimeEqual(mac, responseHex.toLowerCase());
}

/** Can this stored password serve CRAM-MD5 (or APOP, which needs plaintext)? */
export function supportsCramMd5(stored: string): boolean {
  const { scheme } = parseStoredPassword(stored);
  return scheme === "CRAM-MD5" || scheme === "PLAIN" || scheme === "CLEAR" || scheme === "CLEARTEXT";
}

/** The transport side of an exchange; structurally the SMTP engine's SmtpAuthExchange. */
export interface SaslExchange {
  challenge(base64: string): Promise<string | null>;
}

export type SaslExchangeResult =
  | { ok: true; credentials: SaslCredentials }
  | { ok: false; reason: SaslFailureReason | "unsupported" | "disconnected" };

/** Run a mechanism to completion over `io`; verification of the credentials is the caller's. */
export async function runSaslExchange(
  mechanism: string,
  initialResponse: string | null,
  io: SaslExchange,
  opts: { hostname: string },
): Promise<SaslExchangeResult> {
  const name = mechanism.toUpperCase();
  if (!isSaslMechanism(name)) return { ok: false, reason: "unsupported" };
  const server = createSaslServer(name, opts);
  let step = server.start(initialResponse);
  for (let rounds = 0; step.kind === "challenge"; rounds++) {
    if (rounds >= 4) return { ok: false, reason: "malformed" };
    const line = await io.challenge(step.base64);
    if (line === null) return { ok: false, reason: "disconnected" };
    step = server.next(line);
  }
  return step.kind === "credentials"
    ? { ok: true, credentials: step.credentials }
    : { ok: false, reason: step.reason };
}

/** RFC 1939 APOP: MD5(timestamp + password) against a plaintext stored password. */
export function verifyApop(stored: string, timestamp: string, digestHex: string): boolean {
  const { scheme, data } = parseStoredPassword(stored);
  if (scheme !== "PLAIN" && scheme !== "CLEAR" && scheme !== "CLEARTEXT") return false;
  const expected = createHash("md5")
    .update(timestamp + data, "utf8")
    .digest("hex");
  return constantTimeEqual(expected, digestHex.toLowerCase());
}
