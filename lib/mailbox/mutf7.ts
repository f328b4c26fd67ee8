/*
 * mutf7 — IMAP's modified UTF-7 for mailbox names: encoder and strict decoder.
 *
 * Printable US-ASCII except "&" stands for itself, "&" is "&-", anything else is UTF-16BE
 * in base64 with "," for "/" and no padding, between "&" and "-".
 * The decoder is strict, as Dovecot's: raw 8-bit or control bytes, an unterminated or empty
 * shift, non-zero padding bits, a broken surrogate pair, or a printable ASCII character
 * hidden in base64 are all errors, because two spellings of one name would let a client
 * create look-alike folders or dodge a name check.
 *
 * Used for names on the wire (lib/imap) and on disk (Maildir++ folder names, as Dovecot does).
 * Talks to: nothing. RFC 3501 5.1.3; RFC 2152 (UTF-7) for the base64 alphabet.
 * Security: input is hostile; linear time, no regular expressions.
 */

export type Utf7Result =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: string };

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
const VALUE = new Map([...ALPHABET].map((ch, i) => [ch, i]));

const isPrintable = (code: number): boolean => code >= 0x20 && code <= 0x7e;

/** Encodes a Unicode mailbox name as modified UTF-7. */
export function encodeMutf7(name: string): string {
  let out = "";
  let units: number[] = [];
  const flush = (): void => {
    if (units.length === 0) return;
    out += `&${base64(units)}-`;
    units = [];
  };
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isPrintable(code)) {
      flush();
      out += code === 0x26 ? "&-" : name[i];
    } else units.push(code);
  }
  flush();
  return out;
}

function base64(units: readonly number[]): string {
  const bytes = Buffer.alloc(units.length * 2);
  for (const [i, unit] of units.entries()) bytes.writeUInt16BE(unit, i * 2);
  return bytes.toString("base64").replace(/=+$/, "").replaceAll("/", ",");
}

/** Decodes modified UTF-7, refusing every non-canonical or invalid form. */
export function decodeMutf7(text: string): Utf7Result {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!isPrintable(code)) return { ok: false, reason: "Invalid character in mailbox name" };
    if (code !== 0x26) {
      out += text[i++];
      continue;
    }
    const end = text.indexOf("-", i + 1);
    if (end < 0) return { ok: false, reason: "Unterminated &-sequence in mailbox name" };
    if (end === i + 1) out += "&";
    else {
      // Two shifts back to back spell what one shift would: a second name for the same folder.
      if (i >= 2 && text[i - 1] === "-" && shiftEndsAt(text, i - 1)) {
        return { ok: false, reason: "Non-canonical &-sequence in mailbox name" };
      }
      const decoded = decodeShift(text.slice(i + 1, end));
      if (!decoded.ok) return decoded;
      out += decoded.value;
    }
    i = end + 1;
  }
  return { ok: true, value: out };
}

/** True when the "-" at `dash` closes a base64 shift (not the "&-" spelling of "&"). */
function shiftEndsAt(text: string, dash: number): boolean {
  const amp = text.lastIndexOf("&", dash - 1);
  return amp >= 0 && amp < dash - 1 && !text.slice(amp + 1, dash).includes("-");
}

function decodeShift(chunk: string): Utf7Result {
  const units: number[] = [];
  let bits = 0;
  let bitCount = 0;
  for (const ch of chunk) {
    const value = VALUE.get(ch);
    if (value === undefined) return { ok: false, reason: "Invalid base64 in mailbox name" };
    bits = ((bits << 6) | value) & 0xffffff;
    bitCount += 6;
    if (bitCount >= 16) {
      bitCount -= 16;
      units.push((bits >> bitCount) & 0xffff);
    }
  }
  if (bitCount >= 6 || (bits & ((1 << bitCount) - 1)) !== 0) {
    return { ok: false, reason: "Invalid base64 padding in mailbox name" };
  }
  return utf16(units);
}

function utf16(units: readonly number[]): Utf7Result {
  let out = "";
  for (let i = 0; i < units.length; i++) {
    const unit = units[i]!;
    if (isPrintable(unit)) return { ok: false, reason: "ASCII character encoded in mailbox name" };
    if (unit >= 0xdc00 && unit <= 0xdfff) return { ok: false, reason: "Broken UTF-16 in mailbox name" };
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = units[i + 1];
      if (low === undefined || low < 0xdc00 || low > 0xdfff) {
        return { ok: false, reason: "Broken UTF-16 in mailbox name" };
      }
      out += String.fromCharCode(unit, low);
      i++;
    } else out += String.fromCharCode(unit);
  }
  return { ok: true, value: out };
}
