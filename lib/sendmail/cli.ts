/*
 * cli — the `sendmail`, `mailq` and `newaliases` programs (one program under three
 * names, as Postfix ships them), also reachable as `postern sendmail ...`.
 *
 *   sendmail [options] [recipient ...]   queue a message from stdin (submit.ts) or, with
 *                                        -bs, speak SMTP on stdin/stdout (smtp-stdio.ts)
 *   mailq  = sendmail -bp                 the queue listing, from the showq service when
 *                                        postern runs, else read directly (needs access)
 *   newaliases = sendmail -bi / -I        compile alias_database (or -oA FILE)
 *   sendmail -q                           flush: wake pickup and ask qmgr to retry now
 *
 * The configuration directory is -C DIR, else the caller's (`postern -c`), else
 * $POSTERN_CONFIG_DIR, else /etc/postern. Errors go to stderr as "sendmail: fatal: ..."
 * and the exit status follows sysexits.h, which is what calling programs (cron, mutt,
 * PHP) look at: 64 usage, 65 data, 67 unknown user, 75 try again later, 78 config.
 *
 * Talks to: main.cf, queue_directory (maildrop, public/pickup, public/qmgr,
 * public/showq), the alias map compiler. Security: runs as the invoking user, without
 * privileges; it can only add files to maildrop.
 */

import { connect } from "node:net";
import { join } from "node:path";
import { makeContext } from "../cli/context.js";
import { aliasesCommand } from "../cli/maps.js";
import { loadMainCf, type MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { trigger } from "../ipc/index.js";
import { formatListing } from "../showq/listing.js";
import { smtpEngineOptions } from "../smtpd/engine-options.js";
import { EX, parseSendmailArgs, SENDMAIL_USAGE, type SendmailOptions } from "./args.js";
import { userNameOf, wakePickup } from "./maildrop.js";
import { runSmtpOnStdio, type StdioSmtpSettings } from "./smtp-stdio.js";
import { type SubmitSettings, submitMessage } from "./submit.js";

export type SendmailName = "sendmail" | "mailq" | "newaliases";

export interface SendmailEnv {
  /** The configuration directory chosen by the caller (`postern -c DIR`). */
  configDir?: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

class Fatal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function loadConfig(dir: string): MainCf {
  try {
    return loadMainCf(dir);
  } catch (err) {
    throw new Fatal(EX.CONFIG, err instanceof Error ? err.message : String(err));
  }
}

function submitSettings(config: MainCf): SubmitSettings {
  const uid = process.getuid?.() ?? 0;
  const userName = userNameOf(uid);
  if (userName === undefined) throw new Fatal(EX.NOUSER, `no login name found for user ID ${uid}`);
  return {
    queueDir: config.get(P.queue_directory),
    myorigin: config.get(P.myorigin),
    headerSizeLimit: config.get(P.header_size_limit),
    messageSizeLimit: config.get(P.message_size_limit),
    uid,
    userName,
  };
}

/** Read the showq service's answer, or null when postern is not running. */
function askShowq(queueDir: string): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = connect(join(queueDir, "public", "showq"));
    sock.setTimeout(10_000, () => sock.destroy());
    sock.on("data", (d: Buffer) => chunks.push(d));
    sock.on("error", () => resolve(null));
    sock.on("close", (hadError) => resolve(hadError ? null : Buffer.concat(chunks).toString("utf8")));
  });
}

async function mailq(config: MainCf, err: NodeJS.WritableStream): Promise<string> {
  const queueDir = config.get(P.queue_directory);
  const viaShowq = await askShowq(queueDir);
  if (viaShowq !== null) return viaShowq;
  err.write("mailq: warning: Mail system is down -- accessing queue directly\n");
  try {
    return await formatListing(queueDir);
  } catch (e) {
    throw new Fatal(EX.NOPERM, `cannot read the queue: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function newaliases(configDir: string, aliasFile: string | undefined): Promise<number> {
  const ctx = makeContext(configDir, false);
  try {
    return await aliasesCommand.run(ctx, aliasFile === undefined ? [] : [aliasFile]);
  } catch (e) {
    throw new Fatal(EX.CANTCREAT, e instanceof Error ? e.message : String(e));
  }
}

async function flushQueue(config: MainCf): Promise<number> {
  const queueDir = config.get(P.queue_directory);
  await wakePickup(queueDir);
  if (!(await trigger(join(queueDir, "public", "qmgr"), "F")))
    throw new Fatal(EX.UNAVAILABLE, "Mail system is down -- cannot flush the queue");
  return EX.OK;
}

async function deliver(config: MainCf, opts: SendmailOptions, env: Required<SendmailEnv>): Promise<number> {
  if (!opts.extractRecipients && opts.recipients.length === 0)
    throw new Fatal(
      EX.USAGE,
      "Recipient addresses must be specified on the command line or via the -t option",
    );
  const settings = submitSettings(config);
  const result = await submitMessage(settings, opts, env.stdin as AsyncIterable<Buffer>);
  if (!result.ok) throw new Fatal(result.status, result.error);
  if (opts.verbose > 0) env.stderr.write(`sendmail: queued as ${result.id}\n`);
  await wakePickup(settings.queueDir);
  return EX.OK;
}

function smtpSession(config: MainCf, env: Required<SendmailEnv>): Promise<number> {
  const settings: StdioSmtpSettings = {
    ...submitSettings(config),
    timeoutMs: config.get(P.smtpd_timeout) * 1000,
    // -bs is local submission: VRFY stays off and no HELO is required, whatever main.cf says.
    engine: { ...smtpEngineOptions(config), disableVrfy: true, heloRequired: false },
  };
  return runSmtpOnStdio(settings, { input: env.stdin, output: env.stdout });
}

async function dispatch(argv: string[], name: SendmailName, env: Required<SendmailEnv>): Promise<number> {
  const parsed = parseSendmailArgs(argv);
  if (!parsed.ok) throw new Fatal(EX.USAGE, `${parsed.error}\n${SENDMAIL_USAGE}`);
  const opts = parsed.options;
  if (name === "mailq") opts.mode = "mailq";
  if (name === "newaliases") opts.mode = "newaliases";
  const configDir = opts.configDir ?? env.configDir;
  if (opts.mode === "newaliases") return newaliases(configDir, opts.aliasFile);
  const config = loadConfig(configDir);
  switch (opts.mode) {
    case "mailq":
      env.stdout.write(await mailq(config, env.stderr));
      return EX.OK;
    case "flush":
      return flushQueue(config);
    case "smtp":
      return smtpSession(config, env);
    default:
      return deliver(config, opts, env);
  }
}

/** The sendmail / mailq / newaliases program; argv without the program name. Returns the exit status. */
export async function sendmailMain(
  argv: string[],
  name: SendmailName,
  env: SendmailEnv = {},
): Promise<number> {
  const full: Required<SendmailEnv> = {
    configDir: env.configDir ?? process.env["POSTERN_CONFIG_DIR"] ?? "/etc/postern",
    stdin: env.stdin ?? process.stdin,
    stdout: env.stdout ?? process.stdout,
    stderr: env.stderr ?? process.stderr,
  };
  try {
    return await dispatch(argv, name, full);
  } catch (err) {
    const status = err instanceof Fatal ? err.status : EX.SOFTWARE;
    const text = err instanceof Error ? err.message : String(err);
    full.stderr.write(`${name}: fatal: ${text}\n`);
    return status;
  }
}
