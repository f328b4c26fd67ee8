/*
 * list — LIST and LSUB (RFC 3501 §6.3.8–9) with LIST-EXTENDED (RFC 5258: selection
 * SUBSCRIBED, RECURSIVEMATCH, SPECIAL-USE; RETURN SUBSCRIBED, CHILDREN, SPECIAL-USE),
 * LIST-STATUS (RFC 5819) and SPECIAL-USE attributes (RFC 6154).
 *
 * Patterns: reference and pattern are joined (Dovecot's rule), "*" matches anything, "%"
 * anything but the hierarchy separator; INBOX matches case-insensitively. LIST "" "" answers
 * the hierarchy delimiter. LSUB lists subscribed names, and a parent of a subscribed name
 * that "%" stops at as \Noselect (RFC 3501 §6.3.9).
 * Talks to: MailStore.list, status.ts. Security: patterns are only matched against names
 * the store listed; they never reach a path.
 */

import type { FolderEntry } from "../../mailbox/folders.js";
import { decodeMutf7 } from "../../mailbox/mutf7.js";
import { type CommandHandler, type ImapContext, ok, storageFailure } from "./context.js";
import { sendStatus } from "./status.js";

function decoded(text: string): string {
  const r = decodeMutf7(text);
  return r.ok ? r.value : text;
}

/** A matcher for one pattern (already joined with its reference). */
export function patternMatcher(pattern: string, separator: string): (name: string) => boolean {
  const re = patternRegExp(pattern, separator, "u");
  // INBOX matches whatever case the client wrote it in (RFC 3501 §5.1).
  const inboxLevel = /^inbox/i.test(pattern)
    ? patternRegExp(`INBOX${pattern.slice(5)}`, separator, "u")
    : null;
  const inboxOnly = patternRegExp(pattern, separator, "iu");
  return (name: string) => {
    if (re.test(name)) return true;
    if (name === "INBOX") return inboxOnly.test(name);
    return name.startsWith(`INBOX${separator}`) && inboxLevel?.test(name) === true;
  };
}

function patternRegExp(pattern: string, separator: string, flags: string): RegExp {
  let source = "";
  for (const ch of pattern) {
    if (ch === "*") source += "[\\s\\S]*";
    else if (ch === "%") source += `(?:(?!${escapeRegExp(separator)})[\\s\\S])*`;
    else source += escapeRegExp(ch);
  }
  return new RegExp(`^${source}$`, flags);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

function joinReference(reference: string, pattern: string): string {
  return decoded(reference) + decoded(pattern);
}

export const listCommand: CommandHandler<"LIST"> = async (cmd, ctx) => {
  const sep = ctx.settings.separator;
  if (cmd.patterns.length === 1 && cmd.patterns[0] === "" && cmd.selection.length === 0) {
    await ctx.send({ type: "LIST", attributes: ["\\Noselect"], delimiter: sep, mailbox: "" });
    return ok("List completed.");
  }
  try {
    const entries = await ctx.store.list();
    const matchers = cmd.patterns.map((p) => patternMatcher(joinReference(cmd.reference, p), sep));
    const subscribedOnly = cmd.selection.includes("SUBSCRIBED");
    const specialOnly = cmd.selection.includes("SPECIAL-USE");
    const showSubscribed = subscribedOnly || cmd.returns.subscribed;
    const matches = (name: string) => matchers.some((m) => m(name));
    const candidates = subscribedOnly ? await subscribedEntries(ctx, entries) : entries;
    const childInfo =
      subscribedOnly && cmd.selection.includes("RECURSIVEMATCH")
        ? subscribedBelow(candidates, entries, matches, sep)
        : new Map<string, FolderEntry>();
    const listed = [...candidates, ...[...childInfo.values()].filter((e) => !candidates.includes(e))];
    listed.sort((a, b) =>
      a.name === "INBOX" ? -1 : b.name === "INBOX" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const entry of listed) {
      if (!matches(entry.name)) continue;
      if (specialOnly && !entry.attributes.some(isSpecialUse)) continue;
      const attributes = entry.attributes.filter((a) => showSubscribed || a !== "\\Subscribed");
      await ctx.send({
        type: "LIST",
        attributes,
        delimiter: sep,
        mailbox: entry.name,
        ...(childInfo.has(entry.name) ? { childInfo: ["SUBSCRIBED"] } : {}),
      });
      const selectable = !attributes.includes("\\Noselect") && !attributes.includes("\\NonExistent");
      if (cmd.returns.status !== null && selectable) await sendStatus(ctx, entry.name, cmd.returns.status);
    }
  } catch (err) {
    return storageFailure(ctx, err, "list");
  }
  return ok("List completed.");
};

const SPECIAL = new Set(["\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\All", "\\Archive", "\\Flagged"]);
const isSpecialUse = (a: string): boolean => SPECIAL.has(a);

/**
 * RECURSIVEMATCH (RFC 5258 §3.5): mailboxes the pattern matches that have a subscribed
 * descendant the pattern does not match — they are listed (subscribed or not) with
 * CHILDINFO ("SUBSCRIBED"), so "%" still shows where subscriptions are.
 */
function subscribedBelow(
  subscribed: readonly FolderEntry[],
  all: readonly FolderEntry[],
  matches: (name: string) => boolean,
  sep: string,
): Map<string, FolderEntry> {
  const byName = new Map(all.map((e) => [e.name, e]));
  const out = new Map<string, FolderEntry>();
  for (const sub of subscribed) {
    const levels = sub.name.split(sep);
    for (let depth = 1; depth < levels.length; depth++) {
      const parent = levels.slice(0, depth).join(sep);
      if (!matches(parent) || matches(sub.name)) continue;
      const known = subscribed.find((e) => e.name === parent) ?? byName.get(parent);
      out.set(parent, known ?? { name: parent, attributes: ["\\NonExistent"] });
    }
  }
  return out;
}

/** LIST (SUBSCRIBED): every subscribed name, existing or not (RFC 5258 §3.1). */
async function subscribedEntries(ctx: ImapContext, entries: readonly FolderEntry[]): Promise<FolderEntry[]> {
  const byName = new Map(entries.map((e) => [e.name, e]));
  const subs = await ctx.store.subscriptions();
  return subs.sort().map((name) => {
    const known = byName.get(name);
    if (known !== undefined) return known;
    return { name, attributes: ["\\NonExistent", "\\Subscribed"] };
  });
}

export const lsubCommand: CommandHandler<"LSUB"> = async (cmd, ctx) => {
  const sep = ctx.settings.separator;
  try {
    const full = joinReference(cmd.reference, cmd.pattern);
    const match = patternMatcher(full, sep);
    const existing = new Map((await ctx.store.list()).map((e) => [e.name, e]));
    const subs = await ctx.store.subscriptions();
    const sent = new Set<string>();
    for (const name of subs.sort()) {
      const levels = name.split(sep);
      for (let depth = 1; depth <= levels.length; depth++) {
        const prefix = levels.slice(0, depth).join(sep);
        if (sent.has(prefix) || !match(prefix)) continue;
        sent.add(prefix);
        const isSelf = depth === levels.length;
        const entry = existing.get(prefix);
        const noselect = !isSelf || entry === undefined || entry.attributes.includes("\\Noselect");
        await ctx.send({
          type: "LSUB",
          attributes: noselect ? ["\\Noselect"] : [],
          delimiter: sep,
          mailbox: prefix,
        });
      }
    }
  } catch (err) {
    return storageFailure(ctx, err, "lsub");
  }
  return ok("Lsub completed.");
};
