/*
 * select — SELECT and EXAMINE (RFC 3501 §6.3.1–2, RFC 7162 §3.1.2 CONDSTORE parameter and
 * HIGHESTMODSEQ), CLOSE, UNSELECT (RFC 3691) and CHECK.
 *
 * SELECT answers, as Dovecot does: FLAGS, PERMANENTFLAGS (empty for EXAMINE), EXISTS,
 * RECENT, UNSEEN (first unseen sequence number, when any), UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ, then the tagged OK with [READ-WRITE] or [READ-ONLY]. The untagged part is
 * rendered once per folder view and reused while the folder is unchanged. Selecting while a
 * mailbox is selected closes it first (untagged OK [CLOSED], RFC 7162 §3.2.11); a failed
 * SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
 * Talks to: lib/mailbox (FolderSession, FolderCache). Security: names through names.ts.
 */
import { FolderCache } from "../../mailbox/cache.js";
import { SYSTEM_FLAGS } from "../../mailbox/flags.js";
import { FolderSession } from "../../mailbox/folder.js";
import { type ImapResponse, type ResponseCode, responseBuffer } from "../serializer/responses.js";
import { type CommandHandler, no, ok, storageFailure } from "./context.js";
import { mailboxName } from "./names.js";

const CLOSED = responseBuffer({
  type: "status",
  tag: null,
  status: "OK",
  code: { name: "CLOSED" },
  text: "Previous mailbox closed.",
});

export const selectCommand: CommandHandler<"SELECT" | "EXAMINE"> = async (cmd, ctx) => {
  const readOnly = cmd.name === "EXAMINE";
  if (ctx.selected !== null) {
    ctx.setSelected(null);
    await ctx.sendWire(CLOSED, [CLOSED.length]);
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
  const answer = selectAnswer(folder, readOnly);
  await ctx.sendWire(answer.bytes, answer.ends);
  return ok(readOnly ? "Examine completed." : "Select completed.", {
    name: readOnly ? "READ-ONLY" : "READ-WRITE",
  });
};

interface Rendered {
  readonly bytes: Buffer;
  /** Where each response ends in `bytes`. */
  readonly ends: readonly number[];
}

/**
 * The untagged answers of SELECT / EXAMINE by folder view (FolderSession.viewKey): every
 * session that opens the same index state with the same keywords and no \Recent of its own
 * gets the same bytes, so a repeated SELECT of an unchanged folder encodes nothing.
 */
const rendered = new WeakMap<object, { rw?: Rendered; ro?: Rendered }>();

function selectAnswer(folder: FolderSession, readOnly: boolean): Rendered {
  const key = folder.recentCount === 0 ? folder.viewKey : undefined;
  if (key === undefined) return render(folder, readOnly);
  let known = rendered.get(key);
  if (known === undefined) {
    known = {};
    rendered.set(key, known);
  }
  const hit = readOnly ? known.ro : known.rw;
  if (hit !== undefined) return hit;
  const made = render(folder, readOnly);
  if (readOnly) known.ro = made;
  else known.rw = made;
  return made;
}

function render(folder: FolderSession, readOnly: boolean): Rendered {
  const flags = [...SYSTEM_FLAGS, ...folder.keywords];
  const untaggedOk = (code: ResponseCode, text: string): ImapResponse => ({
    type: "status",
    tag: null,
    status: "OK",
    code,
    text,
  });
  const responses: ImapResponse[] = [
    { type: "FLAGS", flags },
    untaggedOk(
      { name: "PERMANENTFLAGS", flags: readOnly ? [] : [...flags, "\\*"] },
      readOnly ? "Read-only mailbox." : "Flags permitted.",
    ),
    { type: "EXISTS", number: folder.messages.length },
    { type: "RECENT", number: folder.recentCount },
  ];
  const firstUnseen = folder.firstUnseenIndex();
  if (firstUnseen >= 0)
    responses.push(untaggedOk({ name: "UNSEEN", value: firstUnseen + 1 }, "First unseen."));
  responses.push(
    untaggedOk({ name: "UIDVALIDITY", value: folder.uidValidity }, "UIDs valid"),
    untaggedOk({ name: "UIDNEXT", value: folder.uidNext }, "Predicted next UID"),
    untaggedOk({ name: "HIGHESTMODSEQ", value: BigInt(folder.highestModseq) }, "Highest"),
  );
  const parts = responses.map(responseBuffer);
  const ends: number[] = [];
  let at = 0;
  for (const part of parts) {
    at += part.length;
    ends.push(at);
  }
  return { bytes: Buffer.concat(parts, at), ends };
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
