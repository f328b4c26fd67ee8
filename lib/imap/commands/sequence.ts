/*
 * sequence — the messages a sequence set names (RFC 3501 §9 sequence-set, RFC 5182 "$"),
 * for FETCH, STORE, COPY, MOVE, SEARCH keys and UID EXPUNGE.
 *
 * Message sequence numbers must exist (a number above EXISTS is the client's error, BAD as
 * Dovecot answers "Invalid messageset"); UIDs need not (RFC 3501 §6.4.8: non-existent UIDs
 * are ignored). "*" is the highest number in use; "n:*" with n above it still names the
 * last message (RFC 3501 §9, seq-range). A range may be written backwards.
 * Talks to: the FolderSession snapshot. Security: client numbers are only compared, never
 * used as indexes without a bounds check.
 */
import type { FolderSession, MessageInfo } from "../../mailbox/folder.js";
import type { SeqNumber, SequenceSet } from "../parser/types.js";

export type Resolved =
  | { readonly ok: true; readonly messages: readonly MessageInfo[] }
  | { readonly ok: false; readonly text: string };

function bound(n: SeqNumber, star: number): number {
  return n === "*" ? star : n;
}

/** Message sequence numbers (1-based) named by a sequence-number set, ascending. */
function bySequence(folder: FolderSession, set: Exclude<SequenceSet, "$">): Resolved {
  const count = folder.messages.length;
  const spans: [number, number][] = [];
  for (const range of set) {
    if (count === 0) return { ok: false, text: "Invalid messageset" };
    const a = bound(range.from, count);
    const b = bound(range.to, count);
    if (a > count || b > count) return { ok: false, text: "Invalid messageset" };
    spans.push([Math.min(a, b), Math.max(a, b)]);
  }
  // ranges in ascending order, each number taken once: no set of every number named
  spans.sort((x, y) => x[0] - y[0]);
  const all = folder.messages;
  // 1:* (the usual FETCH of a whole folder): the snapshot itself, no copy
  if (spans.some(([lo, hi]) => lo === 1 && hi === count)) return { ok: true, messages: all };
  const messages: MessageInfo[] = [];
  let next = 1;
  for (const [lo, hi] of spans) {
    for (let seq = Math.max(lo, next); seq <= hi; seq++) {
      const m = all[seq - 1];
      if (m !== undefined) messages.push(m);
    }
    next = Math.max(next, hi + 1);
  }
  return { ok: true, messages };
}

/** UIDs: only those present; a range is clamped to the UIDs in use. */
function byUid(folder: FolderSession, set: Exclude<SequenceSet, "$">): readonly MessageInfo[] {
  const last = folder.messages[folder.messages.length - 1]?.uid ?? 0;
  const only = set.length === 1 ? set[0] : undefined;
  if (only !== undefined) {
    // one range (UID FETCH 1:*): the snapshot is in UID order already
    const a = bound(only.from, last);
    const b = bound(only.to, last);
    return pickRange(folder, Math.min(a, b), Math.max(a, b));
  }
  const picked = new Map<number, MessageInfo>();
  for (const range of set) {
    const a = bound(range.from, last);
    const b = bound(range.to, last);
    for (const m of pickRange(folder, Math.min(a, b), Math.max(a, b))) picked.set(m.uid, m);
  }
  return [...picked.values()].sort((x, y) => x.uid - y.uid);
}

/** The messages with UIDs lo..hi, ascending. */
function pickRange(folder: FolderSession, lo: number, hi: number): readonly MessageInfo[] {
  const all = folder.messages;
  // UID FETCH 1:* (the usual resync): the snapshot itself, in UID order already, no copy
  if (all.length > 0 && lo <= (all[0] as MessageInfo).uid && hi >= (all[all.length - 1] as MessageInfo).uid)
    return all;
  const out: MessageInfo[] = [];
  if (hi - lo < 64) {
    for (let uid = lo; uid <= hi; uid++) {
      const m = folder.byUid(uid);
      if (m !== undefined) out.push(m);
    }
  } else {
    for (const m of all) if (m.uid >= lo && m.uid <= hi) out.push(m);
  }
  return out;
}

/**
 * The messages named, in ascending order (sequence order = UID order).
 * `saved` is the SEARCHRES result (UIDs) that "$" stands for.
 */
export function resolveSet(
  folder: FolderSession,
  set: SequenceSet,
  uid: boolean,
  saved: readonly number[],
): Resolved {
  if (set === "$") {
    const messages = saved.flatMap((u) => folder.byUid(u) ?? []).sort((x, y) => x.uid - y.uid);
    return { ok: true, messages };
  }
  return uid ? { ok: true, messages: byUid(folder, set) } : bySequence(folder, set);
}
