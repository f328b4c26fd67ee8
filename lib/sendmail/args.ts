/*
 * args — the sendmail command line as mail programs use it (mutt, cron, PHP mail(),
 * git send-email, mailx), parsed the way Postfix's sendmail(1) parses it: getopt style
 * (clustered flags "-ti", attached or separate values "-fme" / "-f me", "--" ends the
 * options), the option letters Postfix knows, and Sendmail options Postfix silently
 * ignores. Anything else is a usage error, exit status EX_USAGE (64).
 *
 * Modes: -bm (default: read a message), -bs (SMTP on stdin/stdout), -bp (= mailq),
 * -bi / -I (= newaliases), -q (= flush the queue). -bd, -bD, -bh, -bH, -bl, -bv are
 * Sendmail daemon or test modes and are refused.
 *
 * Talks to: nothing; pure. Security: argv is untrusted (setuid-style programs get it
 * from any user): values are checked for control characters and length here.
 */

/** sysexits.h codes, as sendmail-calling programs interpret them. */
export const EX = {
  OK: 0,
  USAGE: 64,
  DATAERR: 65,
  NOINPUT: 66,
  NOUSER: 67,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  OSERR: 71,
  CANTCREAT: 73,
  IOERR: 74,
  TEMPFAIL: 75,
  NOPERM: 77,
  CONFIG: 78,
} as const;

export type SendmailMode = "deliver" | "smtp" | "mailq" | "newaliases" | "flush";

export interface SendmailOptions {
  mode: SendmailMode;
  /** -t: take recipients from To:, Cc:, Bcc: (added to those on the command line). */
  extractRecipients: boolean;
  /** -i / -oi: a line with a single "." does not end the message. */
  ignoreDots: boolean;
  /** -f / -r: the envelope sender as given ("" = null sender); undefined = the invoking user. */
  sender?: string;
  /** -F: the sender's full name, for a From: header that the message lacks. */
  fullName?: string;
  /** -N: RFC 3461 NOTIFY, upper case ("SUCCESS,FAILURE,DELAY" subset, or "NEVER"). */
  notify?: string;
  /** -R: RFC 3461 RET, "FULL" or "HDRS". */
  ret?: "FULL" | "HDRS";
  /** -V: RFC 3461 ENVID. */
  envid?: string;
  /** -B: body type, "7BIT" or "8BITMIME". */
  bodyType?: "7BIT" | "8BITMIME";
  /** -C: configuration directory. */
  configDir?: string;
  /** -oA: alias database for -bi. */
  aliasFile?: string;
  /** -v, counted. */
  verbose: number;
  /** The operands: recipient addresses (or, for -bi, nothing). */
  recipients: string[];
}

export type ParseResult = { ok: true; options: SendmailOptions } | { ok: false; error: string };

export const SENDMAIL_USAGE =
  "usage: sendmail [-t] [-i] [-f sender] [-F name] [-N dsn] [-R ret] [-V envid] [-B type] [-bm|-bs|-bp|-bi] [-v] [--] [recipient ...]";

class ArgError extends Error {}

/** Letters that take a value (Postfix's getopt string "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"). */
const WITH_VALUE = new Set("ABCFLNORVXbefhopqr");
/** Letters accepted and ignored, as Postfix does. */
const IGNORED_FLAGS = new Set("GUcmnx");
const BAD_VALUE = /[\x00-\x1f\x7f]/;
const MAX_VALUE = 1000;

function checkedValue(letter: string, value: string): string {
  if (BAD_VALUE.test(value) || value.length > MAX_VALUE)
    throw new ArgError(`bad -${letter} option value: control characters or too long`);
  return value;
}

const NOTIFY_WORDS = new Set(["SUCCESS", "FAILURE", "DELAY"]);

function parseNotify(value: string): string {
  const words = value.split(",").map((w) => w.trim().toUpperCase());
  if (words.length === 1 && words[0] === "NEVER") return "NEVER";
  if (words.length === 0 || !words.every((w) => NOTIFY_WORDS.has(w)) || new Set(words).size !== words.length)
    throw new ArgError(`bad -N option value: ${value} (use never, or success,failure,delay)`);
  return words.join(",");
}

function parseRet(value: string): "FULL" | "HDRS" {
  const upper = value.toUpperCase();
  if (upper === "FULL" || upper === "HDRS") return upper;
  throw new ArgError(`bad -R option value: ${value} (use full or hdrs)`);
}

function parseBodyType(value: string): "7BIT" | "8BITMIME" {
  const upper = value.toUpperCase();
  if (upper === "7BIT" || upper === "8BITMIME") return upper;
  throw new ArgError(`bad -B option value: ${value} (use 7BIT or 8BITMIME)`);
}

function parseEnvid(value: string): string {
  if (value.length === 0 || value.length > 100 || !/^[\x21-\x7e]+$/.test(value))
    throw new ArgError("bad -V option value: printable ASCII, 1 to 100 characters");
  return value;
}

const MODES: Readonly<Record<string, SendmailMode>> = {
  m: "deliver",
  s: "smtp",
  p: "mailq",
  i: "newaliases",
};

function parseMode(value: string): SendmailMode {
  const mode = MODES[value];
  if (mode !== undefined) return mode;
  if (/^[dDhHlv]$/.test(value)) throw new ArgError(`-b${value} is not supported by postern`);
  throw new ArgError(`unsupported -b option: -b${value}`);
}

/** "<user@example>" → "user@example"; "<>" → "". */
function stripBrackets(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith("<") && trimmed.endsWith(">") ? trimmed.slice(1, -1).trim() : trimmed;
}

/** -o options: "-oi" means -i, "-oA file" the alias file; everything else Postfix ignores. */
function applyOldOption(opts: SendmailOptions, value: string): void {
  if (value === "i") opts.ignoreDots = true;
  else if (value.startsWith("A")) opts.aliasFile = checkedValue("oA", value.slice(1));
}

function applyValue(opts: SendmailOptions, letter: string, raw: string): void {
  const value = checkedValue(letter, raw);
  switch (letter) {
    case "b":
      opts.mode = parseMode(value);
      return;
    case "f":
    case "r":
      opts.sender = stripBrackets(value);
      return;
    case "F":
      opts.fullName = value;
      return;
    case "N":
      opts.notify = parseNotify(value);
      return;
    case "R":
      opts.ret = parseRet(value);
      return;
    case "V":
      opts.envid = parseEnvid(value);
      return;
    case "B":
      opts.bodyType = parseBodyType(value);
      return;
    case "C":
      opts.configDir = value;
      return;
    case "o":
      applyOldOption(opts, value);
      return;
    case "q":
      opts.mode = "flush";
      return;
    default:
      return; // -A -L -O -X -e -h -p: accepted and ignored, as Postfix does
  }
}

function applyFlag(opts: SendmailOptions, letter: string): void {
  if (letter === "t") opts.extractRecipients = true;
  else if (letter === "i") opts.ignoreDots = true;
  else if (letter === "v") opts.verbose += 1;
  else if (letter === "I") opts.mode = "newaliases";
  else if (!IGNORED_FLAGS.has(letter)) throw new ArgError(`invalid option -- '${letter}'`);
}

/**
 * One argument of clustered letters ("-ti", "-fme", "-oi"); returns how many of the
 * following arguments it consumed as a value (0 or 1).
 */
function parseCluster(opts: SendmailOptions, arg: string, next: string | undefined): number {
  for (let i = 1; i < arg.length; i++) {
    const letter = arg[i] as string;
    if (letter === "q" && i === arg.length - 1) {
      opts.mode = "flush"; // a bare -q: run the queue (its value, an interval, is optional)
      return 0;
    }
    if (!WITH_VALUE.has(letter)) {
      applyFlag(opts, letter);
      continue;
    }
    if (i + 1 < arg.length) {
      applyValue(opts, letter, arg.slice(i + 1));
      return 0;
    }
    if (next === undefined) throw new ArgError(`option requires an argument -- '${letter}'`);
    applyValue(opts, letter, next);
    return 1;
  }
  return 0;
}

/** Parse sendmail's argv (without the program name). */
export function parseSendmailArgs(argv: readonly string[]): ParseResult {
  const options: SendmailOptions = {
    mode: "deliver",
    extractRecipients: false,
    ignoreDots: false,
    verbose: 0,
    recipients: [],
  };
  try {
    let i = 0;
    for (; i < argv.length; i++) {
      const arg = argv[i] as string;
      if (arg === "--") {
        i++;
        break;
      }
      if (!arg.startsWith("-") || arg === "-") break;
      i += parseCluster(options, arg, argv[i + 1]);
    }
    for (const operand of argv.slice(i)) options.recipients.push(checkedValue("recipient", operand));
    return { ok: true, options };
  } catch (err) {
    if (err instanceof ArgError) return { ok: false, error: err.message };
    throw err;
  }
}
