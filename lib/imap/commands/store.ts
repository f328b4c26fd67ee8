/*
 * store — STORE and UID STORE (RFC 3501 §6.4.6) with CONDSTORE's UNCHANGEDSINCE and
 * [MODIFIED] (RFC 7162 §3.1.3).
 *
 * Without .SILENT every message the command names gets an untagged FETCH with its FLAGS
 * (and UID, and MODSEQ when CONDSTORE is on), even when nothing changed, so clients that
 * track flags never miss a state; with .SILENT only changes made by others are reported.
 * Talks to: FolderSession.store; ctx.refresh sends the FETCH responses.
 * Security: flags are checked (flags.ts) before they reach a file name.
 */
import { bad, type CommandHandler, no, ok, storageFailure } from "./context.js";
import { checkFlags } from "./flags.js";
import { resolveSet } from "./sequence.js";

export const storeCommand: CommandHandler<"STORE"> = async (cmd, ctx) => {
  const sel = ctx.selected;
  if (sel === null) return bad("No mailbox selected.");
  if (sel.readOnly) return no("Mailbox is read-only.");
  const named = resolveSet(sel.folder, cmd.set, cmd.uid, sel.saved);
  if (!named.ok) return bad(`Error in IMAP command ${cmd.uid ? "UID " : ""}STORE: ${named.text}`);
  const flags = checkFlags(cmd.flags, sel.folder.keywords);
  if (!flags.ok) return bad(`Error in IMAP command ${cmd.uid ? "UID " : ""}STORE: ${flags.text}`);
  if (cmd.unchangedSince !== null) ctx.enableCondstore();
  const uids = named.messages.filter((m) => !sel.folder.isExpunged(m.uid)).map((m) => m.uid);
  let failed: number[];
  try {
    ({ failed } = await sel.folder.store(uids, {
      mode: cmd.mode,
      flags: flags.flags,
      ...(cmd.unchangedSince !== null ? { unchangedSince: Number(cmd.unchangedSince) } : {}),
    }));
  } catch (err) {
    return storageFailure(ctx, err, `store in ${sel.name}`);
  }
  const refused = new Set(failed);
  const changed = new Set(uids.filter((u) => !refused.has(u)));
  await ctx.refresh({
    expunges: cmd.uid,
    ...(cmd.silent ? { quiet: changed } : { always: changed }),
  });
  if (failed.length > 0) {
    const numbers = cmd.uid ? failed : failed.map((u) => sel.folder.seqOf(u) ?? 0).filter((n) => n > 0);
    return ok("Conditional store failed.", { name: "MODIFIED", numbers });
  }
  const gone = named.messages.length !== uids.length;
  return gone
    ? no("Some of the requested messages no longer exist.", { name: "EXPUNGEISSUED" })
    : ok("Store completed.");
};
