/*
 * copy — COPY, MOVE and their UID forms (RFC 3501 §6.4.7, RFC 6851 MOVE, RFC 4315 COPYUID).
 * COPY answers OK [COPYUID validity source-uids destination-uids]; MOVE sends that code in
 * an untagged OK, then the EXPUNGE responses (ctx.refresh) and its tagged OK. A destination
 * that does not exist is NO [TRYCREATE] (the client may CREATE it and retry).
 * Talks to: lib/mailbox copyMessages / moveMessages (hard links, UIDs in request order).
 */
import { copyMessages, moveMessages } from "../../mailbox/transfer.js";
import { bad, type CommandHandler, no, ok, storageFailure } from "./context.js";
import { mailboxName } from "./names.js";
import { resolveSet } from "./sequence.js";

export const copyCommand: CommandHandler<"COPY" | "MOVE"> = async (cmd, ctx) => {
  const sel = ctx.selected;
  if (sel === null) return bad("No mailbox selected.");
  const verb = `${cmd.uid ? "UID " : ""}${cmd.name}`;
  const named = resolveSet(sel.folder, cmd.set, cmd.uid, sel.saved);
  if (!named.ok) return bad(`Error in IMAP command ${verb}: ${named.text}`);
  const dest = mailboxName(ctx, cmd.mailbox);
  if (!dest.ok) return dest.result;
  const move = cmd.name === "MOVE";
  if (move && sel.readOnly) return no("Mailbox is read-only.");
  const uids = named.messages.filter((m) => !sel.folder.isExpunged(m.uid)).map((m) => m.uid);
  try {
    if (!(await ctx.store.exists(dest.name)))
      return no(`Mailbox doesn't exist: ${dest.name}`, { name: "TRYCREATE" });
    if (uids.length === 0) return ok("No messages found.");
    const destDir = ctx.store.path(dest.name);
    const result = move
      ? await moveMessages(sel.folder, uids, destDir)
      : await copyMessages(sel.folder, uids, destDir);
    const code = {
      name: "COPYUID" as const,
      uidValidity: result.uidValidity,
      source: result.map.map((p) => p.from),
      destination: result.map.map((p) => p.to),
    };
    if (result.map.length === 0)
      return no("Some of the requested messages no longer exist.", { name: "EXPUNGEISSUED" });
    if (!move) return ok("Copy completed.", code);
    await ctx.send({ type: "status", tag: null, status: "OK", code, text: `Moved UIDs.` });
    await ctx.refresh({ expunges: true });
    return ok("Move completed.");
  } catch (err) {
    return storageFailure(ctx, err, `${cmd.name.toLowerCase()} to ${dest.name}`);
  }
};
