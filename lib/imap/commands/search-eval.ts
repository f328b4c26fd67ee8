/*
 * search-eval — SEARCH criteria compiled into a tree that is evaluated in three values
 * (true, false, not known yet), so cheap keys decide first and a message file is opened only
 * when the flags, sizes, dates, numbers and MODSEQ left the answer open.
 *
 * Keys that need nothing but the index (flags, RFC822.SIZE, INTERNALDATE, sequence numbers,
 * UIDs, MODSEQ, OLDER/YOUNGER) become predicates. SENTBEFORE/SENTON/SENTSINCE need the
 * Date: header's calendar day (cached per message by the caller); the text keys become
 * numbered tests that search-message.ts answers by reading the message once for all of them.
 * Kleene logic keeps the answer exact: a result known while some tests are still open can
 * never change when they are answered.
 * Dates: BEFORE/ON/SINCE take INTERNALDATE's calendar day in the server's local time zone
 * (the process TZ), as Dovecot does; SENT* take the day written in the Date: header
 * (disregarding its time and zone, RFC 3501 §6.4.4), or INTERNALDATE's day without one.
 * Talks to: the FolderSession snapshot (MessageInfo). RFCs: 3501 §6.4.4, 4731, 5032
 * (OLDER/YOUNGER), 5182 ("$"), 7162 §3.1.5 (MODSEQ; per-flag entries use the message's
 * MODSEQ, as Dovecot does), 5322 §3.3 (date-time).
 * Security: sets and numbers from the client are only compared; a set is merged into
 * sorted ranges so a long set costs a binary search per message, not a scan.
 */
import type { MessageInfo } from "../../mailbox/folder.js";
import type { FlagSearchKey, ImapDate, SearchKey, SequenceSet } from "../parser/types.js";
import { foldText } from "./search-text.js";

export type Truth = boolean | undefined;

export interface Candidate {
  readonly info: MessageInfo;
  readonly seq: number;
  readonly recent: boolean;
  /** Expunged by another session, not yet announced: its file is gone. */
  readonly ghost: boolean;
}

/** Where a text test looks: one top-level header field, the body text, or both (TEXT). */
export type TextScope = "header" | "body" | "text";

export interface TextTest {
  readonly id: number;
  readonly scope: TextScope;
  /** Lower-case field name for "header"; "" otherwise. */
  readonly field: string;
  /** Folded needle; "" for a header test means "the field is present". */
  readonly folded: string;
}

type DateOp = "before" | "on" | "since";

type Node =
  | { readonly kind: "const"; readonly value: boolean }
  | { readonly kind: "cheap"; readonly test: (m: Candidate) => boolean }
  | { readonly kind: "sent"; readonly op: DateOp; readonly day: number }
  | { readonly kind: "text"; readonly id: number }
  | { readonly kind: "not"; readonly operand: Node }
  | { readonly kind: "and"; readonly operands: readonly Node[] }
  | { readonly kind: "or"; readonly left: Node; readonly right: Node };

export interface SearchPlan {
  readonly root: Node;
  readonly tests: readonly TextTest[];
  /** A MODSEQ key appears: CONDSTORE gets enabled and results carry MODSEQ. */
  readonly usesModseq: boolean;
  readonly usesSentDate: boolean;
}

export interface PlanContext {
  /** Messages in the view (ghosts included): "*" of a sequence set. */
  readonly messageCount: number;
  /** Highest UID in the view: "*" of a UID set. */
  readonly lastUid: number;
  /** SEARCHRES UIDs ("$"). */
  readonly saved: readonly number[];
  readonly nowSeconds: number;
}

/** What is known of one message's text so far. */
export interface TextKnowledge {
  /** Calendar day (days since 1970-01-01) of the Date: header, or of INTERNALDATE without one. */
  sentDay: number | undefined;
  readonly hits: Set<number>;
  headerDone: boolean;
  bodyDone: boolean;
}

const DAY_MS = 86_400_000;

export function dayNumber(year: number, month: number, day: number): number {
  return Math.floor(Date.UTC(year, month - 1, day) / DAY_MS);
}

/** INTERNALDATE's calendar day in the server's local time zone. */
export function localDay(date: Date): number {
  return dayNumber(date.getFullYear(), date.getMonth() + 1, date.getDate());
}

const imapDay = (d: ImapDate): number => dayNumber(d.year, d.month, d.day);
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DATE_PART = /(?:^|[\s,])(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\s+\d{1,2}:\d{2}/i;

/** The calendar day a Date: header value names, or null when it is not a date-time. */
export function parseSentDay(raw: string): number | null {
  const text = raw.replace(/\([^()]*\)/g, " ");
  const m = DATE_PART.exec(text);
  if (m === null) return null;
  const month = MONTHS.indexOf((m[2] ?? "").toLowerCase()) + 1;
  const day = Number(m[1]);
  let year = Number(m[3]);
  if ((m[3] ?? "").length === 2) year += year < 50 ? 2000 : 1900;
  else if ((m[3] ?? "").length === 3) year += 1900;
  if (month === 0 || day < 1 || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) return null;
  return dayNumber(year, month, day);
}

const hasFlag = (m: Candidate, flag: string): boolean => {
  const want = flag.toLowerCase();
  return m.info.flags.some((f) => f.toLowerCase() === want);
};

const FLAG_TESTS: Readonly<Record<FlagSearchKey, (m: Candidate) => boolean>> = {
  ALL: () => true,
  ANSWERED: (m) => hasFlag(m, "\\Answered"),
  DELETED: (m) => hasFlag(m, "\\Deleted"),
  DRAFT: (m) => hasFlag(m, "\\Draft"),
  FLAGGED: (m) => hasFlag(m, "\\Flagged"),
  SEEN: (m) => hasFlag(m, "\\Seen"),
  NEW: (m) => m.recent && !hasFlag(m, "\\Seen"),
  OLD: (m) => !m.recent,
  RECENT: (m) => m.recent,
  UNANSWERED: (m) => !hasFlag(m, "\\Answered"),
  UNDELETED: (m) => !hasFlag(m, "\\Deleted"),
  UNDRAFT: (m) => !hasFlag(m, "\\Draft"),
  UNFLAGGED: (m) => !hasFlag(m, "\\Flagged"),
  UNSEEN: (m) => !hasFlag(m, "\\Seen"),
};

/** A membership test over merged, sorted ranges. */
function rangeTest(set: Exclude<SequenceSet, "$">, star: number): (n: number) => boolean {
  const ranges = set
    .map((r): [number, number] => {
      const a = r.from === "*" ? star : r.from;
      const b = r.to === "*" ? star : r.to;
      return [Math.min(a, b), Math.max(a, b)];
    })
    .sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return (n) => {
    let lo = 0;
    let hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = merged[mid] as [number, number];
      if (n < r[0]) hi = mid - 1;
      else if (n > r[1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
}

class Compiler {
  readonly tests: TextTest[] = [];
  usesModseq = false;
  usesSentDate = false;
  private readonly byKey = new Map<string, number>();
  private savedSet: Set<number> | undefined;

  constructor(private readonly pc: PlanContext) {}

  private text(scope: TextScope, field: string, value: string): Node {
    const folded = foldText(value);
    if (folded === "" && scope !== "header") return { kind: "cheap", test: (m) => !m.ghost };
    const key = `${scope}\0${field}\0${folded}`;
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.tests.length;
      this.byKey.set(key, id);
      this.tests.push({ id, scope, field, folded });
    }
    return { kind: "text", id };
  }

  private set(set: SequenceSet, uid: boolean): Node {
    if (set === "$") {
      this.savedSet ??= new Set(this.pc.saved);
      const saved = this.savedSet;
      return { kind: "cheap", test: (m) => saved.has(m.info.uid) };
    }
    const inSet = rangeTest(set, uid ? this.pc.lastUid : this.pc.messageCount);
    return { kind: "cheap", test: uid ? (m) => inSet(m.info.uid) : (m) => inSet(m.seq) };
  }

  private internalDate(op: DateOp, date: ImapDate): Node {
    const day = imapDay(date);
    const test = (m: Candidate): boolean => compareDay(op, localDay(m.info.internalDate), day);
    return { kind: "cheap", test };
  }

  compile(k: SearchKey): Node {
    switch (k.key) {
      case "NOT":
        return { kind: "not", operand: this.compile(k.operand) };
      case "OR":
        return { kind: "or", left: this.compile(k.left), right: this.compile(k.right) };
      case "AND":
        return { kind: "and", operands: k.operands.map((o) => this.compile(o)) };
      case "SEQUENCE":
        return this.set(k.set, false);
      case "UID":
        return this.set(k.set, true);
      case "BODY":
        return this.text("body", "", k.value);
      case "TEXT":
        return this.text("text", "", k.value);
      case "BCC":
      case "CC":
      case "FROM":
      case "SUBJECT":
      case "TO":
        return this.text("header", k.key.toLowerCase(), k.value);
      case "HEADER":
        return this.text("header", k.field.toLowerCase(), k.value);
      default:
        return this.simple(k);
    }
  }

  private simple(k: SearchKey): Node {
    switch (k.key) {
      case "BEFORE":
        return this.internalDate("before", k.date);
      case "ON":
        return this.internalDate("on", k.date);
      case "SINCE":
        return this.internalDate("since", k.date);
      case "SENTBEFORE":
      case "SENTON":
      case "SENTSINCE":
        this.usesSentDate = true;
        return { kind: "sent", op: SENT_OPS[k.key], day: imapDay(k.date) };
      case "KEYWORD":
        return { kind: "cheap", test: (m) => hasFlag(m, k.flag) };
      case "UNKEYWORD":
        return { kind: "cheap", test: (m) => !hasFlag(m, k.flag) };
      case "LARGER":
        return { kind: "cheap", test: (m) => m.info.crlfSize > k.size };
      case "SMALLER":
        return { kind: "cheap", test: (m) => m.info.crlfSize < k.size };
      case "OLDER":
      case "YOUNGER":
        return this.interval(k.key, k.seconds);
      case "MODSEQ":
        this.usesModseq = true;
        return { kind: "cheap", test: (m) => BigInt(m.info.modseq) >= k.modseq };
      default:
        return flagNode(k.key);
    }
  }

  /** RFC 5032: OLDER n is INTERNALDATE <= now - n, YOUNGER n is INTERNALDATE >= now - n. */
  private interval(key: "OLDER" | "YOUNGER", seconds: number): Node {
    const edge = this.pc.nowSeconds - seconds;
    const at = (m: Candidate): number => Math.floor(m.info.internalDate.getTime() / 1000);
    return { kind: "cheap", test: key === "OLDER" ? (m) => at(m) <= edge : (m) => at(m) >= edge };
  }
}

const SENT_OPS = { SENTBEFORE: "before", SENTON: "on", SENTSINCE: "since" } as const;

/** The flag keys; compile() has already taken every key with arguments. */
function flagNode(key: string): Node {
  const test = Object.hasOwn(FLAG_TESTS, key) ? FLAG_TESTS[key as FlagSearchKey] : undefined;
  return test === undefined ? { kind: "const", value: false } : { kind: "cheap", test };
}

function compareDay(op: DateOp, day: number, wanted: number): boolean {
  return op === "before" ? day < wanted : op === "on" ? day === wanted : day >= wanted;
}

/** Compiles the criteria (implicitly ANDed). */
export function compileSearch(criteria: readonly SearchKey[], pc: PlanContext): SearchPlan {
  const c = new Compiler(pc);
  const operands = criteria.map((k) => c.compile(k));
  const root: Node =
    operands.length === 1 && operands[0] !== undefined ? operands[0] : { kind: "and", operands };
  return { root, tests: c.tests, usesModseq: c.usesModseq, usesSentDate: c.usesSentDate };
}

function textTruth(test: TextTest | undefined, k: TextKnowledge): Truth {
  if (test === undefined) return false;
  if (k.hits.has(test.id)) return true;
  const done = test.scope === "header" ? k.headerDone : k.bodyDone;
  return done ? false : undefined;
}

/** The answer for one message with what is known so far; undefined: read more of it. */
export function evaluate(plan: SearchPlan, m: Candidate, k: TextKnowledge): Truth {
  const walk = (node: Node): Truth => {
    switch (node.kind) {
      case "const":
        return node.value;
      case "cheap":
        return node.test(m);
      case "sent":
        return k.sentDay === undefined ? undefined : compareDay(node.op, k.sentDay, node.day);
      case "text":
        return textTruth(plan.tests[node.id], k);
      case "not": {
        const v = walk(node.operand);
        return v === undefined ? undefined : !v;
      }
      case "or": {
        const a = walk(node.left);
        if (a === true) return true;
        const b = walk(node.right);
        return b === true ? true : a === false && b === false ? false : undefined;
      }
      case "and": {
        let open = false;
        for (const o of node.operands) {
          const v = walk(o);
          if (v === false) return false;
          if (v === undefined) open = true;
        }
        return open ? undefined : true;
      }
    }
  };
  return walk(plan.root);
}
