/*
 * types — the typed IMAP commands the parser produces and the command handlers consume.
 *
 * Talks to: nothing. RFCs: 3501 (IMAP4rev1), 2971 (ID), 4315 (UIDPLUS), 4731 (ESEARCH),
 * 5161 (ENABLE), 5258/5819 (LIST-EXTENDED, LIST-STATUS), 6154 (SPECIAL-USE), 6851 (MOVE),
 * 7162 (CONDSTORE), 3516 (BINARY), 5182 (SEARCHRES `$`).
 * Security: values here are syntactically valid but otherwise untrusted: mailbox names are
 * still modified UTF-7 and must pass mailbox-name.ts before they reach storage.
 */

/** A sequence number or UID; "*" is the largest one in the mailbox. */
export type SeqNumber = number | "*";
export interface SeqRange {
  readonly from: SeqNumber;
  readonly to: SeqNumber;
}
/** Ranges as the client wrote them (from may exceed to), or "$" for the saved search result. */
export type SequenceSet = readonly SeqRange[] | "$";

/** A calendar date of SEARCH (no time zone). */
export interface ImapDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  readonly day: number;
}

/** APPEND's date-time: the instant and the zone the client wrote. */
export interface ImapDateTime {
  readonly date: Date;
  /** Offset from UTC in minutes, e.g. -420 for -0700. */
  readonly zoneMinutes: number;
}

export type SectionText =
  | { readonly kind: "HEADER" | "TEXT" | "MIME" }
  | { readonly kind: "HEADER.FIELDS" | "HEADER.FIELDS.NOT"; readonly fields: readonly string[] };

export interface Section {
  /** Part numbers, 1.2.3 → [1, 2, 3]; empty for the whole message. */
  readonly part: readonly number[];
  /** null: the whole part (BODY[] or BODY[1.2]). */
  readonly text: SectionText | null;
}

export interface Partial {
  readonly offset: number;
  readonly length: number;
}

export type SimpleFetchName =
  | "ENVELOPE"
  | "FLAGS"
  | "INTERNALDATE"
  | "RFC822"
  | "RFC822.HEADER"
  | "RFC822.SIZE"
  | "RFC822.TEXT"
  | "BODY"
  | "BODYSTRUCTURE"
  | "UID"
  | "MODSEQ";

export type FetchAttribute =
  | { readonly kind: "simple"; readonly name: SimpleFetchName }
  | {
      readonly kind: "body";
      readonly peek: boolean;
      readonly section: Section;
      readonly partial: Partial | null;
    }
  | {
      readonly kind: "binary";
      readonly peek: boolean;
      readonly part: readonly number[];
      readonly partial: Partial | null;
    }
  | { readonly kind: "binary-size"; readonly part: readonly number[] };

export type FlagSearchKey =
  | "ALL"
  | "ANSWERED"
  | "DELETED"
  | "DRAFT"
  | "FLAGGED"
  | "NEW"
  | "OLD"
  | "RECENT"
  | "SEEN"
  | "UNANSWERED"
  | "UNDELETED"
  | "UNDRAFT"
  | "UNFLAGGED"
  | "UNSEEN";
export type TextSearchKey = "BCC" | "BODY" | "CC" | "FROM" | "SUBJECT" | "TEXT" | "TO";
export type DateSearchKey = "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE";

export type SearchKey =
  | { readonly key: FlagSearchKey }
  | { readonly key: TextSearchKey; readonly value: string }
  | { readonly key: DateSearchKey; readonly date: ImapDate }
  | { readonly key: "KEYWORD" | "UNKEYWORD"; readonly flag: string }
  | { readonly key: "HEADER"; readonly field: string; readonly value: string }
  | { readonly key: "LARGER" | "SMALLER"; readonly size: number }
  | { readonly key: "OLDER" | "YOUNGER"; readonly seconds: number }
  | { readonly key: "NOT"; readonly operand: SearchKey }
  | { readonly key: "OR"; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly key: "AND"; readonly operands: readonly SearchKey[] }
  | { readonly key: "SEQUENCE" | "UID"; readonly set: SequenceSet }
  | {
      readonly key: "MODSEQ";
      readonly modseq: bigint;
      readonly entry: { readonly flag: string; readonly type: "priv" | "shared" | "all" } | null;
    };

export type SearchReturnOption = "MIN" | "MAX" | "ALL" | "COUNT" | "SAVE";

export type StatusItem =
  | "MESSAGES"
  | "RECENT"
  | "UIDNEXT"
  | "UIDVALIDITY"
  | "UNSEEN"
  | "HIGHESTMODSEQ"
  | "SIZE"
  | "APPENDLIMIT";

export interface ListReturnOptions {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** LIST-STATUS items, null when not asked. */
  readonly status: readonly StatusItem[] | null;
}

export type ListSelectOption = "SUBSCRIBED" | "REMOTE" | "RECURSIVEMATCH" | "SPECIAL-USE";

export interface AppendMessage {
  readonly flags: readonly string[];
  readonly date: ImapDateTime | null;
  readonly message: Buffer;
  /** Sent as literal8 (RFC 3516). */
  readonly binary: boolean;
}

export type StoreMode = "replace" | "add" | "remove";

export type NoArgVerb =
  | "CAPABILITY"
  | "NOOP"
  | "LOGOUT"
  | "STARTTLS"
  | "CHECK"
  | "CLOSE"
  | "UNSELECT"
  | "NAMESPACE"
  | "IDLE";

export type ImapCommandBody =
  | { readonly name: NoArgVerb }
  | { readonly name: "LOGIN"; readonly user: string; readonly password: string }
  | { readonly name: "AUTHENTICATE"; readonly mechanism: string; readonly initialResponse: string | null }
  | { readonly name: "ID"; readonly params: readonly (readonly [string, string | null])[] | null }
  | { readonly name: "ENABLE"; readonly capabilities: readonly string[] }
  | { readonly name: "SELECT" | "EXAMINE"; readonly mailbox: string; readonly condstore: boolean }
  | {
      readonly name: "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETQUOTAROOT";
      readonly mailbox: string;
    }
  | { readonly name: "RENAME"; readonly from: string; readonly to: string }
  | {
      readonly name: "LIST";
      readonly selection: readonly ListSelectOption[];
      readonly reference: string;
      readonly patterns: readonly string[];
      readonly returns: ListReturnOptions;
    }
  | { readonly name: "LSUB"; readonly reference: string; readonly pattern: string }
  | { readonly name: "STATUS"; readonly mailbox: string; readonly items: readonly StatusItem[] }
  | { readonly name: "APPEND"; readonly mailbox: string; readonly messages: readonly AppendMessage[] }
  | { readonly name: "EXPUNGE"; readonly uid: boolean; readonly set: SequenceSet | null }
  | {
      readonly name: "SEARCH";
      readonly uid: boolean;
      /** null: plain SEARCH; a list (maybe empty = ALL): ESEARCH RETURN (...). */
      readonly returns: readonly SearchReturnOption[] | null;
      readonly charset: string | null;
      readonly criteria: readonly SearchKey[];
    }
  | {
      readonly name: "FETCH";
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly attributes: readonly FetchAttribute[];
      readonly changedSince: bigint | null;
    }
  | {
      readonly name: "STORE";
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly unchangedSince: bigint | null;
      readonly mode: StoreMode;
      readonly silent: boolean;
      readonly flags: readonly string[];
    }
  | {
      readonly name: "COPY" | "MOVE";
      readonly uid: boolean;
      readonly set: SequenceSet;
      readonly mailbox: string;
    };

export type ImapCommand = ImapCommandBody & { readonly tag: string };
export type ImapVerb = ImapCommand["name"];
