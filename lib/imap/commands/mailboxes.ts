/*
 * mailboxes — CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 3501 §6.3.3–7).
 * The folder rules (INBOX cannot be deleted, RENAME INBOX moves its messages, children move
 * along, DELETE of a folder with children is refused) are MailStore's; this file maps them
 * to Dovecot's replies. Deleting the selected mailbox deselects it first.
 * Talks to: lib/mailbox MailStore. Security: names through names.ts.
 */
import { type CommandHandler, no, ok, storageFailure } from "./context.js";
import { mailboxName } from "./names.js";

export const createCommand: CommandHandler<"CREATE"> = async (cmd, ctx) => {
  const sep = ctx.settings.separator;
  const raw =
    cmd.mailbox.endsWith(sep) && cmd.mailbox.length > sep.length
      ? cmd.mailbox.slice(0, -sep.length)
      : cmd.mailbox;
  const named = mailboxName(ctx, raw);
  if (!named.ok) return named.result;
  if (named.name === "INBOX") return no("Mailbox already exists.", { name: "ALREADYEXISTS" });
  try {
    await ctx.store.create(named.name);
  } catch (err) {
    return storageFailure(ctx, err, `create ${named.name}`);
  }
  return ok("Create completed.");
};

export const deleteCommand: CommandHandler<"DELETE"> = async (cmd, ctx) => {
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  if (named.name === "INBOX") return no("INBOX can't be deleted.", { name: "CANNOT" });
  if (ctx.selected?.name === named.name) ctx.setSelected(null);
  try {
    await ctx.store.delete(named.name);
  } catch (err) {
    return storageFailure(ctx, err, `delete ${named.name}`);
  }
  return ok("Delete completed.");
};

export const renameCommand: CommandHandler<"RENAME"> = async (cmd, ctx) => {
  const from = mailboxName(ctx, cmd.from);
  if (!from.ok) return from.result;
  const to = mailboxName(ctx, cmd.to);
  if (!to.ok) return to.result;
  const sep = ctx.settings.separator;
  if (
    ctx.selected !== null &&
    (ctx.selected.name === from.name || ctx.selected.name.startsWith(from.name + sep))
  )
    if (from.name !== "INBOX") ctx.setSelected(null);
  try {
    await ctx.store.rename(from.name, to.name);
  } catch (err) {
    return storageFailure(ctx, err, `rename ${from.name} to ${to.name}`);
  }
  return ok("Rename completed.");
};

export const subscribeCommand: CommandHandler<"SUBSCRIBE"> = async (cmd, ctx) => {
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  try {
    await ctx.store.subscribe(named.name);
  } catch (err) {
    return storageFailure(ctx, err, `subscribe ${named.name}`);
  }
  return ok("Subscribe completed.");
};

export const unsubscribeCommand: CommandHandler<"UNSUBSCRIBE"> = async (cmd, ctx) => {
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  try {
    await ctx.store.unsubscribe(named.name);
  } catch (err) {
    // Dovecot answers OK for a name that was not subscribed; so does RFC 3501's spirit.
    if (!(err instanceof Error && "kind" in err && err.kind === "notFound"))
      return storageFailure(ctx, err, `unsubscribe ${named.name}`);
  }
  return ok("Unsubscribe completed.");
};
