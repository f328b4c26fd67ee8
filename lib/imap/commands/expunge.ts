/*
 * expunge — EXPUNGE and UID EXPUNGE (RFC 3501 §6.4.3, RFC 4315 §2.1): removes the messages
 * flagged \Deleted (only those in the UID set for UID EXPUNGE); ctx.refresh then sends one
 * EXPUNGE response per removed message, highest sequence number first.
 */
import { bad, type CommandHandler, no, ok, storageFailure } from "./context.js";
import { resolveSet } from "./sequence.js";

export const expungeCommand: CommandHandler<"EXPUNGE"> = async (cmd, ctx) => {
  const sel = ctx.selected;
  if (sel === null) return bad("No mailbox selected.");
  if (sel.readOnly) return no("Mailbox is read-only.");
  let uids: number[] | undefined;
  if (cmd.set !== null) {
    const named = resolveSet(sel.folder, cmd.set, true, sel.saved);
    if (!named.ok) return bad(`Error in IMAP command UID EXPUNGE: ${named.text}`);
    uids = named.messages.map((m) => m.uid);
  }
  try {
    await sel.folder.expunge(uids === undefined ? {} : { uids });
  } catch (err) {
    return storageFailure(ctx, err, `expunge in ${sel.name}`);
  }
  await ctx.refresh({ expunges: true });
  return ok("Expunge completed.");
};
