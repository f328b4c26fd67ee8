/*
 * session — cleanup for one message: the content half of Postfix's cleanup(8).
 *
 * Takes the envelope and the message bytes (CRLF from smtpd, LF from sendmail), and
 * writes the queue file: a Received: header first; the original headers with
 * Return-Path:, Bcc:, Resent-Bcc: and Content-Length: dropped (Postfix's
 * message_drop_headers default); then, when missing and wanted, Message-ID:, Date: and
 * From:; then the body, streamed. CRLF becomes LF; a lone CR stays. Envelope addresses
 * without a domain get @myorigin (Postfix's append_at_myorigin). The queue ID exists from
 * begin(), so smtpd can log "ID: client=..." before the data arrives; finish() returns
 * only when the file is durable (fsynced, renamed, directory fsynced), so the caller may
 * then answer 250.
 *
 * Missing headers are added when addMissing (always_add_missing_headers) is set, and
 * always for local submissions (no `received` info): Postfix adds them for clients that
 * match local_header_rewrite_clients, and pickup mail always does.
 *
 * Talks to: lib/queue. Security: content is untrusted and only ever bounded-buffered
 * (one header at most headerSizeLimit bytes); runs as mail_owner.
 */
import { type QueueEnvelope, QueueFileWriter, type QueueRecipient } from "../queue/index.js";
import { localReceived, mailDate, newMessageId, type ReceivedInfo, smtpReceived } from "./added-headers.js";
import { HeaderStage } from "./header-stage.js";
import { CrlfToLf } from "./line-endings.js";

export interface CleanupRequest {
  envelope: Omit<QueueEnvelope, "arrivalTime"> & { arrivalTime?: number };
  myhostname: string;
  myorigin: string;
  /** For the Received: line; absent for local submissions (pickup). */
  received?: ReceivedInfo;
  /** always_add_missing_headers. */
  addMissing: boolean;
  headerSizeLimit: number;
  /** Informational: both CRLF and LF input are normalised to LF. */
  inputIsCrlf: boolean;
  queue?: "incoming";
  /** mail_name for the Received: line (default "Postern"). */
  mailName?: string;
  /** Lower-case header names to remove (default: message_drop_headers of Postfix). */
  dropHeaders?: readonly string[];
  /** The queue ID, when the client made it (smtpd, see protocol.ts); else a new one. */
  id?: string;
}

export interface CleanupResult {
  id: string;
  /** The Message-ID header value (existing or added), "" when there is none. */
  messageId: string;
  /** Queued content bytes. */
  size: number;
  nrcpt: number;
}

export const DEFAULT_DROP_HEADERS: readonly string[] = ["bcc", "content-length", "resent-bcc", "return-path"];
const DEFAULT_DROP_SET: ReadonlySet<string> = new Set(DEFAULT_DROP_HEADERS);
const NEWLINE = Buffer.from("\n");

function qualify(address: string, myorigin: string): string {
  return address === "" || address.includes("@") ? address : `${address}@${myorigin}`;
}

function headerName(raw: Buffer): string {
  const colon = raw.indexOf(0x3a);
  return raw.subarray(0, colon).toString("latin1").trim().toLowerCase();
}

function headerValue(raw: Buffer): string {
  return raw
    .subarray(raw.indexOf(0x3a) + 1)
    .toString("utf8")
    .replace(/\n/g, "")
    .trim();
}

function envelopeOf(req: CleanupRequest): QueueEnvelope {
  const recipients: QueueRecipient[] = req.envelope.recipients.map((rcpt) => ({
    ...rcpt,
    address: qualify(rcpt.address, req.myorigin),
  }));
  return {
    sender: qualify(req.envelope.sender, req.myorigin),
    recipients,
    arrivalTime: req.envelope.arrivalTime ?? Date.now(),
    attrs: { ...req.envelope.attrs },
  };
}

export class CleanupSession {
  readonly id: string;
  readonly #writer: QueueFileWriter;
  readonly #request: CleanupRequest;
  readonly #envelope: QueueEnvelope;
  readonly #crlf = new CrlfToLf();
  readonly #stage: HeaderStage;
  readonly #drop: ReadonlySet<string>;
  #output: Buffer[] = [];
  #messageId: string | undefined;
  #hasDate = false;
  #hasFrom = false;
  #finished = false;

  private constructor(writer: QueueFileWriter, request: CleanupRequest, envelope: QueueEnvelope) {
    this.id = writer.id;
    this.#writer = writer;
    this.#request = request;
    this.#envelope = envelope;
    this.#drop = request.dropHeaders ? new Set(request.dropHeaders) : DEFAULT_DROP_SET;
    this.#stage = new HeaderStage(request.headerSizeLimit, {
      header: (raw) => this.#onHeader(raw),
      endOfHeaders: () => this.#onEndOfHeaders(),
      body: (bytes) => this.#output.push(bytes),
    });
  }

  /** Start a message: the queue file is created and the queue ID assigned. */
  static async begin(queueDir: string, req: CleanupRequest): Promise<CleanupSession> {
    const envelope = envelopeOf(req);
    const writer = await QueueFileWriter.create(queueDir, {
      queue: req.queue ?? "incoming",
      envelope,
      ...(req.id !== undefined ? { id: req.id } : {}),
    });
    return CleanupSession.#start(writer, req, envelope);
  }

  static #start(writer: QueueFileWriter, req: CleanupRequest, envelope: QueueEnvelope): CleanupSession {
    const session = new CleanupSession(writer, req, envelope);
    // A requeued message (postern super -r) already carries its trace headers.
    if (envelope.attrs["requeued"] !== "yes")
      session.#output.push(Buffer.from(session.#receivedHeader(), "utf8"));
    return session;
  }

  #receivedHeader(): string {
    const common = {
      id: this.id,
      myhostname: this.#request.myhostname,
      mailName: this.#request.mailName ?? "Postern",
      date: new Date(this.#envelope.arrivalTime),
    };
    const info = this.#request.received;
    if (info === undefined) return localReceived({ ...common, uid: this.#envelope.attrs["uid"] });
    const only = this.#envelope.recipients.length === 1 ? this.#envelope.recipients[0] : undefined;
    const recipient = only === undefined ? undefined : (info.forRecipient ?? only.address);
    return smtpReceived({ ...common, info, recipient });
  }

  #onHeader(raw: Buffer): void {
    const name = headerName(raw);
    if (this.#drop.has(name)) return;
    if (name === "message-id" && this.#messageId === undefined) this.#messageId = headerValue(raw);
    if (name === "date") this.#hasDate = true;
    if (name === "from") this.#hasFrom = true;
    this.#output.push(raw, NEWLINE);
  }

  #onEndOfHeaders(): void {
    if (!this.#request.addMissing && this.#request.received !== undefined) return;
    const date = new Date(this.#envelope.arrivalTime);
    const added: string[] = [];
    if (this.#messageId === undefined) {
      this.#messageId = newMessageId(date, this.id, this.#request.myhostname);
      added.push(`Message-ID: ${this.#messageId}`);
    }
    if (!this.#hasDate) added.push(`Date: ${mailDate(date)}`);
    if (!this.#hasFrom) added.push(`From: ${this.#envelope.sender || "MAILER-DAEMON"}`);
    if (added.length > 0) this.#output.push(Buffer.from(`${added.join("\n")}\n`, "utf8"));
  }

  async #drain(): Promise<void> {
    const pieces = this.#output;
    this.#output = [];
    for (const piece of pieces) await this.#writer.write(piece);
  }

  /** Feed message bytes; resolves when they may be followed by more (backpressure). */
  async write(chunk: Buffer): Promise<void> {
    if (this.#finished) throw new Error(`cleanup ${this.id}: write after finish`);
    this.#stage.push(this.#crlf.push(chunk));
    await this.#drain();
  }

  /** End of message: complete the headers, make the queue file durable, return its facts. */
  async finish(): Promise<CleanupResult> {
    if (this.#finished) throw new Error(`cleanup ${this.id}: finished twice`);
    this.#finished = true;
    const tail = this.#crlf.end();
    if (tail.length > 0) this.#stage.push(tail);
    this.#stage.end();
    await this.#drain();
    const size = this.#writer.contentLength;
    const late: Record<string, string> = { size: String(size) };
    if (this.#messageId !== undefined) late["message_id"] = this.#messageId;
    await this.#writer.commit(late);
    return { id: this.id, messageId: this.#messageId ?? "", size, nrcpt: this.#envelope.recipients.length };
  }

  /** Drop the message (client went away, policy rejected it): no queue file remains. */
  async abort(): Promise<void> {
    this.#finished = true;
    await this.#writer.abort();
  }
}
