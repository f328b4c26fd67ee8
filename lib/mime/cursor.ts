/*
 * cursor — a position in one header value that steps over RFC 822 CFWS: folding whitespace
 * and (nested, backslash-escaped) comments. The MIME parameter parser and the address parser
 * build on it; a comment's text is kept as lastComment (an address uses it as a display name).
 */
export class Rfc822Cursor {
  pos = 0;
  lastComment: string | null = null;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  peek(): string {
    return this.text[this.pos] ?? "";
  }

  /** Skips whitespace and comments, which RFC 822/2045 allow between tokens. */
  skipCfws(): void {
    for (;;) {
      const ch = this.peek();
      if (ch === " " || ch === "\t" || ch === "\r" || ch === "\n") this.pos++;
      else if (ch === "(") this.lastComment = this.comment();
      else return;
    }
  }

  /** One comment from its "(", nested ones included; returns its text without the outer parentheses. */
  private comment(): string {
    let depth = 0;
    let text = "";
    while (!this.done) {
      const ch = this.text[this.pos++] ?? "";
      if (ch === "\\") text += this.text[this.pos++] ?? "";
      else if (ch === "(") {
        if (depth++ > 0) text += ch;
      } else if (ch === ")") {
        if (--depth === 0) return text;
        text += ch;
      } else text += ch;
    }
    return text;
  }
}
