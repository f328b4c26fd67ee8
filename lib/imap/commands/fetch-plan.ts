/*
 * fetch-plan — turns the parsed FETCH attributes into the ordered list of items every
 * response carries, once per command, so the per-message loop only fills in values.
 *
 * Order is Dovecot's: the items answered from the index (UID, FLAGS, INTERNALDATE,
 * RFC822.SIZE, MODSEQ) first, in the order asked, UID first for UID FETCH; then those read
 * from the message (ENVELOPE, BODY, BODYSTRUCTURE, sections) in the order asked. An item asked
 * twice is answered once. A message whose \Seen this FETCH set gets FLAGS even when not asked
 * (RFC 3501 §6.4.5), and with CONDSTORE on also UID and MODSEQ (RFC 7162 §3.1).
 * Talks to: parser types, serializer's fetchItemName. RFCs: 3501 §6.4.5, 7162 §3.1.4, 3516.
 * Security: pure; section numbers are bounded by the parser.
 */
import type { FetchAttribute, Partial, Section } from "../parser/types.js";
import { fetchItemName } from "../serializer/responses.js";
import type { CommandOf } from "./context.js";

export type IndexItem = "UID" | "FLAGS" | "INTERNALDATE" | "RFC822.SIZE" | "MODSEQ";

export type PlannedItem =
  | { readonly kind: "index"; readonly name: IndexItem }
  | { readonly kind: "envelope"; readonly name: "ENVELOPE" }
  | { readonly kind: "structure"; readonly name: "BODY" | "BODYSTRUCTURE" }
  | {
      readonly kind: "section";
      /** The response item name: BODY[1.MIME]<0>, RFC822, RFC822.HEADER, RFC822.TEXT. */
      readonly name: string;
      readonly section: Section;
      readonly partial: Partial | null;
    }
  | {
      readonly kind: "binary";
      readonly name: string;
      readonly part: readonly number[];
      readonly partial: Partial | null;
      /** BINARY.SIZE: only the decoded size. */
      readonly sizeOnly: boolean;
    };

export interface FetchPlan {
  /** The items of a message whose flags this FETCH did not change. */
  readonly items: readonly PlannedItem[];
  /** The items of a message whose \Seen this FETCH set (FLAGS always; UID, MODSEQ with CONDSTORE). */
  readonly seenItems: (condstore: boolean) => readonly PlannedItem[];
  /** A non-PEEK body item was asked: unseen messages become \Seen (read-write only). */
  readonly setsSeen: boolean;
  /** MODSEQ asked or CHANGEDSINCE given: CONDSTORE is enabled (RFC 7162 §3.1). */
  readonly enablesCondstore: boolean;
}

const WHOLE: Section = { part: [], text: null };
const index = (name: IndexItem): PlannedItem => ({ kind: "index", name });

function sectionItem(name: string, section: Section, partial: Partial | null = null): PlannedItem {
  return { kind: "section", name, section, partial };
}

/** The planned item for one attribute, and whether it sets \Seen. */
function planAttribute(attribute: FetchAttribute): { item: PlannedItem; seen: boolean } {
  switch (attribute.kind) {
    case "body":
      return {
        item: sectionItem(fetchItemName(attribute), attribute.section, attribute.partial),
        seen: !attribute.peek,
      };
    case "binary":
    case "binary-size": {
      const sizeOnly = attribute.kind === "binary-size";
      const partial = attribute.kind === "binary" ? attribute.partial : null;
      const name = fetchItemName(attribute);
      const item: PlannedItem = { kind: "binary", name, part: attribute.part, partial, sizeOnly };
      return { item, seen: attribute.kind === "binary" && !attribute.peek };
    }
    case "simple":
      return planSimple(attribute.name);
  }
}

function planSimple(name: Extract<FetchAttribute, { kind: "simple" }>["name"]): {
  item: PlannedItem;
  seen: boolean;
} {
  switch (name) {
    case "ENVELOPE":
      return { item: { kind: "envelope", name }, seen: false };
    case "BODY":
    case "BODYSTRUCTURE":
      return { item: { kind: "structure", name }, seen: false };
    case "RFC822":
      return { item: sectionItem(name, WHOLE), seen: true };
    case "RFC822.HEADER":
      return { item: sectionItem(name, { part: [], text: { kind: "HEADER" } }), seen: false };
    case "RFC822.TEXT":
      return { item: sectionItem(name, { part: [], text: { kind: "TEXT" } }), seen: true };
    default:
      return { item: index(name), seen: false };
  }
}

/** Index items first, then the others, each group in request order, without repeats. */
function ordered(items: readonly PlannedItem[]): PlannedItem[] {
  const seen = new Set<string>();
  const unique = items.filter((item) => !seen.has(item.name) && seen.add(item.name));
  return [...unique.filter((i) => i.kind === "index"), ...unique.filter((i) => i.kind !== "index")];
}

export function planFetch(command: CommandOf<"FETCH">): FetchPlan {
  const planned = command.attributes.map(planAttribute);
  const requested: PlannedItem[] = planned.map((p) => p.item);
  if (command.uid) requested.unshift(index("UID"));
  if (command.changedSince !== null) requested.push(index("MODSEQ"));
  const items = ordered(requested);
  const seenPlain = ordered([...items, index("FLAGS")]);
  const seenCondstore = ordered([...items, index("FLAGS"), index("UID"), index("MODSEQ")]);
  return {
    items,
    seenItems: (condstore) => (condstore ? seenCondstore : seenPlain),
    setsSeen: planned.some((p) => p.seen),
    enablesCondstore: items.some((i) => i.name === "MODSEQ"),
  };
}
