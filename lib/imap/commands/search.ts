/*
 * search — SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8), with ESEARCH result options
 * (RFC 4731: RETURN (MIN MAX ALL COUNT)), SEARCHRES (RFC 5182: RETURN (SAVE) and "$") and
 * CONDSTORE's MODSEQ key (RFC 7162 §3.1.5).
 *
 * Each message of the selected view is first judged on what the index knows (search-eval);
 * only messages the cheap keys leave open have their file read (search-message), header
 * first, bodies only if still needed. SENT* days are cached in the folder cache ("sentday"),
 * so a repeated date search opens no file. Messages another session expunged (ghosts, not
 * yet announced) never match text keys; if one had to be read, the reply carries
 * [EXPUNGEISSUED] (RFC 5530), as Dovecot's does.
 * Replies as Dovecot 2.3: "* SEARCH n..." (with " (MODSEQ m)" when a MODSEQ key was used and
 * something matched), "* ESEARCH (TAG "t") [UID] MIN MAX ALL COUNT [MODSEQ]" (MIN/MAX/ALL
 * only when something matched), no ESEARCH when SAVE is the only option, and
 * "OK Search completed." CHARSET other than UTF-8/US-ASCII: NO [BADCHARSET (UTF-8 US-ASCII)].
 * SAVE with only MIN and/or MAX saves just those (RFC 5182 §2.4); a failed SEARCH ... SAVE
 * leaves "$" empty (§2.1).
 * Talks to: the selected FolderSession and FolderCache, ctx.send. The engine refreshes after.
 * Security: storage errors become NO via storageFailure, never an exception to the client.
 */
import type { FolderCache } from "../../mailbox/cache.js";
import { MailError } from "../../mailbox/errors.js";
import type { MessageInfo } from "../../mailbox/folder.js";
import type { SearchReturnOption } from "../parser/types.js";
import type { ImapResponse } from "../serializer/responses.js";
import {
  bad,
  type CommandHandler,
  type CommandOf,
  type ImapContext,
  no,
  ok,
  type SelectedMailbox,
  storageFailure,
} from "./context.js";
import {
  type Candidate,
  compileSearch,
  evaluate,
  localDay,
  type SearchPlan,
  type TextKnowledge,
} from "./search-eval.js";
import { readBodies, readTopHeader } from "./search-message.js";

const CHARSETS = ["UTF-8", "US-ASCII"];
/** FolderCache key of the Date: header's day ("none" without one). */
const SENT_DAY_KEY = "sentday";

interface Match {
  readonly info: MessageInfo;
  readonly seq: number;
}

interface Found {
  readonly matches: readonly Match[];
  /** A message that had to be read was expunged meanwhile. */
  readonly expungeIssued: boolean;
}

async function cachedSentDay(cache: FolderCache, uid: number): Promise<number | "none" | undefined> {
  try {
    const value = await cache.get(uid, SENT_DAY_KEY);
    if (value === "none") return "none";
    return value !== undefined && /^-?\d+$/.test(value) ? Number(value) : undefined;
  } catch {
    return undefined; // an unreadable cache only costs a read of the header
  }
}

/** The answer once the file is known to be gone: no text key matches. */
function withoutFile(plan: SearchPlan, m: Candidate, k: TextKnowledge): boolean {
  k.hits.clear();
  k.headerDone = true;
  k.bodyDone = true;
  k.sentDay ??= localDay(m.info.internalDate);
  return evaluate(plan, m, k) === true;
}

/** Reads what the open keys need; returns the answer. */
async function readAndDecide(plan: SearchPlan, selected: SelectedMailbox, m: Candidate, k: TextKnowledge) {
  const { folder, cache } = selected;
  const uid = m.info.uid;
  const needHeader =
    plan.tests.some((t) => t.scope !== "body") || (plan.usesSentDate && k.sentDay === undefined);
  const header = needHeader ? await readTopHeader(folder, uid, plan, k) : { sentDay: null };
  k.headerDone = true;
  if (k.sentDay === undefined) {
    k.sentDay = header.sentDay ?? localDay(m.info.internalDate);
    if (plan.usesSentDate)
      await cache
        .set(uid, SENT_DAY_KEY, header.sentDay === null ? "none" : String(header.sentDay))
        .catch(() => {
          // the cache is an optimisation; a read-only folder simply stays uncached
        });
  }
  const known = evaluate(plan, m, k);
  if (known !== undefined) return known;
  await readBodies(folder, uid, { plan, k, settled: () => evaluate(plan, m, k) !== undefined });
  k.bodyDone = true;
  return evaluate(plan, m, k) === true;
}

async function matchOne(
  plan: SearchPlan,
  selected: SelectedMailbox,
  m: Candidate,
): Promise<{ match: boolean; lost: boolean }> {
  const k: TextKnowledge = { sentDay: undefined, hits: new Set(), headerDone: false, bodyDone: false };
  const first = evaluate(plan, m, k);
  if (first !== undefined) return { match: first, lost: false };
  if (plan.usesSentDate) {
    const cached = await cachedSentDay(selected.cache, m.info.uid);
    if (cached !== undefined) {
      k.sentDay = cached === "none" ? localDay(m.info.internalDate) : cached;
      const known = evaluate(plan, m, k);
      if (known !== undefined) return { match: known, lost: false };
    }
  }
  if (m.ghost) return { match: withoutFile(plan, m, k), lost: true };
  try {
    return { match: await readAndDecide(plan, selected, m, k), lost: false };
  } catch (err) {
    if (err instanceof MailError && err.kind === "notFound")
      return { match: withoutFile(plan, m, k), lost: true };
    throw err;
  }
}

async function findMatches(plan: SearchPlan, selected: SelectedMailbox): Promise<Found> {
  const folder = selected.folder;
  const messages = folder.messages; // the snapshot the sequence numbers refer to
  const matches: Match[] = [];
  let expungeIssued = false;
  for (let i = 0; i < messages.length; i++) {
    const info = messages[i] as MessageInfo;
    const m: Candidate = {
      info,
      seq: i + 1,
      recent: folder.isRecent(info.uid),
      ghost: folder.isExpunged(info.uid),
    };
    const { match, lost } = await matchOne(plan, selected, m);
    if (lost) expungeIssued = true;
    if (match) matches.push({ info, seq: i + 1 });
  }
  return { matches, expungeIssued };
}

const highestModseq = (ms: readonly Match[]): bigint =>
  ms.reduce((high, m) => (BigInt(m.info.modseq) > high ? BigInt(m.info.modseq) : high), 0n);

/** The ESEARCH response (null: SAVE alone asks for none) and the UIDs SAVE keeps. */
function esearch(
  command: CommandOf<"SEARCH">,
  plan: SearchPlan,
  matches: readonly Match[],
  options: ReadonlySet<SearchReturnOption>,
): { response: ImapResponse | null; saved: number[] } {
  const id = (m: Match): number => (command.uid ? m.info.uid : m.seq);
  const minMaxOnly =
    (options.has("MIN") || options.has("MAX")) && !options.has("ALL") && !options.has("COUNT");
  const first = matches[0];
  const last = matches[matches.length - 1];
  const chosen = !minMaxOnly
    ? matches
    : [...new Set([options.has("MIN") ? first : undefined, options.has("MAX") ? last : undefined])].filter(
        (m): m is Match => m !== undefined,
      );
  const saved = chosen.map((m) => m.info.uid);
  if (options.size === 1 && options.has("SAVE")) return { response: null, saved };
  const modseq = plan.usesModseq && chosen.length > 0 ? highestModseq(chosen) : undefined;
  const response: ImapResponse = {
    type: "ESEARCH",
    tag: command.tag,
    uid: command.uid,
    ...(first !== undefined && options.has("MIN") ? { min: id(first) } : {}),
    ...(last !== undefined && options.has("MAX") ? { max: id(last) } : {}),
    ...(options.has("COUNT") ? { count: matches.length } : {}),
    ...(options.has("ALL") && matches.length > 0 ? { all: matches.map(id) } : {}),
    ...(modseq !== undefined ? { modseq } : {}),
  };
  return { response, saved };
}

async function sendResults(
  command: CommandOf<"SEARCH">,
  ctx: ImapContext,
  selected: SelectedMailbox,
  found: { readonly plan: SearchPlan; readonly matches: readonly Match[] },
): Promise<void> {
  const { plan, matches } = found;
  if (command.returns === null) {
    const numbers = matches.map((m) => (command.uid ? m.info.uid : m.seq));
    const modseq = plan.usesModseq && matches.length > 0 ? highestModseq(matches) : null;
    await ctx.send({ type: "SEARCH", numbers, modseq });
    return;
  }
  const options = new Set<SearchReturnOption>(command.returns.length === 0 ? ["ALL"] : command.returns);
  const { response, saved } = esearch(command, plan, matches, options);
  if (options.has("SAVE")) selected.saved = saved;
  if (response !== null) await ctx.send(response);
}

export const searchCommand: CommandHandler<"SEARCH"> = async (command, ctx) => {
  const selected = ctx.selected;
  if (selected === null) return bad("No mailbox selected.");
  const saving = command.returns?.includes("SAVE") === true;
  if (command.charset !== null && !CHARSETS.includes(command.charset.toUpperCase())) {
    if (saving) selected.saved = [];
    return no("Unknown charset", { name: "BADCHARSET", charsets: CHARSETS });
  }
  const folder = selected.folder;
  const plan = compileSearch(command.criteria, {
    messageCount: folder.messages.length,
    lastUid: folder.messages[folder.messages.length - 1]?.uid ?? 0,
    saved: selected.saved,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  if (plan.usesModseq && !ctx.condstore) ctx.enableCondstore();
  let found: Found;
  try {
    found = await findMatches(plan, selected);
  } catch (err) {
    if (saving) selected.saved = [];
    return storageFailure(ctx, err, `SEARCH in ${selected.name}`);
  }
  await sendResults(command, ctx, selected, { plan, matches: found.matches });
  return ok("Search completed.", found.expungeIssued ? { name: "EXPUNGEISSUED" } : null);
};
