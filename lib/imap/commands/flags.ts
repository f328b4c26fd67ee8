/*
 * flags — the flag lists of STORE and APPEND checked and put in canonical spelling:
 * system flags any case ("\seen" → "\Seen"), keywords as atoms. \Recent cannot be set by a
 * client (RFC 3501 §2.3.2); an unknown system flag is the client's error (BAD, as Dovecot).
 */
import { canonicalFlag, SYSTEM_FLAGS, validKeyword } from "../../mailbox/flags.js";

const SYSTEM_LOWER = new Set(SYSTEM_FLAGS.map((f) => f.toLowerCase()));

export type FlagsResult =
  | { readonly ok: true; readonly flags: string[] }
  | { readonly ok: false; readonly text: string };

export function checkFlags(flags: readonly string[], keywords: readonly string[]): FlagsResult {
  const out: string[] = [];
  for (const flag of flags) {
    if (flag.startsWith("\\")) {
      if (!SYSTEM_LOWER.has(flag.toLowerCase()))
        return { ok: false, text: `Invalid system flag ${flag.toUpperCase()}` };
    } else if (!validKeyword(flag)) {
      return { ok: false, text: `Invalid keyword ${flag}` };
    }
    const canonical = canonicalFlag(flag, keywords);
    if (!out.includes(canonical)) out.push(canonical);
  }
  return { ok: true, flags: out };
}

/** FLAGS as reported for a message: its flags, plus \Recent when this session owns it. */
export function reportedFlags(flags: readonly string[], recent: boolean): string[] {
  return recent ? [...flags, "\\Recent"] : [...flags];
}
