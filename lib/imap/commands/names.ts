/*
 * names — a mailbox name from the client (modified UTF-7, imap_hierarchy_separator) to the
 * store's canonical UTF-8 name, or the NO the command answers.
 * Talks to: mailbox-name.ts (the safety check), MailStore.normalize.
 * Security: the only way a client's mailbox name reaches lib/mailbox.
 */
import { MailError } from "../../mailbox/errors.js";
import { checkMailboxName, DEFAULT_MAILBOX_NAME_LIMITS } from "../mailbox-name.js";
import { type CommandResult, type ImapContext, no } from "./context.js";

export type NameResult =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly result: CommandResult };

export function mailboxName(ctx: ImapContext, encoded: string): NameResult {
  const checked = checkMailboxName(encoded, {
    ...DEFAULT_MAILBOX_NAME_LIMITS,
    separator: ctx.settings.separator,
  });
  if (!checked.ok) return { ok: false, result: no(`${checked.reason}.`, { name: "CANNOT" }) };
  try {
    return { ok: true, name: ctx.store.normalize(checked.name) };
  } catch (err) {
    if (err instanceof MailError)
      return { ok: false, result: no("Invalid mailbox name.", { name: "CANNOT" }) };
    throw err;
  }
}
