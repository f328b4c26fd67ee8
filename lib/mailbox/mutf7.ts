/*
 * mutf7 — IMAP's modified UTF-7 (RFC 3501 §5.1.3), the form mailbox names take on the wire
 * and, as Dovecot stores them, on disk. Printable ASCII stands for itself except "&", which
 * is "&-"; everything else is UTF-16 in modified base64 ("," instead of "/") between "&"
 * and "-".
 * Talks to: nothing. Input is untrusted (client names, directory names written by other
 * programs): decoding is strict and returns undefined for anything that is not the one
 * canonical encoding (bad base64, unpaired surrogates, ASCII hidden in base64, "&...&"),
 * so two different names can never decode to the same mailbox.
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

function printable(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

function encodeRun(run: string): string {
  const bytes = Buffer.alloc(run.length * 2);
  for (let i = 0; i < run.length; i++) bytes.writeUInt16BE(run.charCodeAt(i), i * 2);
  return `&${bytes.toString("base64").replace(/=+$/, "").replace(/\//g, ",")}-`;
}

/** UTF-8 (a JS string) → modified UTF-7. */
export function encodeMutf7(name: string): string {
  let out = "";
  let run = "";
  for (const ch of name) {
    const code = ch.codePointAt(0) ?? 0;
    if (printable(code)) {
      if (run !== "") out += encodeRun(run);
      run = "";
      out += ch === "&" ? "&-" : ch;
    } else run += ch;
  }
  return run === "" ? out : out + encodeRun(run);
}

/** No unpaired UTF-16 surrogate (String.prototype.isWellFormed is ES2024). */
function wellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

function decodeRun(b64: string): string | undefined {
  if ([...b64].some((c) => !ALPHABET.includes(c)) || b64.length % 4 === 1) return undefined;
  const bytes = Buffer.from(b64.replace(/,/g, "/"), "base64");
  if (bytes.length % 2 !== 0 || bytes.length === 0) return undefined;
  let text = "";
  for (let i = 0; i < bytes.length; i += 2) text += String.fromCharCode(bytes.readUInt16BE(i));
  if (!wellFormed(text)) return undefined;
  // Canonical form only: no printable ASCII inside base64, no leftover bits.
  if ([...text].some((c) => printable(c.codePointAt(0) ?? 0))) return undefined;
  return encodeRun(text) === `&${b64}-` ? text : undefined;
}

/** Modified UTF-7 → UTF-8, or undefined when the input is not canonical modified UTF-7. */
export function decodeMutf7(text: string): string | undefined {
  let out = "";
  let i = 0;
  let afterRun = false;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (!printable(code)) return undefined;
    if (text[i] !== "&") {
      out += text[i];
      i++;
      afterRun = false;
      continue;
    }
    const end = text.indexOf("-", i + 1);
    if (end < 0) return undefined;
    if (end === i + 1) out += "&";
    else {
      if (afterRun) return undefined; // two adjacent runs must have been one
      const run = decodeRun(text.slice(i + 1, end));
      if (run === undefined) return undefined;
      out += run;
    }
    afterRun = end !== i + 1;
    i = end + 1;
  }
  return out;
}
