/*
 * fetch — the FETCH and UID FETCH commands (RFC 3501 §6.4.5, §6.4.8): one untagged FETCH
 * response per message, sent one at a time through ctx.send (so a slow client holds back
 * the reading of the next message), in ascending order.
 *
 * \Seen: a non-PEEK body item on a read-write mailbox marks the unseen messages \Seen in one
 * store() before anything is sent; the refresh that follows is told to keep quiet about them
 * (their FLAGS, and with CONDSTORE their UID and MODSEQ, go in the FETCH response itself, as
 * Dovecot does) so the client does not get a second FETCH FLAGS. EXAMINE never sets \Seen.
 * CHANGEDSINCE (RFC 7162 §3.1.4.1) answers only the messages with a higher MODSEQ and adds
 * MODSEQ; it and the MODSEQ item enable CONDSTORE. Messages expunged by another session
 * meanwhile are answered as far as the index allows: OK [EXPUNGEISSUED] (RFC 2180 §4.1.3).
 * Talks to: the selected FolderSession and FolderCache through fetch-items, the engine's
 * ImapContext. RFCs: 3501, 7162, 3516, 2180.
 * Security: sequence sets are resolved against the snapshot (sequence.ts); only the
 * selected mailbox's own files are read; storage errors become NO, never a stack trace.
 */
import { sortFlags } from "../../mailbox/flags.js";
import { type MessageInfo, withFlags } from "../../mailbox/folder.js";
import { bad, type CommandHandler, type ImapContext, no, ok, type SelectedMailbox } from "./context.js";
import { MessageAnswer } from "./fetch-items.js";
import { type FetchPlan, type PlannedItem, planFetch } from "./fetch-plan.js";
import { indexText, WireBatch, wholeMessagesOnly } from "./fetch-whole.js";
import { resolveSet } from "./sequence.js";

const SEEN = "\\Seen";

export const fetchCommand: CommandHandler<"FETCH"> = async (command, ctx) => {
  const selected = ctx.selected;
  if (selected === null) return bad("No mailbox selected.");
  const verb = command.uid ? "UID FETCH" : "FETCH";
  const resolved = resolveSet(selected.folder, command.set, command.uid, selected.saved);
  if (!resolved.ok) return bad(`Error in IMAP command ${verb}: ${resolved.text}`);
  const plan = planFetch(command);
  if (plan.enablesCondstore) ctx.enableCondstore();
  const since = command.changedSince;
  const messages =
    since === null ? resolved.messages : resolved.messages.filter((m) => BigInt(m.modseq) > since);
  const writable = !selected.readOnly && !selected.folder.readOnly;
  const seenNow = plan.setsSeen && writable ? await markSeen(ctx, selected, messages) : new Set<number>();
  if (seenNow.size === 0 && plan.items.every((i) => i.kind === "index")) {
    await sendIndexOnly(ctx, selected, plan, messages);
    return ok("Fetch completed.");
  }
  let expunged = false;
  let failed = false;
  const batch = wholeMessagesOnly(plan.items) ? new WireBatch(ctx) : null;
  for (const message of messages) {
    const target = { message, seenNow: seenNow.has(message.uid) };
    if (batch !== null && (await answerWhole(ctx, selected, plan, target, batch))) continue;
    await batch?.flush();
    const outcome = await answer(ctx, selected, plan, target);
    expunged ||= outcome.expunged;
    failed ||= outcome.failed;
  }
  await batch?.finish();
  if (failed)
    return no("Internal error occurred. Refer to server log for more information.", { name: "SERVERBUG" });
  if (expunged) return ok("Some messages were already expunged.", { name: "EXPUNGEISSUED" });
  return ok("Fetch completed.");
};

/**
 * Sets \Seen on the unseen, still present messages; returns the UIDs that now carry it. The
 * session's snapshot is refreshed (quietly for these UIDs) so their new flags and MODSEQ are
 * what the responses show.
 */
async function markSeen(
  ctx: ImapContext,
  selected: SelectedMailbox,
  messages: readonly MessageInfo[],
): Promise<Set<number>> {
  const folder = selected.folder;
  const unseen = messages
    .filter((m) => !m.flags.includes(SEEN) && !folder.isExpunged(m.uid))
    .map((m) => m.uid);
  if (unseen.length === 0) return new Set();
  try {
    await folder.store(unseen, { mode: "add", flags: [SEEN] });
    await ctx.refresh({ expunges: false, quiet: new Set(unseen) });
  } catch (err) {
    // the client still gets its data; only the implicit \Seen is lost
    ctx.logError(
      `FETCH: setting \\Seen in ${selected.name}: ${err instanceof Error ? err.message : String(err)}`,
    );
    return new Set();
  }
  return new Set(unseen.filter((uid) => !folder.isExpunged(uid)));
}

/**
 * FETCH of index items only (FLAGS, UID, ...: what clients ask for every message of a big
 * folder): the lines are written as text in batches, without building response objects.
 * The bytes are the same as the general path's. A FETCH of every message of the shared
 * view (folder.viewKey) with nothing \Recent in this session is answered from wire bytes
 * rendered once per view and item list (renderedIndex), so a client that asks for
 * FETCH 1:* (FLAGS) of an unchanged folder again gets the same bytes without a re-render.
 */
async function sendIndexOnly(
  ctx: ImapContext,
  selected: SelectedMailbox,
  plan: FetchPlan,
  messages: readonly MessageInfo[],
): Promise<void> {
  const folder = selected.folder;
  const items = plan.items.filter((i): i is Extract<PlannedItem, { kind: "index" }> => i.kind === "index");
  const view = wholeView(folder, messages);
  if (view !== undefined) {
    for (const chunk of renderedIndex(view, folder.messages, items))
      await ctx.sendWire(chunk.bytes, chunk.ends);
    return;
  }
  let batch = "";
  for (const listed of messages) {
    const seq = folder.seqOf(listed.uid);
    if (seq === undefined) continue;
    const m = folder.byUid(listed.uid) ?? listed;
    const recent = folder.isRecent(m.uid);
    let line = `* ${seq} FETCH (`;
    for (let i = 0; i < items.length; i++)
      line += (i === 0 ? "" : " ") + indexText(items[i] as (typeof items)[number], m, recent);
    batch += `${line})\r\n`;
    if (batch.length >= 64 * 1024) {
      await ctx.sendText(batch);
      batch = "";
    }
  }
  if (batch !== "") await ctx.sendText(batch);
}

type IndexPlanItem = Extract<PlannedItem, { kind: "index" }>;

/** Index-only FETCH answers in wire form, sent chunk by chunk (`ends`: where each response ends). */
interface WireChunk {
  readonly bytes: Buffer;
  readonly ends: readonly number[];
}

/** Rendered chunks of this size or more are written as they are, without a copy (mail-engine). */
const RENDERED_CHUNK = 256 * 1024;
/** Text is turned into bytes this much at a time: a longer string would go to V8's large-object space. */
const RENDERED_PIECE = 32 * 1024;

/**
 * The index-only answer to a FETCH of every message, by shared view (one item list per
 * view: the one asked last). Views are immutable (a flag change makes a new one), so the
 * bytes stay right as long as the view lives, and go with it.
 */
const rendered = new WeakMap<object, { readonly key: string; readonly chunks: readonly WireChunk[] }>();

/**
 * The shared view when `messages` is every message it holds, in order, and none is \Recent
 * in this session (\Recent is the session's own: such lines are rendered for it alone).
 */
function wholeView(folder: SelectedMailbox["folder"], messages: readonly MessageInfo[]): object | undefined {
  const view = folder.viewKey;
  const all = folder.messages;
  if (view === undefined || folder.recentCount > 0 || messages.length !== all.length || all.length === 0)
    return undefined;
  if (messages === all) return view;
  for (let i = 0; i < all.length; i++) if (messages[i] !== all[i]) return undefined;
  return view;
}

function renderedIndex(
  view: object,
  all: readonly MessageInfo[],
  items: readonly IndexPlanItem[],
): readonly WireChunk[] {
  const key = items.map((i) => i.name).join(" ");
  const known = rendered.get(view);
  if (known !== undefined && known.key === key) return known.chunks;
  const chunks: WireChunk[] = [];
  let pieces: Buffer[] = [];
  let piecesBytes = 0;
  let ends: number[] = [];
  let text = "";
  const endChunk = () => {
    chunks.push({
      bytes: pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, piecesBytes),
      ends,
    });
    pieces = [];
    piecesBytes = 0;
    ends = [];
  };
  for (let n = 0; n < all.length; n++) {
    const m = all[n] as MessageInfo;
    let line = `* ${n + 1} FETCH (`;
    for (let i = 0; i < items.length; i++)
      line += (i === 0 ? "" : " ") + indexText(items[i] as IndexPlanItem, m, false);
    text += `${line})\r\n`;
    ends.push(piecesBytes + text.length); // atoms and numbers: one byte per character
    if (text.length >= RENDERED_PIECE) {
      pieces.push(Buffer.from(text, "latin1"));
      piecesBytes += text.length;
      text = "";
      if (piecesBytes >= RENDERED_CHUNK) endChunk();
    }
  }
  if (text !== "") {
    pieces.push(Buffer.from(text, "latin1"));
    piecesBytes += text.length;
  }
  if (piecesBytes > 0) endChunk();
  rendered.set(view, { key, chunks });
  return chunks;
}

interface Target {
  readonly message: MessageInfo;
  /** This FETCH set the message's \Seen. */
  readonly seenNow: boolean;
}

/** The message as the response shows it: the snapshot's, with the \Seen this FETCH set. */
function currentInfo(selected: SelectedMailbox, target: Target): MessageInfo {
  const info = selected.folder.byUid(target.message.uid) ?? target.message;
  if (target.seenNow && !info.flags.includes(SEEN)) return withFlags(info, sortFlags([...info.flags, SEEN]));
  return info;
}

/**
 * A whole-message response through the batch (fetch-whole); false when this message needs
 * the general path (gone, a ghost, a big or renamed file).
 */
async function answerWhole(
  ctx: ImapContext,
  selected: SelectedMailbox,
  plan: FetchPlan,
  target: Target,
  batch: WireBatch,
): Promise<boolean> {
  const folder = selected.folder;
  const uid = target.message.uid;
  const seq = folder.seqOf(uid);
  if (seq === undefined || folder.isExpunged(uid)) return false;
  const items = target.seenNow ? plan.seenItems(ctx.condstore) : plan.items;
  return batch.add(folder, { seq, info: currentInfo(selected, target), items });
}

/** Builds and sends one message's FETCH response. */
async function answer(
  ctx: ImapContext,
  selected: SelectedMailbox,
  plan: FetchPlan,
  target: Target,
): Promise<{ expunged: boolean; failed: boolean }> {
  const folder = selected.folder;
  const uid = target.message.uid;
  const info = currentInfo(selected, target);
  const seq = folder.seqOf(uid);
  if (seq === undefined) return { expunged: true, failed: false };
  const items = target.seenNow ? plan.seenItems(ctx.condstore) : plan.items;
  const message = new MessageAnswer(
    { folder, cache: selected.cache, logError: (t) => ctx.logError(t) },
    info,
  );
  // index items and cached structures need neither the file nor a wait for the cache
  const now = message.itemsNow(items);
  if (now !== undefined) {
    await ctx.send({ type: "FETCH", seq, items: now });
    return message.outcome;
  }
  try {
    await ctx.send({ type: "FETCH", seq, items: await message.items(items) });
  } finally {
    await message.close();
  }
  return message.outcome;
}
