/*
 * reply — SMTP replies as data, and their wire form.
 *
 * A reply carries its basic code and its enhanced status code together, chosen where
 * the decision is made (CONVENTIONS 12); `enhanced: ""` means "no enhanced code", used for
 * the greeting and the EHLO lines exactly as Postfix sends them. formatReply() renders
 * "250-a\r\n250 b\r\n" for multi-line replies (RFC 5321 4.2.1) with the enhanced code at
 * the start of every line (RFC 2034).
 *
 * Talks to: nothing; pure. RFCs: 5321 4.2, 2034, 3463.
 * Security: reply text may come from policy hooks and may echo client input, so CR, LF and
 * other control characters are replaced before rendering — a reply can never inject a
 * second reply line or a bare line ending.
 */

export interface SmtpReply {
  readonly code: number;
  /** "x.y.z" (RFC 3463), or "" for none. */
  readonly enhanced: string;
  readonly text: string | readonly string[];
}

const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

function cleanLine(line: string): string {
  return line.replace(CONTROL_CHARACTERS, "?");
}

/** A code outside 200..599 would confuse any client; such replies become a local error. */
function validCode(code: number): boolean {
  return Number.isInteger(code) && code >= 200 && code <= 599;
}

/**
 * Wire forms of the common replies (R.*), rendered once per process instead of once per
 * command; they are constants, and replies are immutable (readonly).
 */
let renderedCommon: Map<SmtpReply, string> | undefined;

/** Renders a reply, every line ending in CRLF. */
export function formatReply(reply: SmtpReply): string {
  renderedCommon ??= new Map(
    Object.values(R)
      .filter((r): r is SmtpReply => typeof r === "object")
      .map((r) => [r, render(r)]),
  );
  return renderedCommon.get(reply) ?? render(reply);
}

function render(reply: SmtpReply): string {
  const safe = validCode(reply.code) ? reply : R.localError;
  const lines = typeof safe.text === "string" ? [safe.text] : safe.text.length > 0 ? safe.text : [""];
  const prefix = safe.enhanced === "" ? "" : `${safe.enhanced} `;
  let out = "";
  lines.forEach((line, i) => {
    const separator = i === lines.length - 1 ? " " : "-";
    out += `${safe.code}${separator}${prefix}${cleanLine(line)}`.trimEnd() + "\r\n";
  });
  return out;
}

/** The reply text as one line, for log records ("550 5.1.1 <u@d>: ..."). */
export function replyLogText(reply: SmtpReply): string {
  const text = typeof reply.text === "string" ? reply.text : reply.text.join(" ");
  const prefix = reply.enhanced === "" ? "" : `${reply.enhanced} `;
  return `${reply.code} ${prefix}${cleanLine(text)}`;
}

export function reply(code: number, enhanced: string, text: string | readonly string[]): SmtpReply {
  return { code, enhanced, text };
}

export function isPositive(r: SmtpReply): boolean {
  return r.code < 400;
}

/** Common replies, texts as Postfix's smtpd(8) sends them. */
export const R = {
  ok: reply(250, "2.0.0", "Ok"),
  mailOk: reply(250, "2.1.0", "Ok"),
  rcptOk: reply(250, "2.1.5", "Ok"),
  bye: reply(221, "2.0.0", "Bye"),
  startData: reply(354, "", "End data with <CR><LF>.<CR><LF>"),
  readyForTls: reply(220, "2.0.0", "Ready to start TLS"),
  authOk: reply(235, "2.7.0", "Authentication successful"),
  help: reply(214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT STARTTLS AUTH"),
  needHelo: reply(503, "5.5.1", "Error: send HELO/EHLO first"),
  needMail: reply(503, "5.5.1", "Error: need MAIL command"),
  nestedMail: reply(503, "5.5.1", "Error: nested MAIL command"),
  needRcpt: reply(503, "5.5.1", "Error: need RCPT command"),
  noValidRecipients: reply(554, "5.5.1", "Error: no valid recipients"),
  transactionInProgress: reply(503, "5.5.1", "Error: MAIL transaction in progress"),
  mailAfterBdat: reply(503, "5.5.1", "Error: MAIL after BDAT"),
  rcptAfterBdat: reply(503, "5.5.1", "Error: RCPT after BDAT"),
  dataAfterBdat: reply(503, "5.5.1", "Error: DATA after BDAT"),
  unrecognized: reply(502, "5.5.2", "Error: command not recognized"),
  notImplemented: reply(502, "5.5.1", "Error: command not implemented"),
  badSyntax: reply(500, "5.5.2", "Error: bad syntax"),
  badUtf8: reply(500, "5.5.2", "Error: bad UTF-8 syntax"),
  lineTooLong: reply(500, "5.5.0", "Error: line too long"),
  vrfyDisabled: reply(502, "5.5.1", "VRFY command is disabled"),
  tooManyRecipients: reply(452, "4.5.3", "Error: too many recipients"),
  sizeExceedsLimit: reply(552, "5.3.4", "Message size exceeds fixed limit"),
  messageTooBig: reply(552, "5.3.4", "Error: message file too big"),
  chunkTooBig: reply(552, "5.3.4", "Chunk exceeds message size limit"),
  nullBdat: reply(551, "5.7.1", "Null BDAT request"),
  bareLf: reply(550, "5.5.2", "Error: bare <LF> received"),
  queueWriteError: reply(451, "4.3.0", "Error: queue file write error"),
  policyProblem: reply(451, "4.3.5", "Server configuration problem"),
  tlsAlreadyActive: reply(554, "5.5.1", "Error: TLS already active"),
  tlsUnavailable: reply(454, "4.7.0", "TLS not available due to local problem"),
  authNotEnabled: reply(503, "5.5.1", "Error: authentication not enabled"),
  alreadyAuthenticated: reply(503, "5.5.1", "Error: already authenticated"),
  authAborted: reply(501, "5.7.0", "Authentication aborted"),
  authBadMechanism: reply(535, "5.7.8", "Error: authentication failed: Invalid authentication mechanism"),
  needUtf8: reply(553, "5.6.7", "Must declare SMTPUTF8 to send unicode address"),
  badSender: reply(501, "5.1.7", "Bad sender address syntax"),
  badRecipient: reply(501, "5.1.3", "Bad recipient address syntax"),
  nonSmtpCommand: reply(521, "5.7.0", "Error: I can break rules, too. Goodbye."),
  localError: reply(451, "4.3.0", "Error: local error"),
  syntax: (usage: string): SmtpReply => reply(501, "5.5.4", `Syntax: ${usage}`),
  unsupportedOption: (key: string): SmtpReply => reply(555, "5.5.4", `Unsupported option: ${key}`),
  tooManyErrors: (host: string): SmtpReply => reply(421, "4.7.0", `${host} Error: too many errors`),
  timeout: (host: string): SmtpReply => reply(421, "4.4.2", `${host} Error: timeout exceeded`),
  bdatSyntaxFatal: reply(521, "5.5.4", "Syntax: BDAT count [LAST]"),
  bdatDisabled: reply(521, "5.5.1", "Error: command not implemented"),
} as const;
