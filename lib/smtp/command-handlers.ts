/*
 * command-handlers — what each SMTP command does to the session, as one table.
 *
 * Every verb maps to a handler working on an EngineContext (the engine's session seen
 * through a narrow interface). Handlers check state (HELO first, MAIL before RCPT, ...),
 * ask the injected policy hooks, and queue replies; the engine does framing, ordering and
 * I/O. Reply texts follow Postfix smtpd(8). The DATA/BDAT completions (end of data, end of
 * a chunk) live here too, so every transaction decision is in one file.
 *
 * Talks to: the hooks (policy, queue via openMessage, TLS, SASL) through the context.
 * RFCs: 5321 (commands, states), 1870, 2920, 3030, 3207, 3461, 4954, 6531.
 * Security: no command touches the transaction before its state check; hooks only see
 * syntax-checked data; the transaction is reset (and any open message aborted) on
 * HELO/EHLO, RSET, STARTTLS and after every message.
 */
import type { SmtpCommand, SmtpVerb } from "./command-parser.js";
import type { MessageSink, SmtpRecipient } from "./engine-types.js";
import { checkMailParams, checkRcptParams, needsSmtputf8, type ParamPolicy } from "./esmtp-params.js";
import { R, reply, type SmtpReply } from "./reply.js";
import { type EngineContext, envelopeOf, failBdat, fieldsOf, type Transaction } from "./session-state.js";

type Handler<V extends SmtpVerb> = (
  ctx: EngineContext,
  cmd: SmtpCommand & { readonly verb: V },
) => Promise<void>;

function paramPolicy(ctx: EngineContext): ParamPolicy {
  const ext = ctx.opts.extensions;
  return {
    messageSizeLimit: ctx.opts.messageSizeLimit,
    dsn: ext.dsn,
    smtputf8: ext.smtputf8,
    chunking: ext.chunking,
    auth: ext.auth !== null && ext.auth.length > 0 && ctx.hooks.auth !== undefined,
  };
}

/** A hook's answer: null or a positive reply accepts, 4xx/5xx refuses. */
function refused(r: SmtpReply | null): r is SmtpReply {
  return r !== null && r.code >= 400;
}

export function ehloLines(ctx: EngineContext): string[] {
  const { opts, info, hooks } = ctx;
  const ext = opts.extensions;
  const lines = [opts.hostname];
  if (ext.pipelining) lines.push("PIPELINING");
  lines.push(opts.messageSizeLimit > 0 ? `SIZE ${opts.messageSizeLimit}` : "SIZE");
  if (!opts.disableVrfy) lines.push("VRFY");
  if (ext.starttls && !info.tls && hooks.startTls) lines.push("STARTTLS");
  if (ext.auth !== null && ext.auth.length > 0 && hooks.auth) lines.push(`AUTH ${ext.auth.join(" ")}`);
  lines.push("ENHANCEDSTATUSCODES", "8BITMIME");
  if (ext.dsn) lines.push("DSN");
  if (ext.smtputf8) lines.push("SMTPUTF8");
  if (ext.chunking) lines.push("CHUNKING");
  return lines;
}

const helo: Handler<"HELO" | "EHLO"> = async (ctx, cmd) => {
  ctx.resetTransaction("HELO");
  const hook = ctx.hooks.helo;
  const answer = hook ? await ctx.policy("helo", () => hook.call(ctx.hooks, ctx.info, cmd.name)) : null;
  if (refused(answer)) return ctx.refuse("HELO", answer, { helo: cmd.name });
  ctx.session.helo = { name: cmd.name, protocol: cmd.verb === "EHLO" ? "ESMTP" : "SMTP" };
  if (cmd.verb === "EHLO") ctx.reply(reply(250, "", ehloLines(ctx)));
  else ctx.reply(answer ?? reply(250, "", ctx.opts.hostname));
};

/**
 * The state checks of MAIL and RCPT, which Postfix makes before looking at the arguments:
 * a malformed RCPT without a transaction is "need MAIL command", not a syntax error.
 */
export function stateRefusal(ctx: EngineContext, verb: string): SmtpReply | null {
  const tx = ctx.session.tx;
  if (verb === "mail") {
    if (ctx.opts.heloRequired && ctx.session.helo === null) return R.needHelo;
    if (tx !== null) return tx.bdat ? R.mailAfterBdat : R.nestedMail;
  } else if (verb === "rcpt") {
    if (tx === null) return R.needMail;
    if (tx.bdat) return R.rcptAfterBdat;
  }
  return null;
}

const mail: Handler<"MAIL"> = async (ctx, cmd) => {
  const { session } = ctx;
  const early = stateRefusal(ctx, "mail");
  if (early) return ctx.reply(early);
  const checked = checkMailParams(cmd.params, paramPolicy(ctx));
  if (!checked.ok) {
    if (checked.reply === R.sizeExceedsLimit)
      return ctx.refuse("MAIL", checked.reply, fieldsOf(ctx, cmd.address));
    return ctx.reply(checked.reply);
  }
  if (needsSmtputf8(cmd.address) && checked.params["SMTPUTF8"] === undefined) return ctx.reply(R.needUtf8);
  const tx: Transaction = {
    sender: cmd.address,
    mailParams: checked.params,
    recipients: [],
    bdat: null,
    prepared: null,
  };
  const hook = ctx.hooks.mailFrom;
  const answer = hook
    ? await ctx.policy("mailFrom", () => hook.call(ctx.hooks, ctx.info, envelopeOf(ctx, tx)))
    : null;
  if (refused(answer)) return ctx.refuse("MAIL", answer, fieldsOf(ctx, cmd.address));
  if (ctx.closed) return;
  session.tx = tx;
  ctx.reply(answer ?? R.mailOk);
};

const rcpt: Handler<"RCPT"> = async (ctx, cmd) => {
  const tx = ctx.session.tx;
  const early = stateRefusal(ctx, "rcpt");
  if (early || tx === null) return ctx.reply(early ?? R.needMail);
  const checked = checkRcptParams(cmd.params, paramPolicy(ctx));
  if (!checked.ok) return ctx.reply(checked.reply);
  if (needsSmtputf8(cmd.address) && tx.mailParams["SMTPUTF8"] === undefined) return ctx.reply(R.needUtf8);
  const limit = ctx.opts.recipientLimit;
  if (limit > 0 && tx.recipients.length >= limit) return ctx.reply(R.tooManyRecipients);
  const recipient: SmtpRecipient = { address: cmd.address, params: checked.params };
  const hook = ctx.hooks.rcptTo;
  const envelope = envelopeOf(ctx, tx);
  const answer = hook
    ? await ctx.policy("rcptTo", () => hook.call(ctx.hooks, ctx.info, envelope, recipient))
    : null;
  if (refused(answer)) return ctx.refuse("RCPT", answer, fieldsOf(ctx, tx.sender, cmd.address));
  if (ctx.session.tx !== tx) return; // the session moved on (closed) while the hook ran
  tx.recipients.push(recipient);
  const prepare = ctx.hooks.prepareMessage;
  if (prepare && tx.prepared === null && tx.recipients.length === 1) {
    try {
      tx.prepared = prepare.call(ctx.hooks, ctx.info, envelopeOf(ctx, tx));
    } catch (e: unknown) {
      ctx.protocolError(`prepareMessage failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  ctx.reply(answer ?? R.rcptOk);
};

/** Why DATA or a first BDAT cannot start now (Postfix's order of checks), or null. */
function contentRefusal(tx: Transaction | null): SmtpReply | null {
  if (tx === null) return R.needRcpt;
  return tx.recipients.length === 0 ? R.noValidRecipients : null;
}

/** Runs the DATA restrictions and opens the message; returns the sink or the refusal (not sent). */
async function openContent(ctx: EngineContext, tx: Transaction): Promise<MessageSink | SmtpReply> {
  const hook = ctx.hooks.data;
  const answer = hook
    ? await ctx.policy("data", () => hook.call(ctx.hooks, ctx.info, envelopeOf(ctx, tx)))
    : null;
  if (refused(answer)) {
    ctx.noteReject("DATA", answer, fieldsOf(ctx, tx.sender));
    return answer;
  }
  // A message prepared at the first RCPT is used once: if it failed, a later DATA opens anew.
  const prepared = tx.prepared;
  tx.prepared = null;
  try {
    const env = envelopeOf(ctx, tx);
    const sink = await (prepared ? prepared.open(env) : ctx.hooks.openMessage(ctx.info, env));
    if (ctx.closed) {
      sink.abort("connection closed");
      return R.queueWriteError;
    }
    return sink;
  } catch (e: unknown) {
    ctx.protocolError(`openMessage failed: ${e instanceof Error ? e.message : String(e)}`);
    return R.queueWriteError;
  }
}

const data: Handler<"DATA"> = async (ctx) => {
  const tx = ctx.session.tx;
  const refusal = contentRefusal(tx);
  if (refusal !== null || tx === null) return ctx.reply(refusal ?? R.needRcpt);
  if (tx.bdat) return ctx.reply(R.dataAfterBdat);
  if (tx.mailParams["BODY"] === "BINARYMIME")
    return ctx.reply(reply(503, "5.5.1", "Error: BINARYMIME requires BDAT"));
  const sink = await openContent(ctx, tx);
  if (!("write" in sink)) return ctx.reply(sink);
  ctx.reply(R.startData);
  ctx.enterData(sink);
};

const bdat: Handler<"BDAT"> = async (ctx, cmd) => {
  if (!ctx.opts.extensions.chunking) {
    ctx.reply(R.bdatDisabled); // the chunk bytes would be read as commands: hang up
    return ctx.close();
  }
  const chunk = { size: cmd.size, last: cmd.last, remaining: cmd.size };
  if (cmd.size === 0 && !cmd.last) return ctx.reply(R.nullBdat);
  const tx = ctx.session.tx;
  const refusal = tx?.bdat ? null : contentRefusal(tx);
  if (refusal !== null || tx === null)
    return ctx.enterChunk({ ...chunk, target: null, discardReply: refusal });
  if (tx.bdat === null) {
    const sink = await openContent(ctx, tx);
    tx.bdat =
      "write" in sink ? { sink, written: 0, failure: null } : { sink: null, written: 0, failure: sink };
  }
  const progress = tx.bdat;
  const limit = ctx.opts.messageSizeLimit;
  if (progress.failure === null && limit > 0 && progress.written + cmd.size > limit) {
    failBdat(progress, R.chunkTooBig, "message size limit exceeded");
  }
  ctx.enterChunk({ ...chunk, target: progress, discardReply: null });
};

const rset: Handler<"RSET"> = async (ctx) => {
  ctx.resetTransaction("RSET");
  ctx.reply(R.ok);
};

const noop: Handler<"NOOP"> = async (ctx) => ctx.reply(R.ok);
const help: Handler<"HELP"> = async (ctx) => ctx.reply(R.help);
const unknown: Handler<"UNKNOWN"> = async (ctx) => ctx.reply(R.unrecognized);

const quit: Handler<"QUIT"> = async (ctx) => {
  ctx.reply(R.bye);
  ctx.close();
};

const vrfy: Handler<"VRFY"> = async (ctx, cmd) => {
  if (ctx.opts.disableVrfy) return ctx.reply(R.vrfyDisabled);
  if (ctx.opts.heloRequired && ctx.session.helo === null) return ctx.reply(R.needHelo);
  const hook = ctx.hooks.vrfy;
  const answer = hook ? await ctx.policy("vrfy", () => hook.call(ctx.hooks, ctx.info, cmd.arg)) : null;
  if (refused(answer)) return ctx.refuse("VRFY", answer, fieldsOf(ctx, undefined, cmd.arg));
  const bare = cmd.arg.replace(/^<(.*)>$/, "$1");
  ctx.reply(answer ?? reply(252, "2.0.0", bare));
};

const starttls: Handler<"STARTTLS"> = async (ctx) => {
  if (!ctx.opts.extensions.starttls || !ctx.hooks.startTls) return ctx.reply(R.notImplemented);
  if (ctx.info.tls) return ctx.reply(R.tlsAlreadyActive);
  if (ctx.session.tx) return ctx.reply(R.transactionInProgress);
  ctx.reply(R.readyForTls);
  await ctx.startTls();
};

const auth: Handler<"AUTH"> = async (ctx, cmd) => {
  const mechanisms = ctx.opts.extensions.auth;
  const hook = ctx.hooks.auth;
  if (mechanisms === null || mechanisms.length === 0 || !hook) return ctx.reply(R.authNotEnabled);
  if (ctx.session.helo === null) return ctx.reply(R.needHelo);
  if (ctx.info.authUser !== undefined) return ctx.reply(R.alreadyAuthenticated);
  if (ctx.session.tx) return ctx.reply(R.transactionInProgress);
  if (!mechanisms.some((m) => m.toUpperCase() === cmd.mechanism)) return ctx.reply(R.authBadMechanism);
  let aborted = cmd.initialResponse === "*";
  const io = {
    challenge: async (base64: string): Promise<string | null> => {
      const line = aborted ? null : await ctx.exchangeLine(base64);
      if (line === null || line === "*") aborted = true;
      return aborted ? null : line;
    },
  };
  let result: Awaited<ReturnType<typeof hook>>;
  try {
    result = await hook.call(ctx.hooks, ctx.info, cmd.mechanism, cmd.initialResponse, io);
  } catch (e: unknown) {
    ctx.protocolError(`auth hook failed: ${e instanceof Error ? e.message : String(e)}`);
    result = reply(454, "4.7.0", "Temporary authentication failure");
  }
  if (ctx.closed) return;
  if (aborted) return ctx.reply(R.authAborted);
  if (!("user" in result))
    return ctx.reply(result.code >= 400 ? result : reply(535, "5.7.8", "Error: authentication failed"));
  ctx.info.authUser = result.user;
  ctx.reply(R.authOk);
};

const HANDLERS: { readonly [V in SmtpVerb]: Handler<V> } = {
  HELO: helo,
  EHLO: helo,
  MAIL: mail,
  RCPT: rcpt,
  DATA: data,
  BDAT: bdat,
  RSET: rset,
  NOOP: noop,
  HELP: help,
  QUIT: quit,
  VRFY: vrfy,
  STARTTLS: starttls,
  AUTH: auth,
  UNKNOWN: unknown,
};

export function runCommand(ctx: EngineContext, cmd: SmtpCommand): Promise<void> {
  const handler = HANDLERS[cmd.verb] as Handler<SmtpVerb>;
  return handler(ctx, cmd);
}
