/*
 * search-text — the text side of SEARCH: case folding, a streaming multi-needle substring
 * scanner, a bounded header-field reader, and the haystacks the header keys look at.
 *
 * Matching is a case-insensitive substring test on decoded Unicode text, close to the
 * i;unicode-casemap comparator Dovecot uses (RFC 5051): both sides are NFKD-decomposed and
 * lower-cased, and final sigma is folded into sigma so a word split across two chunks folds
 * the same as when it arrives whole. The scanner keeps only the last (longest needle - 1)
 * characters between chunks, so a match may straddle a chunk boundary while memory stays
 * bounded by the chunk size.
 * Talks to: lib/mime/decode (RFC 2047 words), lib/mime/envelope (address lists).
 * RFCs: 3501 §6.4.4 (text keys), 5322 §2.2.3 (folding), 2047, 5051.
 * Security: every input is untrusted message text; header fields are capped at
 * MAX_FIELD_CHARS, lines are never held longer than that, nothing recurses.
 */
import { decodeHeaderValue } from "../../mime/decode.js";
import { parseAddressList } from "../../mime/envelope.js";

/** A header field longer than this is cut (Dovecot caps header lines likewise). */
export const MAX_FIELD_CHARS = 65_536;

/** The search key form of a text: decomposed, lower case, one sigma. */
export function foldText(text: string): string {
  return text.normalize("NFKD").toLowerCase().replace(/ς/g, "σ");
}

export interface Needle {
  readonly id: number;
  /** Already folded; never empty (empty needles are decided without reading). */
  readonly folded: string;
}

/**
 * Finds several needles in one stream of text. feed() folds each chunk; hits go into the
 * shared `hits` set; reset() starts a new part (matches never span two MIME parts).
 */
export class TextScanner {
  private tail = "";
  private readonly keep: number;

  constructor(
    private readonly needles: readonly Needle[],
    private readonly hits: Set<number>,
  ) {
    let keep = 0;
    for (const n of needles) keep = Math.max(keep, n.folded.length - 1);
    this.keep = keep;
  }

  /** Some needle not found yet holds a CR or LF (so it can tell LF from CRLF line ends). */
  get needsLineEnds(): boolean {
    return this.needles.some((n) => !this.hits.has(n.id) && /[\r\n]/.test(n.folded));
  }

  /** True while some needle has not been found. */
  get pending(): boolean {
    return this.needles.some((n) => !this.hits.has(n.id));
  }

  reset(): void {
    this.tail = "";
  }

  /** Returns true when this chunk produced a new hit. */
  feed(text: string): boolean {
    if (text === "" || this.needles.length === 0) return false;
    return this.feedFolded(foldText(text));
  }

  /**
   * feed() for text already in search key form (foldText(x) === x), e.g. ASCII text lowered
   * by String.toLowerCase: no normalisation pass, no second copy.
   */
  feedFolded(folded: string): boolean {
    if (folded === "" || this.needles.length === 0) return false;
    const window = this.tail === "" ? folded : this.tail + folded;
    let found = false;
    for (const n of this.needles) {
      if (this.hits.has(n.id) || !window.includes(n.folded)) continue;
      this.hits.add(n.id);
      found = true;
    }
    this.tail = this.keep === 0 ? "" : window.slice(-this.keep);
    return found;
  }
}

export interface HeaderField {
  /** As written (case kept). */
  readonly name: string;
  /** Raw value: latin1 byte string, folding CRLFs kept, cut at MAX_FIELD_CHARS. */
  readonly raw: string;
}

/**
 * Splits a header into fields as its bytes arrive (LF or CRLF line ends), calling onField for
 * each; stops at the empty line that ends the header. Holds at most one field.
 */
export class HeaderReader {
  private line = "";
  private field: { name: string; raw: string } | null = null;
  private ended = false;

  constructor(private readonly onField: (field: HeaderField) => void) {}

  /** True once the empty line was seen (the rest of the input is body). */
  get done(): boolean {
    return this.ended;
  }

  /** Feeds bytes; returns how many belonged to the header (all of them until it ends). */
  write(chunk: Buffer): number {
    let from = 0;
    while (from < chunk.length && !this.ended) {
      const lf = chunk.indexOf(0x0a, from);
      const stop = lf < 0 ? chunk.length : lf;
      if (this.line.length < MAX_FIELD_CHARS)
        this.line += chunk.toString(
          "latin1",
          from,
          Math.min(stop, from + MAX_FIELD_CHARS - this.line.length),
        );
      if (lf < 0) return chunk.length;
      this.endLine(this.line.endsWith("\r") ? this.line.slice(0, -1) : this.line);
      this.line = "";
      from = lf + 1;
    }
    return from;
  }

  /** The input ended (a header without body): flush what is left. */
  end(): void {
    if (this.ended) return;
    if (this.line !== "") this.endLine(this.line);
    this.line = "";
    this.flush();
    this.ended = true;
  }

  private endLine(line: string): void {
    if (line === "") {
      this.flush();
      this.ended = true;
      return;
    }
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      if (this.field !== null && this.field.raw.length < MAX_FIELD_CHARS) this.field.raw += `\r\n${line}`;
      return;
    }
    this.flush();
    const colon = line.indexOf(":");
    if (colon <= 0) return;
    this.field = { name: line.slice(0, colon).trim(), raw: line.slice(colon + 1) };
  }

  private flush(): void {
    if (this.field !== null) this.onField(this.field);
    this.field = null;
  }
}

const ADDRESS_FIELDS = new Set([
  "from",
  "sender",
  "reply-to",
  "to",
  "cc",
  "bcc",
  "resent-from",
  "resent-sender",
  "resent-reply-to",
  "resent-to",
  "resent-cc",
  "resent-bcc",
]);

/** A header value as text: RFC 2047 words decoded, unfolded, leading blanks dropped. */
export function headerText(raw: string): string {
  return decodeHeaderValue(raw).replace(/^[ \t]+/, "");
}

/**
 * What FROM/TO/CC/BCC/SUBJECT/HEADER compare with: the decoded value, and for address
 * fields also each address written as `Display Name <mailbox@host>` with decoded names,
 * so a search finds a name or an address however the sender quoted or commented it.
 */
export function headerHaystack(name: string, raw: string): string {
  const text = headerText(raw);
  if (!ADDRESS_FIELDS.has(name.toLowerCase())) return text;
  const addresses = parseAddressList(raw.replace(/\r?\n/g, ""))
    .filter((a) => a.mailbox !== null && a.host !== null)
    .map((a) => {
      const display = a.name === null ? "" : `${decodeHeaderValue(a.name)} `;
      return `${display}<${a.mailbox ?? ""}@${a.host ?? ""}>`;
    });
  return addresses.length === 0 ? text : `${text}\n${addresses.join(", ")}`;
}
