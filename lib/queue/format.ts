/*
 * format — the on-disk queue file format, version 1.
 *
 * A queue file is written once by cleanup (or `postern sendmail` into maildrop), renamed
 * into place only when complete, and afterwards only appended to by qmgr:
 *
 *   POSTERN-QUEUE 1\n                magic line with the format version
 *   L 00000000000000001234\n         content length, 20 digits, patched at commit (Postfix's size record)
 *   T 1795860000000\n                arrival time, ms
 *   S "sender@example.org"\n         envelope sender as a JSON string ("" = null sender)
 *   R {"address":"a@b","orcpt":"rfc822;a@b","notify":"NEVER"}\n      one per recipient, in order
 *   A ["client_address","192.0.2.1"]\n                                one per attribute
 *   M\n                              start of content
 *   <content: exactly L raw bytes, LF line endings, need not end in LF>
 *   A ["message_id","<x@y>"]\n       attributes known only after the content (Postfix's extracted segment)
 *   E\n                              end of the message; everything up to here exists before the rename
 *   O {"index":0,"status":"sent",...} 1a2b3c4d\n     appended: a recipient's final outcome
 *   D {"next":...,"list":[...]} 5e6f7a8b\n           appended: one delivery attempt's deferrals
 *   W {"time":...} 9c0d1e2f\n                        appended: delay warning sent
 *
 * Values are JSON, so any byte except a raw newline survives in a record and no record
 * spans lines. Appended records carry a CRC-32 of "type json": a record torn by a crash
 * fails the check and is ignored (its recipient is simply retried), and appenders start a
 * fresh line if the file does not end in one, so a torn tail never swallows later records.
 * Anything wrong before E (bad magic, short envelope, short content, missing E) makes the
 * whole file corrupt: those bytes were fsynced before the file got its name.
 *
 * Security: queue files are trusted only as far as their own checks go; the parser never
 * evaluates anything and bounds the envelope it will read.
 */

export const MAGIC_LINE = "POSTERN-QUEUE 1";
export const LENGTH_DIGITS = 20;
export const LENGTH_PLACEHOLDER = "-".repeat(LENGTH_DIGITS);
/** Offset of the 20-digit length inside the file: after the magic line and "L ". */
export const LENGTH_FIELD_OFFSET = MAGIC_LINE.length + 1 + 2;
/** Envelopes larger than this are not believed (a recipient list of ~1M addresses). */
export const MAX_ENVELOPE_BYTES = 64 * 1024 * 1024;

export type QueueName = "maildrop" | "incoming" | "active" | "deferred" | "hold" | "corrupt";

export interface QueueRecipient {
  address: string;
  orcpt?: string;
  /** "SUCCESS,FAILURE,DELAY" (any subset) or "NEVER" (RFC 3461 NOTIFY). */
  notify?: string;
}

export interface QueueEnvelope {
  /** "" is the null sender. */
  sender: string;
  recipients: QueueRecipient[];
  /** Milliseconds since the epoch. */
  arrivalTime: number;
  /** client_name, client_address, helo_name, protocol, sasl_method, sasl_username, ret, envid, origin, message_id, size, ... */
  attrs: Record<string, string>;
}

export type RecipientOutcome = {
  index: number;
  status: "sent" | "bounced" | "expired";
  dsn: string;
  relay: string;
  text: string;
  time: number;
};

export interface RecipientDeferral {
  index: number;
  dsn: string;
  relay: string;
  text: string;
  time: number;
}

export interface QueueFileInfo {
  id: string;
  queue: QueueName;
  path: string;
  envelope: QueueEnvelope;
  /** Content = the message (headers + body), LF line endings. */
  contentOffset: number;
  contentLength: number;
  /** Recipients finished, by index. */
  done: Map<number, RecipientOutcome>;
  /** Last temporary failure of each recipient not yet done. */
  deferred: Map<number, Omit<RecipientDeferral, "index">>;
  attempts: number;
  nextAttempt: number;
  warned: boolean;
}

/** A queue file that cannot be trusted: move it to corrupt/, never deliver from it. */
export class QueueFileError extends Error {
  override readonly name = "QueueFileError";
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE, as zlib), as 8 lowercase hex digits. */
export function crc32Hex(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return ((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, "0");
}

/** One appended record line: "X json crc\n". */
export function checkedRecord(type: "O" | "D" | "W", payload: unknown): Buffer {
  const body = Buffer.from(`${type} ${JSON.stringify(payload)}`, "utf8");
  return Buffer.concat([body, Buffer.from(` ${crc32Hex(body)}\n`, "latin1")]);
}

/** The envelope records up to and including "M\n", with the length placeholder. */
export function encodeEnvelope(envelope: QueueEnvelope): Buffer {
  const lines = [MAGIC_LINE, `L ${LENGTH_PLACEHOLDER}`, `T ${Math.trunc(envelope.arrivalTime)}`];
  lines.push(`S ${JSON.stringify(envelope.sender)}`);
  for (const rcpt of envelope.recipients) {
    const record: QueueRecipient = { address: rcpt.address };
    if (rcpt.orcpt !== undefined) record.orcpt = rcpt.orcpt;
    if (rcpt.notify !== undefined) record.notify = rcpt.notify;
    lines.push(`R ${JSON.stringify(record)}`);
  }
  for (const [name, value] of Object.entries(envelope.attrs)) lines.push(encodeAttr(name, value));
  lines.push("M", "");
  return Buffer.from(lines.join("\n"), "utf8");
}

export function encodeAttr(name: string, value: string): string {
  return `A ${JSON.stringify([name, value])}`;
}

/** The 20-digit content length field. */
export function encodeLength(length: number): Buffer {
  return Buffer.from(String(length).padStart(LENGTH_DIGITS, "0"), "latin1");
}
