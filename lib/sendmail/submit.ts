/*
 * submit — `postern sendmail`'s default mode (-bm): read one message from standard input
 * and drop it into queue_directory/maildrop for pickup, as Postfix's sendmail + postdrop.
 *
 * The envelope: the sender from -f/-r, else the invoking user's login name @myorigin; the
 * recipients from the command line, plus (with -t) those in To:/Cc:/Bcc: (Bcc: and
 * Resent-Bcc: are then removed from the message), duplicates dropped; -N/-R/-V/-B as
 * DSN and body attributes; attrs origin=sendmail, uid, rewrite_context=local and
 * full_name (-F). With -F and no From: header, "From: Full Name <sender>" is added.
 * The headers are held (at most header_size_limit bytes, see HeaderStage) until the
 * recipients are known; the body streams to the queue file.
 *
 * Results are data: {ok, id} or {ok:false, status (sysexits), error}; EX_TEMPFAIL when
 * the queue cannot be written, EX_DATAERR for a message with no recipients or too big.
 *
 * Talks to: lib/queue through maildrop.ts. RFCs: 5322 (headers), 2047 (the full name),
 * 3461 (DSN attributes). Security: runs as the user; everything read is theirs.
 */
import { HeaderStage } from "../cleanup/header-stage.js";
import type { QueueEnvelope, QueueFileWriter } from "../queue/index.js";
import { headerRecipients, parseAddressList, splitHeader, uniqueAddresses } from "./addresses.js";
import { EX, type SendmailOptions } from "./args.js";
import { SendmailInput } from "./input.js";
import { createMaildropFile } from "./maildrop.js";

export interface SubmitSettings {
  queueDir: string;
  myorigin: string;
  headerSizeLimit: number;
  /** message_size_limit; 0 = unlimited. */
  messageSizeLimit: number;
  /** The invoking user. */
  uid: number;
  userName: string;
}

export type SubmitResult = { ok: true; id: string } | { ok: false; status: number; error: string };

type SubmitFields = Pick<SendmailOptions, "sender" | "fullName" | "notify" | "ret" | "envid" | "bodyType">;

/** The envelope attributes of a local submission. */
export function localAttrs(settings: SubmitSettings, opts: SubmitFields): Record<string, string> {
  const attrs: Record<string, string> = {
    origin: "sendmail",
    uid: String(settings.uid),
    rewrite_context: "local",
  };
  if (opts.fullName !== undefined) attrs["full_name"] = opts.fullName;
  if (opts.ret !== undefined) attrs["ret"] = opts.ret;
  if (opts.envid !== undefined) attrs["envid"] = opts.envid;
  if (opts.bodyType !== undefined) attrs["body"] = opts.bodyType;
  return attrs;
}

/** -f as given, else user@myorigin. */
export function envelopeSender(settings: SubmitSettings, opts: SubmitFields): string {
  return opts.sender ?? `${settings.userName}@${settings.myorigin}`;
}

const PHRASE_ATOMS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]*$/;

/** A display name as an RFC 5322 phrase: atoms, a quoted string, or RFC 2047 words. */
export function encodeDisplayName(name: string): string {
  if (PHRASE_ATOMS.test(name)) return name;
  if (/^[\x20-\x7e]*$/.test(name)) return `"${name.replace(/(["\\])/g, "\\$1")}"`;
  const words: string[] = [];
  let piece = "";
  for (const ch of name) {
    if (Buffer.byteLength(piece + ch) > 30) {
      words.push(piece);
      piece = "";
    }
    piece += ch;
  }
  if (piece !== "") words.push(piece);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString("base64")}?=`).join(" ");
}

/** Collects the header block, then the body, from the LF stream of SendmailInput. */
class MessageParts {
  readonly headers: string[] = [];
  pendingBody: Buffer[] = [];
  headersDone = false;
  readonly stage: HeaderStage;

  constructor(headerSizeLimit: number) {
    this.stage = new HeaderStage(headerSizeLimit, {
      header: (raw) => this.headers.push(raw.toString("utf8")),
      endOfHeaders: () => {
        this.headersDone = true;
      },
      body: (bytes) => this.pendingBody.push(Buffer.from(bytes)),
    });
  }

  takeBody(): Buffer[] {
    const body = this.pendingBody;
    this.pendingBody = [];
    return body;
  }
}

const DROPPED_WITH_T = new Set(["bcc", "resent-bcc"]);

function buildEnvelope(
  settings: SubmitSettings,
  opts: SendmailOptions,
  headers: readonly string[],
): QueueEnvelope | SubmitResult {
  const fromArgs = opts.recipients.flatMap(parseAddressList);
  const fromHeaders = opts.extractRecipients ? headerRecipients(headers) : [];
  const addresses = uniqueAddresses([...fromArgs, ...fromHeaders]);
  if (addresses.length === 0)
    return opts.extractRecipients
      ? { ok: false, status: EX.DATAERR, error: "No recipient addresses found in message header" }
      : {
          ok: false,
          status: EX.USAGE,
          error: "Recipient addresses must be specified on the command line or via the -t option",
        };
  return {
    sender: envelopeSender(settings, opts),
    recipients: addresses.map((address) => (opts.notify ? { address, notify: opts.notify } : { address })),
    arrivalTime: Date.now(),
    attrs: localAttrs(settings, opts),
  };
}

/** The header block as written to the maildrop file. */
function headerBlock(settings: SubmitSettings, opts: SendmailOptions, headers: readonly string[]): Buffer {
  const names = headers.map((h) => splitHeader(h)?.name ?? "");
  const kept = headers.filter((_, i) => !(opts.extractRecipients && DROPPED_WITH_T.has(names[i] ?? "")));
  const sender = envelopeSender(settings, opts);
  if (opts.fullName !== undefined && sender !== "" && !names.includes("from"))
    kept.push(`From: ${encodeDisplayName(opts.fullName)} <${sender}>`);
  return Buffer.from(kept.map((h) => `${h}\n`).join(""), "utf8");
}

class TooBig extends Error {}

interface Submission {
  settings: SubmitSettings;
  opts: SendmailOptions;
  parts: MessageParts;
  writer?: QueueFileWriter;
}

/** Create the queue file once the headers are complete, then pass body bytes on. */
async function flush(sub: Submission, final: boolean): Promise<SubmitResult | undefined> {
  if (sub.writer === undefined && (sub.parts.headersDone || final)) {
    const envelope = buildEnvelope(sub.settings, sub.opts, sub.parts.headers);
    if ("ok" in envelope) return envelope;
    sub.writer = await createMaildropFile(sub.settings.queueDir, envelope);
    await sub.writer.write(headerBlock(sub.settings, sub.opts, sub.parts.headers));
  }
  if (sub.writer === undefined) return undefined;
  for (const piece of sub.parts.takeBody()) await sub.writer.write(piece);
  const limit = sub.settings.messageSizeLimit;
  if (limit > 0 && sub.writer.contentLength > limit) throw new TooBig();
  return undefined;
}

/** Read the message from input and queue it in maildrop. */
export async function submitMessage(
  settings: SubmitSettings,
  opts: SendmailOptions,
  input: AsyncIterable<Buffer>,
): Promise<SubmitResult> {
  const reader = new SendmailInput({ ignoreDots: opts.ignoreDots });
  const sub: Submission = { settings, opts, parts: new MessageParts(settings.headerSizeLimit) };
  try {
    for await (const chunk of input) {
      sub.parts.stage.push(reader.push(chunk));
      const refused = await flush(sub, false);
      if (refused) return refused;
      if (reader.done) break;
    }
    sub.parts.stage.push(reader.end());
    sub.parts.stage.end();
    const refused = await flush(sub, true);
    if (refused) return refused;
    if (sub.writer === undefined) throw new Error("no queue file");
    return { ok: true, id: await sub.writer.commit() };
  } catch (err) {
    await sub.writer?.abort();
    if (err instanceof TooBig)
      return { ok: false, status: EX.DATAERR, error: "message file too big: exceeds message_size_limit" };
    return {
      ok: false,
      status: EX.TEMPFAIL,
      error: `cannot write to the maildrop queue: ${errorMessage(err)}`,
    };
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
