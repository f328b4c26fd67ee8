/*
 * command-parser — one SMTP command line in, a typed command or a syntax error out.
 *
 * Pure: no session state. The caller has already cut the line at CRLF and decoded it as
 * UTF-8. Verbs are case-insensitive. MAIL FROM / RCPT TO take a bracketed path; Postfix's
 * tolerance of a space after the colon is kept, a source route (<@a,@b:user@d>) is accepted
 * and dropped (RFC 5321 C. and 4.1.1.3), the null path <> is a sender only, ESMTP
 * parameters are KEY[=value] with upper-cased keys. Their meaning (SIZE, BODY, DSN ...) is
 * checked in esmtp-params.ts, which knows the offered extensions.
 *
 * Talks to: nothing. RFCs: 5321 4.1, 3030 (BDAT), 4954 (AUTH).
 * Security: input is hostile. Paths are bounded (256 octets, RFC 5321 4.5.3.1.3), no
 * whitespace or control characters outside quoted local parts, no regular expression with
 * backtracking on client data. Browser-style commands (GET, POST, CONNECT, or a verb not
 * starting with a letter) are flagged as non-SMTP, as Postfix's smtpd_forbidden_commands.
 */
import { R, reply, type SmtpReply } from "./reply.js";

export type EsmtpParams = Record<string, string>;

export type SmtpCommand =
  | { readonly verb: "HELO" | "EHLO"; readonly name: string }
  | { readonly verb: "MAIL" | "RCPT"; readonly address: string; readonly params: Readonly<EsmtpParams> }
  | { readonly verb: "DATA" | "RSET" | "NOOP" | "QUIT" | "STARTTLS" | "HELP" }
  | { readonly verb: "VRFY"; readonly arg: string }
  | { readonly verb: "BDAT"; readonly size: number; readonly last: boolean }
  | { readonly verb: "AUTH"; readonly mechanism: string; readonly initialResponse: string | null }
  | { readonly verb: "UNKNOWN"; readonly word: string };

export type SmtpVerb = SmtpCommand["verb"];

export type ParseResult =
  | { readonly ok: true; readonly command: SmtpCommand }
  | {
      readonly ok: false;
      /** Lower-case verb for the per-command statistics ("unknown" if none). */
      readonly verb: string;
      readonly reply: SmtpReply;
      /** The session cannot continue in sync (BDAT without a count, a non-SMTP command). */
      readonly fatal?: boolean;
      /** BDAT with a valid count but bad syntax otherwise: these bytes follow and must be skipped. */
      readonly skipBytes?: number;
      readonly nonSmtp?: boolean;
    };

export const MAX_PATH_LENGTH = 256;
const FORBIDDEN_VERBS = new Set(["CONNECT", "GET", "POST"]);
const KNOWN_VERBS = new Set(["HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT"]);
for (const v of ["STARTTLS", "HELP", "VRFY", "BDAT", "AUTH"]) KNOWN_VERBS.add(v);

function fail(
  verb: string,
  r: SmtpReply,
  extra: Partial<Omit<ParseResult & { ok: false }, "ok">> = {},
): ParseResult {
  return { ok: false, verb: verb.toLowerCase(), reply: r, ...extra };
}

function ok(command: SmtpCommand): ParseResult {
  return { ok: true, command };
}

/** Parses one command line (without its CRLF). */
export function parseCommand(raw: string): ParseResult {
  const line = raw.replace(/^[ \t]+/, ""); // Postfix's tokenizer skips leading white space
  const space = line.search(/[ \t]/);
  const word = space < 0 ? line : line.slice(0, space);
  const rest = space < 0 ? "" : line.slice(space + 1);
  const verb = word.toUpperCase();
  if (word === "") return fail("unknown", R.badSyntax);
  if (FORBIDDEN_VERBS.has(verb) || !/^[A-Za-z]/.test(word)) {
    return fail("unknown", R.nonSmtpCommand, { fatal: true, nonSmtp: true });
  }
  if (!KNOWN_VERBS.has(verb)) return ok({ verb: "UNKNOWN", word });
  return parseKnown(verb, rest);
}

function parseKnown(verb: string, rest: string): ParseResult {
  const arg = rest.trim();
  switch (verb) {
    case "HELO":
    case "EHLO":
      return parseHelo(verb, arg);
    case "MAIL":
      return parsePathCommand("MAIL", rest);
    case "RCPT":
      return parsePathCommand("RCPT", rest);
    case "DATA":
    case "RSET":
    case "STARTTLS":
      return arg === "" ? ok({ verb }) : fail(verb, R.syntax(verb));
    case "NOOP":
    case "QUIT":
    case "HELP":
      return ok({ verb }); // RFC 5321 4.1.1.9: a NOOP argument is ignored
    case "VRFY":
      return arg === "" ? fail(verb, R.syntax("VRFY address")) : ok({ verb: "VRFY", arg });
    case "BDAT":
      return parseBdat(arg);
    default:
      return parseAuth(arg);
  }
}

function parseHelo(verb: "HELO" | "EHLO", arg: string): ParseResult {
  const name = arg.split(/[ \t]+/)[0] ?? "";
  return name === "" ? fail(verb, R.syntax(`${verb} hostname`)) : ok({ verb, name });
}

function parseBdat(arg: string): ParseResult {
  const count = /^[0-9]{1,15}/.exec(arg)?.[0];
  if (count === undefined) return fail("BDAT", R.bdatSyntaxFatal, { fatal: true });
  const size = Number(count);
  const tail = arg.slice(count.length).trim();
  if (tail === "" || tail.toUpperCase() === "LAST") return ok({ verb: "BDAT", size, last: tail !== "" });
  return fail("BDAT", R.syntax("BDAT count [LAST]"), { skipBytes: size });
}

function parseAuth(arg: string): ParseResult {
  const [mechanism = "", initial, ...extra] = arg.split(/[ \t]+/);
  if (mechanism === "" || extra.length > 0) return fail("AUTH", R.syntax("AUTH mechanism"));
  return ok({ verb: "AUTH", mechanism: mechanism.toUpperCase(), initialResponse: initial ?? null });
}

function parsePathCommand(verb: "MAIL" | "RCPT", rest: string): ParseResult {
  const usage = R.syntax(verb === "MAIL" ? "MAIL FROM:<address>" : "RCPT TO:<address>");
  const keyword = verb === "MAIL" ? "FROM:" : "TO:";
  const trimmed = rest.replace(/^[ \t]+/, "");
  if (trimmed.slice(0, keyword.length).toUpperCase() !== keyword) return fail(verb, usage);
  const afterColon = trimmed.slice(keyword.length).replace(/^[ \t]+/, "");
  const path = parsePath(afterColon, verb === "MAIL");
  if (path.kind === "syntax") return fail(verb, usage);
  if (path.kind === "bad") return fail(verb, verb === "MAIL" ? R.badSender : R.badRecipient);
  const params = parseParams(path.rest, verb);
  if ("reply" in params) return fail(verb, params.reply);
  return ok({ verb, address: path.address, params: params.params });
}

type PathResult =
  | { kind: "ok"; address: string; rest: string }
  | { kind: "syntax" } // not a bracketed path at all
  | { kind: "bad" }; // bracketed, but not a usable address

/** Finds the ">" that closes a path starting at text[0] === "<", honouring quotes. */
function findPathEnd(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length && i <= MAX_PATH_LENGTH + 1; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return -2;
    if (quoted && c === 0x5c /* \ */) i++;
    else if (c === 0x22 /* " */) quoted = !quoted;
    else if (!quoted && (c === 0x20 || c === 0x09 || c === 0x3c)) return -2;
    else if (!quoted && c === 0x3e /* > */) return i;
  }
  return -1;
}

export function parsePath(text: string, allowNull: boolean): PathResult {
  if (!text.startsWith("<")) return { kind: "syntax" };
  const end = findPathEnd(text);
  if (end === -1 && text.length > MAX_PATH_LENGTH) return { kind: "bad" };
  if (end < 0) return end === -2 ? { kind: "bad" } : { kind: "syntax" };
  if (end + 1 > MAX_PATH_LENGTH) return { kind: "bad" };
  const rest = text.slice(end + 1);
  if (rest !== "" && !/^[ \t]/.test(rest)) return { kind: "syntax" };
  const address = stripSourceRoute(text.slice(1, end));
  if (address === null || (address === "" && !allowNull)) return { kind: "bad" };
  return { kind: "ok", address, rest };
}

/** "@a,@b:user@d" → "user@d" (RFC 5321 C: the route is accepted and ignored). */
function stripSourceRoute(inner: string): string | null {
  if (!inner.startsWith("@")) return inner;
  const colon = inner.indexOf(":");
  if (colon < 0) return null;
  const route = inner.slice(0, colon).split(",");
  if (!route.every((hop) => /^@[A-Za-z0-9.[\]:-]+$/.test(hop))) return null;
  const address = inner.slice(colon + 1);
  return address === "" ? null : address;
}

const PARAM_KEY = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

function parseParams(text: string, verb: string): { params: EsmtpParams } | { reply: SmtpReply } {
  const params: EsmtpParams = {};
  for (const token of text.split(/[ \t]+/)) {
    if (token === "") continue;
    const eq = token.indexOf("=");
    const key = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? "" : token.slice(eq + 1);
    if (!PARAM_KEY.test(key) || (eq >= 0 && value === "")) {
      return { reply: reply(501, "5.5.4", `Bad ${verb} parameter syntax`) };
    }
    if (Object.hasOwn(params, key))
      return { reply: reply(501, "5.5.4", `Error: duplicate ${key} parameter`) };
    params[key] = value;
  }
  return { params };
}
