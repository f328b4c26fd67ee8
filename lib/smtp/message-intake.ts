/*
 * message-intake — reading message content: DATA through the dot decoder, BDAT chunks by
 * exact byte count, into the transaction's MessageSink; and the end of each (commit or
 * refusal).
 *
 * The engine calls stepData()/stepChunk() whenever input is buffered in those modes; each
 * consumes what it can, writes to the sink (awaiting its backpressure) and, at the end,
 * sends the outcome and returns the engine to command mode. Oversized or failed content
 * is still read to its end so the session stays in sync (RFC 1870 6.3, RFC 3030 2).
 *
 * Talks to: the MessageSink from hooks.openMessage, through the EngineContext.
 * RFCs: 5321 4.1.1.4, 1870, 3030. Security: size limits are enforced on the bytes actually
 * written, not on the client's SIZE claim; under forbidBareNewline=reject a message with a
 * bare LF is discarded and the client disconnected, as Postfix does.
 */
import type { MessageSink } from "./engine-types.js";
import type { InputBuffer } from "./input-buffer.js";
import { R, reply, type SmtpReply } from "./reply.js";
import {
  type ChunkMode,
  type DataMode,
  type EngineContext,
  failBdat,
  fieldsOf,
  type Transaction,
} from "./session-state.js";

/** Content is decoded and written to the sink in pieces of at most this size. */
const PIECE = 64 * 1024;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** DATA mode: decodes what is buffered, writes it, and finishes at CRLF.CRLF. */
export async function stepData(ctx: EngineContext, input: InputBuffer, mode: DataMode): Promise<boolean> {
  const available = input.peek(PIECE);
  if (available.length === 0) return false;
  const decoded = mode.decoder.decode(available);
  input.consume(decoded.consumed);
  if (ctx.opts.forbidBareNewline === "reject" && mode.decoder.bareLineFeeds > 0 && mode.failure === null) {
    ctx.protocolError("bare <LF> received");
    failData(mode, R.bareLf, "bare <LF> received");
  }
  if (decoded.output.length > 0 && mode.sink !== null) await deliver(ctx, mode, decoded.output);
  if (decoded.done && !ctx.closed) await finishData(ctx, mode);
  return true;
}

function failData(mode: DataMode, failure: SmtpReply, reason: string): void {
  mode.failure = failure;
  mode.sink?.abort(reason);
  mode.sink = null;
}

async function deliver(ctx: EngineContext, mode: DataMode, content: Buffer): Promise<void> {
  const limit = ctx.opts.messageSizeLimit;
  mode.written += content.length;
  if (limit > 0 && mode.written > limit)
    return failData(mode, R.messageTooBig, "message size limit exceeded");
  try {
    await mode.sink?.write(content);
  } catch (e: unknown) {
    ctx.protocolError(`message write failed: ${messageOf(e)}`);
    failData(mode, R.queueWriteError, "write error");
  }
}

/** BDAT mode: passes exactly the announced bytes through, then answers the chunk. */
export async function stepChunk(ctx: EngineContext, input: InputBuffer, mode: ChunkMode): Promise<boolean> {
  if (mode.remaining > 0) {
    const piece = input.take(Math.min(mode.remaining, PIECE));
    if (piece.length === 0) return false;
    mode.remaining -= piece.length;
    const target = mode.target;
    if (target?.sink && target.failure === null) {
      target.written += piece.length;
      try {
        await target.sink.write(piece);
      } catch (e: unknown) {
        ctx.protocolError(`message write failed: ${messageOf(e)}`);
        failBdat(target, R.queueWriteError, "write error");
      }
    }
    if (mode.remaining > 0 || ctx.closed) return true;
  }
  await finishChunk(ctx, mode);
  return true;
}

/** Commits a complete message through its sink and sends the outcome. */
async function commit(ctx: EngineContext, sink: MessageSink, tx: Transaction | null): Promise<void> {
  let outcome: SmtpReply;
  try {
    outcome = await sink.end();
  } catch (e: unknown) {
    ctx.protocolError(`message commit failed: ${e instanceof Error ? e.message : String(e)}`);
    outcome = R.queueWriteError;
  }
  if (ctx.closed) return;
  if (outcome.code >= 400) return ctx.refuse("END-OF-MESSAGE", outcome, tx ? fieldsOf(ctx, tx.sender) : {});
  ctx.queued(queueIdOf(outcome));
  ctx.reply(outcome);
}

function queueIdOf(r: SmtpReply): string | undefined {
  const text = typeof r.text === "string" ? r.text : r.text.join(" ");
  return /queued as ([A-Za-z0-9]+)/.exec(text)?.[1];
}

/** The terminator CRLF.CRLF arrived: commit or refuse, then back to commands. */
export async function finishData(ctx: EngineContext, mode: DataMode): Promise<void> {
  ctx.enterCommands();
  ctx.setWhere("END-OF-MESSAGE");
  const tx = ctx.session.tx;
  ctx.session.tx = null;
  if (mode.failure !== null || mode.sink === null) {
    const failure = mode.failure ?? R.queueWriteError;
    ctx.refuse("END-OF-MESSAGE", failure, tx ? fieldsOf(ctx, tx.sender) : {});
    if (failure === R.bareLf) ctx.close(); // Postfix disconnects a client that sends bare LF
    return;
  }
  await commit(ctx, mode.sink, tx);
}

/** All bytes of a BDAT chunk have been read. */
export async function finishChunk(ctx: EngineContext, mode: ChunkMode): Promise<void> {
  ctx.enterCommands();
  const progress = mode.target;
  if (progress === null) {
    if (mode.discardReply) ctx.reply(mode.discardReply);
    return;
  }
  const tx = ctx.session.tx;
  if (progress.failure !== null || progress.sink === null) {
    ctx.reply(progress.failure ?? R.queueWriteError);
    if (mode.last) ctx.resetTransaction("BDAT LAST after an error");
    return;
  }
  if (!mode.last) return ctx.reply(reply(250, "2.0.0", `Ok: ${mode.size} bytes`));
  ctx.setWhere("END-OF-MESSAGE");
  const sink = progress.sink;
  progress.sink = null;
  ctx.session.tx = null;
  await commit(ctx, sink, tx);
}
