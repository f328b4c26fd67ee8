/*
 * select — SELECT and EXAMINE (RFC 3501 §6.3.1–2, RFC 7162 §3.1.2 CONDSTORE parameter and
 * HIGHESTMODSEQ), CLOSE, UNSELECT (RFC 3691) and CHECK.
 *
 * SELECT answers, as Dovecot does: FLAGS, PERMANENTFLAGS (empty for EXAMINE), EXISTS,
 * RECENT, UNSEEN (first unseen sequence number, when any), UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ, then the tagged OK with [READ-WRITE] or [READ-ONLY]. Selecting while a
 * mailbox is selected closes it first (untagged OK [CLOSED], RFC 7162 §3.2.11); a failed
 * SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
 * Talks to: lib/mailbox (FolderSession, FolderCache). Security: names through names.ts.
 */
import { FolderCache } from "../../mailbox/cache.js";
import { SYSTEM_FLAGS } from "../../mailbox/flags.js";
import { FolderSession } from "../../mailbox/folder.js";
import type { ResponseCode } from "../serializer/responses.js";
import { type CommandHandler, no, ok, storageFailure } from "./context.js";
import { mailboxName } from "./names.js";

export const selectCommand: CommandHandler<"SELECT" | "EXAMINE"> = async (cmd, ctx) => {
  const readOnly = cmd.name === "EXAMINE";
  if (ctx.selected !== null) {
    ctx.setSelected(null);
    await ctx.send({
      type: "status",
      tag: null,
      status: "OK",
      code: { name: "CLOSED" },
      text: "Previous mailbox closed.",
    });
  }
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  if (cmd.condstore) ctx.enableCondstore();
  let folder: FolderSession;
  try {
    // Opening first: a folder that exists (the usual case) costs no extra stat; one that
    // does not fails to open (its lock file cannot be created) and is told apart here.
    folder = await FolderSession.open(ctx.store.path(named.name), { readOnly });
  } catch (err) {
    if (!(await ctx.store.exists(named.name)))
      return no("Mailbox doesn't exist: " + named.name, { name: "NONEXISTENT" });
    return storageFailure(ctx, err, `select ${named.name}`);
  }
  ctx.setSelected({
    name: named.name,
    folder,
    readOnly,
    cache: new FolderCache(folder.dir, folder.uidValidity),
    saved: [],
  });
  const flags = [...SYSTEM_FLAGS, ...folder.keywords];
  await ctx.send({ type: "FLAGS", flags });
  await ctx.send({
    type: "status",
    tag: null,
    status: "OK",
    code: { name: "PERMANENTFLAGS", flags: readOnly ? [] : [...flags, "\\*"] },
    text: readOnly ? "Read-only mailbox." : "Flags permitted.",
  });
  await ctx.send({ type: "EXISTS", number: folder.messages.length });
  await ctx.send({ type: "RECENT", number: folder.recentCount });
  const firstUnseen = folder.firstUnseenIndex();
  if (firstUnseen >= 0) await untaggedOk(ctx, { name: "UNSEEN", value: firstUnseen + 1 }, `First unseen.`);
  await untaggedOk(ctx, { name: "UIDVALIDITY", value: folder.uidValidity }, "UIDs valid");
  await untaggedOk(ctx, { name: "UIDNEXT", value: folder.uidNext }, "Predicted next UID");
  await untaggedOk(ctx, { name: "HIGHESTMODSEQ", value: BigInt(folder.highestModseq) }, "Highest");
  return ok(readOnly ? "Examine completed." : "Select completed.", {
    name: readOnly ? "READ-ONLY" : "READ-WRITE",
  });
};

function untaggedOk(
  ctx: Parameters<typeof selectCommand>[1],
  code: ResponseCode,
  text: string,
): Promise<void> {
  return ctx.send({ type: "status", tag: null, status: "OK", code, text });
}

/** CLOSE: expunge \Deleted silently (unless read-only), then leave the selected state. */
export const closeCommand: CommandHandler<"CLOSE"> = async (_cmd, ctx) => {
  const sel = ctx.selected;
  if (sel === null) return no("No mailbox selected.");
  ctx.setSelected(null);
  if (!sel.readOnly) {
    try {
      await sel.folder.expunge();
    } catch (err) {
      return storageFailure(ctx, err, `close ${sel.name}`);
    }
  }
  return ok("Close completed.");
};

export const unselectCommand: CommandHandler<"UNSELECT"> = async (_cmd, ctx) => {
  ctx.setSelected(null);
  return ok("Unselect completed.");
};

export const checkCommand: CommandHandler<"CHECK"> = async () => ok("Check completed.");
