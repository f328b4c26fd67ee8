/*
 * status — STATUS (RFC 3501 §6.3.10; RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE, RFC 7889
 * APPENDLIMIT), also used by LIST-STATUS (RFC 5819). Counts come from the folder's index:
 * no message file is opened and no \Recent is claimed.
 * Talks to: lib/mailbox folderStatus. Security: names through names.ts.
 */
import { folderStatus } from "../../mailbox/transfer.js";
import type { StatusItem } from "../parser/types.js";
import { type CommandHandler, type ImapContext, no, ok, storageFailure } from "./context.js";
import { mailboxName } from "./names.js";

/** Sends `* STATUS name (...)` for an existing folder; throws MailError when it is gone. */
export async function sendStatus(
  ctx: ImapContext,
  name: string,
  items: readonly StatusItem[],
): Promise<void> {
  const counts = await folderStatus(ctx.store.path(name));
  const values: Record<StatusItem, number | bigint> = {
    MESSAGES: counts.messages,
    RECENT: counts.recent,
    UIDNEXT: counts.uidNext,
    UIDVALIDITY: counts.uidValidity,
    UNSEEN: counts.unseen,
    HIGHESTMODSEQ: BigInt(counts.highestModseq),
    SIZE: counts.size,
    APPENDLIMIT: ctx.settings.appendLimit,
  };
  if (items.includes("HIGHESTMODSEQ")) ctx.enableCondstore();
  await ctx.send({ type: "STATUS", mailbox: name, items: items.map((i) => [i, values[i]] as const) });
}

export const statusCommand: CommandHandler<"STATUS"> = async (cmd, ctx) => {
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  try {
    if (!(await ctx.store.exists(named.name)))
      return no("Mailbox doesn't exist: " + named.name, { name: "NONEXISTENT" });
    await sendStatus(ctx, named.name, cmd.items);
  } catch (err) {
    return storageFailure(ctx, err, `status ${named.name}`);
  }
  return ok("Status completed.");
};
