/*
 * mailbox-name — decides whether a mailbox name a client sent may reach the store.
 *
 * A name arrives modified-UTF-7 encoded (RFC 3501 5.1.3) with "/" (or the configured
 * imap_hierarchy_separator) between levels. It is decoded strictly, then checked level by
 * level: no empty level ("a//b", a leading separator = an absolute path), no "." or "..",
 * no NUL or control characters, no "/" on disk even when the separator is something else,
 * no leading "~" (home-directory expansion in other tools), bounded length and depth.
 * A trailing separator is dropped (RFC 3501 6.3.3: CREATE "foo/" means foo). INBOX in any
 * case is INBOX.
 *
 * Talks to: mutf7.ts. RFC 3501 5.1 and 5.1.3.
 * Security: this is the check that keeps a client inside its mail directory; the store must
 * still map levels to paths itself (Maildir++ ".A.B"), never concatenate raw names.
 */
import { decodeMutf7 } from "../mailbox/mutf7.js";

export interface MailboxNameLimits {
  readonly separator: string;
  /** Characters of the whole decoded name. */
  readonly maxLength: number;
  /** Levels of hierarchy. */
  readonly maxDepth: number;
}

export const DEFAULT_MAILBOX_NAME_LIMITS: MailboxNameLimits = {
  separator: "/",
  maxLength: 1024,
  maxDepth: 16,
};

export type MailboxNameResult =
  | {
      readonly ok: true;
      /** Decoded name, trailing separator removed, INBOX canonical. */
      readonly name: string;
      /** The name split at the separator. */
      readonly levels: readonly string[];
    }
  | { readonly ok: false; readonly reason: string };

/** Decodes a client's mailbox name and checks it is safe to use. */
export function checkMailboxName(
  encoded: string,
  limits: MailboxNameLimits = DEFAULT_MAILBOX_NAME_LIMITS,
): MailboxNameResult {
  const decoded = decodeMutf7(encoded);
  if (!decoded.ok) return decoded;
  let name = decoded.value;
  if (name.length > limits.maxLength) return { ok: false, reason: "Mailbox name too long" };
  if (name.endsWith(limits.separator) && name.length > limits.separator.length) {
    name = name.slice(0, -limits.separator.length);
  }
  const levels = name.split(limits.separator);
  if (levels[0]!.toUpperCase() === "INBOX") levels[0] = "INBOX";
  if (levels.length > limits.maxDepth) return { ok: false, reason: "Mailbox hierarchy too deep" };
  for (const level of levels) {
    const reason = levelProblem(level);
    if (reason !== null) return { ok: false, reason };
  }
  return { ok: true, name: levels.join(limits.separator), levels };
}

function levelProblem(level: string): string | null {
  if (level === "") return "Empty hierarchy level in mailbox name";
  if (level === "." || level === "..") return "Mailbox name may not contain . or .. levels";
  if (level.startsWith("~")) return "Mailbox name may not start with ~";
  for (let i = 0; i < level.length; i++) {
    const code = level.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return "Control character in mailbox name";
    if (code === 0x2f) return "Mailbox name may not contain /";
  }
  return null;
}
