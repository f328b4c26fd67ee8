/*
 * reader — the token level of the IMAP command parser: a cursor over one framed command
 * (its line text and its literals) reading atoms, quoted strings, literals, astrings,
 * nstrings, numbers, mod-sequences and parenthesized lists.
 *
 * Talks to: nothing. RFC 3501 9 (formal syntax: atom, quoted, literal, astring, nstring,
 * number, nz-number), 7162 3.1 (mod-sequence-value), 3516 (literal8).
 * Security: input is hostile. Every read checks bounds, characters are validated against
 * the grammar's character classes (no regular expressions on client data), 8-bit bytes are
 * only accepted inside quoted strings and literals (UTF-8, as Dovecot does). A syntax error
 * throws ImapSyntaxError, which the parser turns into a BAD reply; nothing else throws.
 */
import type { FramedCommand, FramedLiteral } from "../framer.js";

export class ImapSyntaxError extends Error {
  override readonly name = "ImapSyntaxError";
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_NUMBER = 4294967295;
const MAX_MODSEQ = 9223372036854775807n;

/** ATOM-CHAR: CHAR except atom-specials ( ) { SP CTL % * " \ ] (RFC 3501 9). */
export function isAtomChar(byte: number): boolean {
  if (byte <= 0x20 || byte >= 0x7f) return false;
  return !ATOM_SPECIALS.has(byte);
}
const ATOM_SPECIALS = new Set([0x28, 0x29, 0x7b, 0x25, 0x2a, DQUOTE, BACKSLASH, 0x5d]);

/** ASTRING-CHAR = ATOM-CHAR / "]". */
export function isAstringChar(byte: number): boolean {
  return byte === 0x5d || isAtomChar(byte);
}

/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
export function isListChar(byte: number): boolean {
  return byte === 0x25 || byte === 0x2a || isAstringChar(byte);
}

export class Reader {
  pos = 0;
  private literalIndex = 0;
  readonly line: Buffer;
  private readonly literals: readonly FramedLiteral[];

  constructor(command: FramedCommand) {
    this.line = command.line;
    this.literals = command.literals;
  }

  fail(message: string): never {
    throw new ImapSyntaxError(message);
  }

  atEnd(): boolean {
    return this.pos >= this.line.length;
  }

  peek(): number | undefined {
    return this.line[this.pos];
  }

  /** True (and consumed) when the next byte is `byte`. */
  accept(byte: number): boolean {
    if (this.line[this.pos] !== byte) return false;
    this.pos++;
    return true;
  }

  expect(byte: number, what: string): void {
    if (!this.accept(byte)) this.fail(`Expected ${what}`);
  }

  space(): void {
    this.expect(SP, "a space");
  }

  end(): void {
    if (!this.atEnd()) this.fail("Unexpected extra arguments");
  }

  /** Bytes while `test` holds; may be empty. */
  run(test: (byte: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.line.length && test(this.line[this.pos]!)) this.pos++;
    return this.line.toString("latin1", start, this.pos);
  }

  atom(what = "an atom"): string {
    const word = this.run(isAtomChar);
    if (word === "") this.fail(`Expected ${what}`);
    return word;
  }

  /** An atom compared case-insensitively (keywords, verbs, options). */
  keyword(what = "a keyword"): string {
    return this.atom(what).toUpperCase();
  }

  /** Consumes `word` (case-insensitive) if it is the next atom. */
  acceptKeyword(word: string): boolean {
    const save = this.pos;
    const got = this.run(isAstringChar).toUpperCase();
    if (got === word) return true;
    this.pos = save;
    return false;
  }

  quoted(): string {
    this.expect(DQUOTE, "a quoted string");
    const bytes: number[] = [];
    for (;;) {
      const byte = this.line[this.pos++];
      if (byte === undefined) this.fail("Unterminated quoted string");
      if (byte === DQUOTE) break;
      if (byte === BACKSLASH) {
        const escaped = this.line[this.pos++];
        if (escaped !== DQUOTE && escaped !== BACKSLASH) this.fail("Invalid escape in quoted string");
        bytes.push(escaped);
      } else if (byte === 0 || byte === 0x0d || byte === 0x0a) {
        this.fail("Invalid character in quoted string");
      } else bytes.push(byte);
    }
    return Buffer.from(bytes).toString("utf8");
  }

  isLiteralNext(): boolean {
    const byte = this.peek();
    return byte === 0x7b || (byte === 0x7e && this.line[this.pos + 1] === 0x7b);
  }

  /** `{n}`, `{n+}` or `~{n}` (only when binaryAllowed) and its bytes. */
  literal(binaryAllowed = false): { bytes: Buffer; binary: boolean } {
    const binary = this.accept(0x7e);
    if (binary && !binaryAllowed) this.fail("Binary literal not allowed here");
    this.expect(0x7b, "a literal");
    const size = this.number();
    this.accept(0x2b);
    this.expect(0x7d, "'}' closing the literal size");
    const literal = this.literals[this.literalIndex++];
    if (literal === undefined || literal.offset !== this.pos)
      this.fail("Literal size not at the end of a line");
    if (literal.bytes.length !== size) this.fail("Literal data missing");
    if (!binary && literal.bytes.includes(0)) this.fail("NUL in a non-binary literal");
    return { bytes: literal.bytes, binary };
  }

  string(): string {
    return this.peek() === DQUOTE ? this.quoted() : this.literal().bytes.toString("utf8");
  }

  astring(what = "a string"): string {
    const byte = this.peek();
    if (byte === DQUOTE || this.isLiteralNext()) return this.string();
    const word = this.run(isAstringChar);
    if (word === "") this.fail(`Expected ${what}`);
    return word;
  }

  /** string or NIL. */
  nstring(): string | null {
    const byte = this.peek();
    if (byte === DQUOTE || this.isLiteralNext()) return this.string();
    if (this.keyword("a string or NIL") !== "NIL") this.fail("Expected a string or NIL");
    return null;
  }

  /** number: 1*DIGIT, at most 2^32-1. */
  number(what = "a number"): number {
    const digits = this.run((b) => b >= 0x30 && b <= 0x39);
    if (digits === "" || digits.length > 10) this.fail(`Expected ${what}`);
    const value = Number(digits);
    if (value > MAX_NUMBER) this.fail(`${what} out of range`);
    return value;
  }

  nzNumber(what = "a non-zero number"): number {
    const value = this.number(what);
    if (value === 0) this.fail(`Expected ${what}`);
    return value;
  }

  /** mod-sequence-valzer (zero allowed, RFC 7162 7) or mod-sequence-value when nonZero. */
  modSeq(nonZero: boolean): bigint {
    const digits = this.run((b) => b >= 0x30 && b <= 0x39);
    if (digits === "" || digits.length > 19) this.fail("Expected a mod-sequence");
    const value = BigInt(digits);
    if (value > MAX_MODSEQ || (nonZero && value === 0n)) this.fail("Mod-sequence out of range");
    return value;
  }

  /** "(" item *(SP item) ")"; an empty list only when allowEmpty. */
  list<T>(item: () => T, allowEmpty: boolean): T[] {
    this.expect(0x28, "'('");
    const items: T[] = [];
    if (this.accept(0x29)) {
      if (!allowEmpty) this.fail("Empty list");
      return items;
    }
    do items.push(item());
    while (this.accept(SP));
    this.expect(0x29, "')'");
    return items;
  }
}
