/*
 * addresses — recipient addresses from RFC 5322 address lists: `sendmail -t` reads them
 * from To:, Cc: and Bcc: (or from Resent-To:, Resent-Cc:, Resent-Bcc: when the message
 * has any of those, as Postfix's cleanup does for resent mail), and command-line operands
 * go through the same parser, so "Ann <ann@example.org>, bob" works in either place.
 *
 * The tokenizer knows quoted strings, nested comments, angle addresses (with obsolete
 * source routes "<@a,@b:user@c>", which are dropped), groups ("team: a@b, c@d;" and the
 * empty "undisclosed-recipients:;") and folded lines. Display names are discarded.
 *
 * Talks to: nothing; pure. RFCs: 5322 3.4 and 3.6.3, 6854 (groups in From/To).
 * Security: input is untrusted header text; one linear pass, no recursion, no regexes
 * with backtracking over the input.
 */

/** Header names recipients come from with -t, and the Resent- set that replaces them. */
const PLAIN_FIELDS = new Set(["to", "cc", "bcc"]);
const RESENT_FIELDS = new Set(["resent-to", "resent-cc", "resent-bcc"]);

interface Mailbox {
  /** Text outside angle brackets: an addr-spec, or a display name once "<" is seen. */
  text: string;
  /** The addr-spec inside "<...>", when there was one. */
  angle: string | undefined;
}

function emptyMailbox(): Mailbox {
  return { text: "", angle: undefined };
}

/** Index just past a quoted string starting at start (the opening quote). */
function skipQuoted(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/** Index just past a (possibly nested) comment starting at start. */
function skipComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (ch === "\\") i++;
    else if (ch === "(") depth++;
    else if (ch === ")" && --depth === 0) return i + 1;
  }
  return i;
}

/**
 * Index just past the ">" closing an angle address that starts at start; an unclosed
 * one ends before the next comma, so one typo does not swallow the rest of the list.
 */
function angleEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== ">") i = text[i] === '"' ? skipQuoted(text, i) : i + 1;
  if (i < text.length) return i + 1;
  const comma = text.indexOf(",", start);
  return comma < 0 ? text.length : comma;
}

/** The addr-spec of "<...>" contents, without an obsolete route and comments. */
function angleAddress(inner: string): string {
  let spec = "";
  for (let i = 0; i < inner.length; ) {
    const ch = inner[i] as string;
    if (ch === '"') {
      const end = skipQuoted(inner, i);
      spec += inner.slice(i, end);
      i = end;
    } else if (ch === "(") i = skipComment(inner, i);
    else if (ch === ":" && spec.startsWith("@")) {
      spec = ""; // "@relay1,@relay2:" source route: ignored (RFC 5321 4.1.1.3)
      i++;
    } else {
      if (!/\s/.test(ch)) spec += ch;
      i++;
    }
  }
  return spec;
}

function mailboxAddress(box: Mailbox): string {
  return box.angle ?? box.text;
}

/** Parse an address list; returns the addr-specs in order (display names dropped). */
export function parseAddressList(text: string): string[] {
  const out: string[] = [];
  let box = emptyMailbox();
  const flush = (): void => {
    const address = mailboxAddress(box);
    if (address !== "") out.push(address);
    box = emptyMailbox();
  };
  for (let i = 0; i < text.length; ) {
    const ch = text[i] as string;
    if (ch === '"') {
      const end = skipQuoted(text, i);
      box.text += text.slice(i, end);
      i = end;
    } else if (ch === "(") i = skipComment(text, i);
    else if (ch === "<") {
      const end = angleEnd(text, i);
      box.angle = angleAddress(text.slice(i + 1, text[end - 1] === ">" ? end - 1 : end));
      i = end;
    } else if (ch === ",") {
      flush();
      i++;
    } else if (ch === ":") {
      box = emptyMailbox(); // the group's display name: its members follow
      i++;
    } else if (ch === ";") {
      flush();
      i++;
    } else {
      if (!/\s/.test(ch) && box.angle === undefined) box.text += ch;
      i++;
    }
  }
  flush();
  return out;
}

/** The lower-case name and unfolded value of one raw header ("Name: value\n\tmore"). */
export function splitHeader(raw: string): { name: string; value: string } | null {
  const colon = raw.indexOf(":");
  if (colon <= 0) return null;
  return {
    name: raw.slice(0, colon).trim().toLowerCase(),
    value: raw.slice(colon + 1).replace(/\r?\n/g, ""),
  };
}

/**
 * The recipients `sendmail -t` takes from a message's headers: To/Cc/Bcc, or the
 * Resent- trio when any Resent-To/Cc/Bcc header is present.
 */
export function headerRecipients(headers: readonly string[]): string[] {
  const parsed = headers.map(splitHeader).filter((h) => h !== null);
  const resent = parsed.some((h) => RESENT_FIELDS.has(h.name));
  const fields = resent ? RESENT_FIELDS : PLAIN_FIELDS;
  return parsed.filter((h) => fields.has(h.name)).flatMap((h) => parseAddressList(h.value));
}

/** Drop repeated addresses (case-insensitively), keeping the first, as cleanup's duplicate filter. */
export function uniqueAddresses(addresses: readonly string[]): string[] {
  const seen = new Set<string>();
  return addresses.filter((a) => {
    const key = a.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
