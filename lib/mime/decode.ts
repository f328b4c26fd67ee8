/*
 * mime/decode — text for SEARCH: RFC 2047 encoded words in header values to Unicode, and a
 * body part's transfer encoding (RFC 2045 §6: base64, quoted-printable) plus charset to text,
 * streamed chunk by chunk.
 *
 * Talks to: nothing; lib/imap SEARCH feeds it header values from mime/structure and body
 * bytes cut with mime/sections.crlfRange. Charsets via Node's TextDecoder (WHATWG labels);
 * unknown charsets fall back to UTF-8 with replacement characters, never an exception.
 * Security: untrusted input; decoders keep at most one partial line/quantum between chunks.
 */

import { TextDecoder } from "node:util";

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decoderFor(charset: string): TextDecoder {
  const label = charset.split("*")[0]?.trim().toLowerCase() ?? "";
  try {
    return new TextDecoder(label === "" ? "utf-8" : label);
  } catch {
    return new TextDecoder("utf-8");
  }
}

/** Raw 8-bit header bytes: UTF-8 when valid, else Latin-1 (what most MUAs meant). */
export function decodeRawHeaderBytes(latin1: string): string {
  const bytes = Buffer.from(latin1, "latin1");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return latin1;
  }
}

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toUpperCase() === "B") return Buffer.from(text, "base64");
  const qp = text.replace(/_/g, " ");
  return decodeQuotedPrintableLine(Buffer.from(qp, "latin1"), false);
}

/**
 * Decodes RFC 2047 encoded words in a raw (latin1 byte string) header value; whitespace
 * between adjacent encoded words is dropped and their bytes joined before charset decoding,
 * so a multi-byte character split across two words survives.
 */
export function decodeHeaderValue(raw: string): string {
  const unfolded = raw.replace(/\r?\n(?=[ \t])/g, "");
  let out = "";
  let last = 0;
  let pending: { charset: string; bytes: Buffer[] } | null = null;
  const flush = (): void => {
    if (pending) out += decoderFor(pending.charset).decode(Buffer.concat(pending.bytes));
    pending = null;
  };
  for (const m of unfolded.matchAll(ENCODED_WORD)) {
    const between = unfolded.slice(last, m.index);
    const charset = m[1] ?? "utf-8";
    if (!(pending && /^[ \t]*$/.test(between))) {
      flush();
      out += decodeRawHeaderBytes(between);
    }
    const bytes = wordBytes(m[2] ?? "Q", m[3] ?? "");
    if (pending?.charset.toLowerCase() === charset.toLowerCase()) pending.bytes.push(bytes);
    else {
      flush();
      pending = { charset, bytes: [bytes] };
    }
    last = (m.index ?? 0) + m[0].length;
  }
  flush();
  return out + decodeRawHeaderBytes(unfolded.slice(last));
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** One quoted-printable line (without its line break); `=` at the end is a soft break. */
function decodeQuotedPrintableLine(line: Buffer, hadBreak: boolean): Buffer {
  const out = Buffer.alloc(line.length + 2);
  let n = 0;
  let end = line.length;
  while (end > 0 && (line[end - 1] === 0x20 || line[end - 1] === 0x09)) end--;
  let softBreak = false;
  for (let i = 0; i < end; i++) {
    const byte = line[i] ?? 0;
    if (byte !== 0x3d) {
      out[n++] = byte;
      continue;
    }
    if (i === end - 1) {
      softBreak = true;
      break;
    }
    const hi = hexValue(line[i + 1]);
    const lo = hexValue(line[i + 2]);
    if (hi < 0 || lo < 0) out[n++] = byte;
    else {
      out[n++] = hi * 16 + lo;
      i += 2;
    }
  }
  if (hadBreak && !softBreak) {
    out[n++] = 0x0d;
    out[n++] = 0x0a;
  }
  return out.subarray(0, n);
}

/** Transfer decoding, streamed: write() chunks in, decoded bytes out; end() flushes. */
export class TransferDecoder {
  private carry = Buffer.alloc(0);
  private readonly kind: "base64" | "qp" | "identity";

  constructor(encoding: string | null) {
    const e = (encoding ?? "").toLowerCase();
    this.kind = e === "base64" ? "base64" : e === "quoted-printable" ? "qp" : "identity";
  }

  write(chunk: Buffer): Buffer {
    if (this.kind === "identity") return chunk;
    const data = Buffer.concat([this.carry, chunk]);
    if (this.kind === "base64") {
      const clean = data.toString("latin1").replace(/[^A-Za-z0-9+/]/g, "");
      const whole = clean.length - (clean.length % 4);
      this.carry = Buffer.from(clean.slice(whole), "latin1");
      return Buffer.from(clean.slice(0, whole), "base64");
    }
    const lastLf = data.lastIndexOf(0x0a);
    this.carry = data.subarray(lastLf + 1);
    return this.decodeQpLines(data.subarray(0, lastLf + 1));
  }

  end(): Buffer {
    const rest = this.carry;
    this.carry = Buffer.alloc(0);
    if (this.kind === "base64") return Buffer.from(rest.toString("latin1"), "base64");
    if (this.kind === "qp") return decodeQuotedPrintableLine(rest, false);
    return rest;
  }

  private decodeQpLines(data: Buffer): Buffer {
    const out: Buffer[] = [];
    let from = 0;
    while (from < data.length) {
      const lf = data.indexOf(0x0a, from);
      let line = data.subarray(from, lf);
      if (line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      out.push(decodeQuotedPrintableLine(line, true));
      from = lf + 1;
    }
    return Buffer.concat(out);
  }
}

/** A body part's content as text: transfer decoding then charset, yielded as it streams. */
export async function* decodeBodyText(
  input: AsyncIterable<Buffer>,
  options: { readonly encoding: string | null; readonly charset: string | null },
): AsyncGenerator<string> {
  const transfer = new TransferDecoder(options.encoding);
  const text = decoderFor(options.charset ?? "utf-8");
  for await (const chunk of input) {
    const decoded = text.decode(transfer.write(chunk), { stream: true });
    if (decoded !== "") yield decoded;
  }
  const last = text.decode(transfer.end());
  if (last !== "") yield last;
}
