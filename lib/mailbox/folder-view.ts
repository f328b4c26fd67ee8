/*
 * folder-view — an index state as the sessions of a process see it (folder.ts): one small
 * object per message, reading its fields from the index record, with flags arrays shared
 * per flag set; one view per index state and keyword list, shared by every session that
 * adopts it, and a new view takes over the unchanged messages of the folder's latest one.
 * Talks to: nothing (memory only).
 */
import { parseInfo } from "./flags.js";
import type { Uidlist, UidRecord } from "./uidlist.js";

export interface MessageInfo {
  readonly uid: number;
  readonly base: string;
  /** The file name in cur/ when last seen. */
  readonly file: string;
  readonly flags: readonly string[];
  readonly modseq: number;
  /** Octets as stored (LF form, usually). */
  readonly size: number;
  /** RFC822.SIZE: octets in CRLF form. */
  readonly crlfSize: number;
  readonly internalDate: Date;
}

/**
 * A message as sessions see it: one small object per message holding its UID, its index
 * record and its flags (one frozen array shared by every message with the same info part
 * and keywords); the other fields are read from the record when asked, so a 100,000-message
 * folder costs no file-name string, Date or flags array per message.
 */
class IndexedMessage implements MessageInfo {
  constructor(
    readonly uid: number,
    readonly record: UidRecord,
    readonly flags: readonly string[],
  ) {}

  get base(): string {
    return this.record.base;
  }

  get file(): string {
    const info = this.record.info;
    return info === undefined || info === "" ? this.record.base : `${this.record.base}:${info}`;
  }

  get modseq(): number {
    return this.record.modseq ?? 1;
  }

  get size(): number {
    return this.record.size ?? this.record.crlfSize ?? 0;
  }

  get crlfSize(): number {
    return this.record.crlfSize ?? this.record.size ?? 0;
  }

  get internalDate(): Date {
    return new Date((this.record.internalDate ?? 0) * 1000);
  }
}

/** `info` with other flags, as a plain MessageInfo (FETCH showing the \Seen it just set). */
export function withFlags(info: MessageInfo, flags: readonly string[]): MessageInfo {
  return {
    uid: info.uid,
    base: info.base,
    file: info.file,
    flags,
    modseq: info.modseq,
    size: info.size,
    crlfSize: info.crlfSize,
    internalDate: info.internalDate,
  };
}

/** The flags of each info part, by keyword list: messages share one frozen array per flag set. */
const flagSets = new Map<string, Map<string, readonly string[]>>();

function flagsOf(info: string, keywords: readonly string[], keywordsKey: string): readonly string[] {
  let byInfo = flagSets.get(keywordsKey);
  if (byInfo === undefined) {
    if (flagSets.size >= 256) flagSets.clear();
    byInfo = new Map();
    flagSets.set(keywordsKey, byInfo);
  }
  let flags = byInfo.get(info);
  if (flags === undefined) {
    if (byInfo.size >= 4096) byInfo.clear();
    flags = Object.freeze(parseInfo(info, keywords).flags);
    byInfo.set(info, flags);
  }
  return flags;
}

/** An index as sessions see it: shared by every session of the process that adopts it. */
export interface FolderView {
  readonly keywordsKey: string;
  readonly messages: readonly IndexedMessage[];
  /** Sequence numbers by UID, built when a session first needs them. */
  seqByUid(): Map<number, number>;
  /** Whether the UIDs ascend (computed once per view, not once per SELECT). */
  ascending(): boolean;
  /** The index of the first message without \Seen, or -1 (computed once per view). */
  firstUnseen(): number;
}

const views = new WeakMap<Uidlist, FolderView>();
/**
 * The folder's latest view, while something holds it: a new index state is mostly the same
 * records (immutable, shared), whose messages the new view takes over instead of making
 * new ones, so a session catching up after one STORE builds one message object, not 100,000.
 */
const latestViews = new Map<string, WeakRef<FolderView>>();

export function viewOf(dir: string, list: Uidlist, keywords: readonly string[]): FolderView {
  const keywordsKey = keywords.join("\n");
  const known = views.get(list);
  if (known !== undefined && known.keywordsKey === keywordsKey) return known;
  const latest = latestViews.get(dir)?.deref();
  const reuse = latest !== undefined && latest.keywordsKey === keywordsKey ? latest.messages : [];
  const records = list.records;
  const messages: IndexedMessage[] = [];
  let j = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as UidRecord;
    while (j < reuse.length && (reuse[j] as IndexedMessage).uid < r.uid) j++;
    const old = reuse[j];
    messages.push(
      old !== undefined && old.record === r
        ? old
        : new IndexedMessage(r.uid, r, flagsOf(r.info ?? "", keywords, keywordsKey)),
    );
  }
  let bySeq: Map<number, number> | undefined;
  let ascending: boolean | undefined;
  let firstUnseen: number | undefined;
  const view: FolderView = {
    keywordsKey,
    messages,
    seqByUid: () => {
      bySeq ??= new Map(messages.map((m, i) => [m.uid, i + 1]));
      return bySeq;
    },
    ascending: () => {
      ascending ??= ascendingUids(messages);
      return ascending;
    },
    firstUnseen: () => {
      firstUnseen ??= messages.findIndex((m) => !m.flags.includes("\\Seen"));
      return firstUnseen;
    },
  };
  views.set(list, view);
  if (latestViews.size >= 1024) latestViews.clear();
  latestViews.set(dir, new WeakRef(view));
  return view;
}

/** True when the UIDs ascend (as the index assigns them): sequence numbers by binary search. */
export function ascendingUids(messages: readonly MessageInfo[]): boolean {
  for (let i = 1; i < messages.length; i++)
    if ((messages[i] as MessageInfo).uid <= (messages[i - 1] as MessageInfo).uid) return false;
  return true;
}
