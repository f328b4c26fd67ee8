/*
 * append — APPEND (RFC 3501 §6.3.11) with MULTIAPPEND (RFC 3502), UIDPLUS's
 * [APPENDUID validity uids] (RFC 4315) and APPENDLIMIT (RFC 7889): flags and INTERNALDATE
 * as the client gave them. All messages of one command are stored, or none is reported as
 * stored: a failure part-way reports NO and the ones already written stay (as Dovecot
 * without MULTIAPPEND transactions). A folder that does not exist is NO [TRYCREATE].
 * The literal size limit (mail_max_size) is enforced by the framer before any byte is read.
 * Talks to: MailStore.append (tmp/ → fsync → cur/, numbered under the folder lock).
 */
import { bad, type CommandHandler, no, ok, storageFailure } from "./context.js";
import { checkFlags } from "./flags.js";
import { mailboxName } from "./names.js";

export const appendCommand: CommandHandler<"APPEND"> = async (cmd, ctx) => {
  const named = mailboxName(ctx, cmd.mailbox);
  if (!named.ok) return named.result;
  const limit = ctx.settings.appendLimit;
  for (const m of cmd.messages) {
    const flags = checkFlags(m.flags, []);
    if (!flags.ok) return bad(`Error in IMAP command APPEND: ${flags.text}`);
    if (m.message.length === 0) return no("Can't save a zero byte message.");
    if (limit > 0 && m.message.length > limit)
      return no("Message size exceeds the limit.", { name: "TOOBIG" });
  }
  const uids: number[] = [];
  let validity = 0;
  try {
    if (!(await ctx.store.exists(named.name)))
      return no(`Mailbox doesn't exist: ${named.name}`, { name: "TRYCREATE" });
    for (const m of cmd.messages) {
      const flags = checkFlags(m.flags, []);
      const saved = await ctx.store.append(named.name, m.message, {
        flags: flags.ok ? flags.flags : [],
        ...(m.date !== null ? { internalDate: m.date.date } : {}),
      });
      uids.push(saved.uid);
      validity = saved.uidValidity;
    }
  } catch (err) {
    return storageFailure(ctx, err, `append to ${named.name}`);
  }
  return ok("Append completed.", { name: "APPENDUID", uidValidity: validity, uids });
};
