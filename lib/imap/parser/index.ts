/*
 * parser — one framed IMAP command (line text plus literals, from framer.ts) in, a typed
 * command or a BAD reason out.
 *
 * Pure: no session state. Reads the tag, the verb (and "UID verb"), then hands the rest to
 * the verb's grammar from the table in commands.ts. Whether a command is allowed in the
 * current state, or an extension is enabled, is the engine's decision, not the parser's.
 *
 * Talks to: nothing. RFCs: 3501 2.2.1, 6 and 9; the extensions listed in commands.ts.
 * Security: input is hostile; every malformed command becomes data ({ ok: false }) that the
 * engine answers with BAD, and the session goes on. Nothing here throws to the caller.
 */
import type { FramedCommand } from "../framer.js";
import { COMMAND_GRAMMARS } from "./commands.js";
import { ImapSyntaxError, isAstringChar, Reader } from "./reader.js";
import type { ImapCommand } from "./types.js";

export type ParseResult =
  | { readonly ok: true; readonly command: ImapCommand }
  | {
      readonly ok: false;
      /** null when the tag itself is missing or malformed: answer with "* BAD". */
      readonly tag: string | null;
      /** The verb as understood (upper case), null if none. */
      readonly verb: string | null;
      readonly text: string;
    };

const isTagChar = (byte: number): boolean => byte !== 0x2b && isAstringChar(byte);

function bad(tag: string | null, verb: string | null, text: string): ParseResult {
  return { ok: false, tag, verb, text };
}

export function parseCommand(framed: FramedCommand): ParseResult {
  const r = new Reader(framed);
  const tag = r.run(isTagChar);
  if (tag === "" || !r.accept(0x20)) return bad(null, null, "Error in IMAP tag.");
  let verb = r.run(isAstringChar).toUpperCase();
  if (verb === "") return bad(tag, null, "Error in IMAP command: missing command name.");
  const uid = verb === "UID";
  if (uid) {
    if (!r.accept(0x20)) return bad(tag, "UID", "Error in IMAP command UID: missing command name.");
    verb = r.run(isAstringChar).toUpperCase();
  }
  const name = uid ? `UID ${verb}` : verb;
  const grammar = COMMAND_GRAMMARS.get(verb);
  if (grammar === undefined || (uid && !grammar.uid)) return bad(tag, name, "Unknown command.");
  try {
    return { ok: true, command: { ...grammar.parse(r, uid), tag } };
  } catch (error: unknown) {
    if (!(error instanceof ImapSyntaxError)) throw error;
    return bad(tag, name, `Error in IMAP command ${name}: ${error.message}.`);
  }
}

/** True when a line received during IDLE is the DONE that ends it (RFC 2177). */
export function isIdleDone(framed: FramedCommand): boolean {
  return framed.literals.length === 0 && framed.line.toString("latin1").toUpperCase() === "DONE";
}

/** A line received during AUTHENTICATE: the base64 response, or "*" to cancel (RFC 3501 6.2.2). */
export function saslResponse(
  framed: FramedCommand,
): { cancel: true } | { cancel: false; base64: string } | null {
  const text = framed.line.toString("latin1");
  if (framed.literals.length > 0) return null;
  if (text === "*") return { cancel: true };
  return /^[A-Za-z0-9+/]*={0,2}$/.test(text) ? { cancel: false, base64: text } : null;
}

export { ImapSyntaxError } from "./reader.js";
export type * from "./types.js";
