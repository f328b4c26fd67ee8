/*
 * responses — IMAP server responses as data, and their encoding to wire bytes: status
 * responses with response codes, untagged data (EXISTS, FETCH, SEARCH, ESEARCH, LIST, ...)
 * and continuation requests. FETCH values may carry streamed literals, so a response
 * encodes to parts (bytes, or a literal to stream); streamResponse() yields the bytes.
 *
 * Talks to: values.ts, mutf7.ts. RFCs: 3501 7 (responses) and 9, 2971 (ID), 4315
 * (APPENDUID, COPYUID), 4731 (ESEARCH), 5161 (ENABLED), 5530 (response codes), 7162
 * (HIGHESTMODSEQ, NOMODSEQ, MODIFIED, VANISHED), 2342 (NAMESPACE), 5258 (LIST).
 * Security: output only. Text after a status is the server's own; CR and LF are removed from
 * it so a message built from client input can never inject a response line.
 */

import { encodeMutf7 } from "../../mailbox/mutf7.js";
import type { FetchAttribute, Partial, StatusItem } from "../parser/types.js";
import { formatNumberSet, type ImapValue, type ResponsePart, ResponseWriter } from "./values.js";

export type AtomResponseCode =
  | "ALERT"
  | "PARSE"
  | "READ-ONLY"
  | "READ-WRITE"
  | "TRYCREATE"
  | "NOMODSEQ"
  | "NONEXISTENT"
  | "ALREADYEXISTS"
  | "INUSE"
  | "SERVERBUG"
  | "CLIENTBUG"
  | "TOOBIG"
  | "CANNOT"
  | "LIMIT"
  | "OVERQUOTA"
  | "NOPERM"
  | "UNAVAILABLE"
  | "AUTHENTICATIONFAILED"
  | "AUTHORIZATIONFAILED"
  | "PRIVACYREQUIRED"
  | "CONTACTADMIN"
  | "EXPUNGEISSUED"
  | "CORRUPTION"
  | "HASCHILDREN"
  | "UIDNOTSTICKY"
  | "CLOSED";

export type ResponseCode =
  | { readonly name: AtomResponseCode }
  | { readonly name: "BADCHARSET"; readonly charsets: readonly string[] }
  | { readonly name: "CAPABILITY"; readonly capabilities: readonly string[] }
  | { readonly name: "PERMANENTFLAGS"; readonly flags: readonly string[] }
  | { readonly name: "UIDNEXT" | "UIDVALIDITY" | "UNSEEN" | "APPENDLIMIT"; readonly value: number }
  | { readonly name: "HIGHESTMODSEQ"; readonly value: bigint }
  | { readonly name: "APPENDUID"; readonly uidValidity: number; readonly uids: readonly number[] }
  | {
      readonly name: "COPYUID";
      readonly uidValidity: number;
      readonly source: readonly number[];
      readonly destination: readonly number[];
    }
  | { readonly name: "MODIFIED"; readonly numbers: readonly number[] };

export type StatusName = "OK" | "NO" | "BAD" | "BYE" | "PREAUTH";

export interface NamespaceEntry {
  readonly prefix: string;
  readonly delimiter: string | null;
}

export type ImapResponse =
  | {
      readonly type: "status";
      /** null: untagged ("*"). */
      readonly tag: string | null;
      readonly status: StatusName;
      readonly code: ResponseCode | null;
      readonly text: string;
    }
  | { readonly type: "continuation"; readonly text: string }
  | { readonly type: "EXISTS" | "RECENT" | "EXPUNGE"; readonly number: number }
  | {
      readonly type: "FETCH";
      readonly seq: number;
      readonly items: readonly (readonly [string, ImapValue])[];
    }
  | { readonly type: "SEARCH"; readonly numbers: readonly number[]; readonly modseq: bigint | null }
  | {
      readonly type: "ESEARCH";
      readonly tag: string | null;
      readonly uid: boolean;
      readonly min?: number;
      readonly max?: number;
      readonly count?: number;
      readonly all?: readonly number[];
      readonly modseq?: bigint;
    }
  | {
      readonly type: "LIST" | "LSUB";
      readonly attributes: readonly string[];
      readonly delimiter: string | null;
      /** Unicode; encoded to modified UTF-7 here. */
      readonly mailbox: string;
      /** LIST-EXTENDED (RFC 5258 §3.5): CHILDINFO selection criteria its children match. */
      readonly childInfo?: readonly string[];
    }
  | {
      readonly type: "STATUS";
      readonly mailbox: string;
      readonly items: readonly (readonly [StatusItem, number | bigint])[];
    }
  | { readonly type: "FLAGS"; readonly flags: readonly string[] }
  | { readonly type: "CAPABILITY" | "ENABLED"; readonly capabilities: readonly string[] }
  | {
      readonly type: "NAMESPACE";
      readonly personal: readonly NamespaceEntry[] | null;
      readonly other: readonly NamespaceEntry[] | null;
      readonly shared: readonly NamespaceEntry[] | null;
    }
  | { readonly type: "ID"; readonly params: readonly (readonly [string, string | null])[] | null }
  | { readonly type: "VANISHED"; readonly earlier: boolean; readonly uids: readonly number[] };

const atoms = (names: readonly string[]): ImapValue[] => names.map((atom) => ({ atom }));
/**
 * Free text (which may echo client input) as one safe line: CR, LF and NUL become spaces,
 * and a trailing "{n}" gets a space after it, because clients (imaplib, for one) take a
 * line ending in a literal marker as announcing n more bytes, which would desynchronise them.
 */
const oneLine = (text: string): string => text.replace(/[\r\n\0]+/g, " ").replace(/(~?\{\d+\+?\})$/, "$1 ");

function codeText(code: ResponseCode): string {
  switch (code.name) {
    case "BADCHARSET":
      return code.charsets.length === 0 ? code.name : `${code.name} (${code.charsets.join(" ")})`;
    case "CAPABILITY":
      return `${code.name} ${code.capabilities.join(" ")}`;
    case "PERMANENTFLAGS":
      return `${code.name} (${code.flags.join(" ")})`;
    case "UIDNEXT":
    case "UIDVALIDITY":
    case "UNSEEN":
    case "APPENDLIMIT":
    case "HIGHESTMODSEQ":
      return `${code.name} ${code.value}`;
    case "APPENDUID":
      return `${code.name} ${code.uidValidity} ${formatNumberSet(code.uids)}`;
    case "COPYUID":
      return `${code.name} ${code.uidValidity} ${formatNumberSet(code.source)} ${formatNumberSet(code.destination)}`;
    case "MODIFIED":
      return `${code.name} ${formatNumberSet(code.numbers)}`;
    default:
      return code.name;
  }
}

type Writer = (w: ResponseWriter, response: never) => void;
/** The response variant whose type includes K (some variants share a shape). */
type ResponseOf<K> = ImapResponse extends infer T
  ? T extends { type: infer U }
    ? K extends U
      ? T
      : never
    : never
  : never;
type WriterTable = { readonly [K in ImapResponse["type"]]: (w: ResponseWriter, r: ResponseOf<K>) => void };

const mailboxName = (name: string): ImapValue => ({ astring: encodeMutf7(name) });
const namespace = (entries: readonly NamespaceEntry[] | null): ImapValue =>
  entries === null ? null : entries.map((e) => [encodeMutf7(e.prefix), e.delimiter]);

/** Response type → how its data follows "* ". */
const WRITERS: WriterTable = {
  status: (w, r) => {
    w.raw(`${r.tag ?? "*"} ${r.status} `);
    if (r.code !== null) w.raw(`[${oneLine(codeText(r.code))}] `);
    w.raw(oneLine(r.text));
  },
  continuation: (w, r) => w.raw(`+ ${oneLine(r.text)}`),
  EXISTS: (w, r) => w.raw(`* ${r.number} EXISTS`),
  RECENT: (w, r) => w.raw(`* ${r.number} RECENT`),
  EXPUNGE: (w, r) => w.raw(`* ${r.number} EXPUNGE`),
  FETCH: (w, r) => {
    // the list (name value name value ...) written item by item, not built first
    w.raw(`* ${r.seq} FETCH (`);
    r.items.forEach(([name, value], i) => {
      w.raw(i === 0 ? `${name} ` : ` ${name} `).value(value);
    });
    w.raw(")");
  },
  SEARCH: (w, r) => {
    w.raw("* SEARCH");
    for (const n of r.numbers) w.raw(` ${n}`);
    if (r.modseq !== null) w.raw(` (MODSEQ ${r.modseq})`);
  },
  ESEARCH: writeEsearch,
  LIST: (w, r) => writeList(w, r),
  LSUB: (w, r) => writeList(w, r),
  STATUS: (w, r) => {
    w.raw("* STATUS ").value(mailboxName(r.mailbox)).raw(" ");
    w.value(r.items.flatMap(([item, n]) => [{ atom: item }, n]));
  },
  FLAGS: (w, r) => w.raw("* FLAGS ").value(atoms(r.flags)),
  CAPABILITY: (w, r) => w.raw(`* CAPABILITY ${r.capabilities.join(" ")}`),
  ENABLED: (w, r) => w.raw(`* ENABLED${r.capabilities.map((c) => ` ${c}`).join("")}`),
  NAMESPACE: (w, r) =>
    w.raw("* NAMESPACE ").values([namespace(r.personal), namespace(r.other), namespace(r.shared)]),
  ID: (w, r) => w.raw("* ID ").value(r.params === null ? null : r.params.flat()),
  VANISHED: (w, r) => w.raw(`* VANISHED ${r.earlier ? "(EARLIER) " : ""}${formatNumberSet(r.uids)}`),
};

function writeList(w: ResponseWriter, r: Extract<ImapResponse, { type: "LIST" | "LSUB" }>): void {
  w.raw(`* ${r.type} `).value(atoms(r.attributes)).raw(" ");
  w.values([r.delimiter, mailboxName(r.mailbox)]);
  if (r.childInfo !== undefined && r.childInfo.length > 0)
    w.raw(' ("CHILDINFO" (').values(r.childInfo).raw("))");
}

function writeEsearch(w: ResponseWriter, r: Extract<ImapResponse, { type: "ESEARCH" }>): void {
  w.raw("* ESEARCH");
  if (r.tag !== null) w.raw(" (TAG ").value(r.tag).raw(")");
  if (r.uid) w.raw(" UID");
  if (r.min !== undefined) w.raw(` MIN ${r.min}`);
  if (r.max !== undefined) w.raw(` MAX ${r.max}`);
  if (r.count !== undefined) w.raw(` COUNT ${r.count}`);
  if (r.all !== undefined && r.all.length > 0) w.raw(` ALL ${formatNumberSet(r.all)}`);
  if (r.modseq !== undefined) w.raw(` MODSEQ ${r.modseq}`);
}

/** The response as parts: bytes, and literals still to be streamed. */
export function encodeResponse(response: ImapResponse): ResponsePart[] {
  const w = new ResponseWriter();
  (WRITERS[response.type] as Writer)(w, response as never);
  return w.finish();
}

/** The response as one buffer; for responses without streamed literals. */
export function responseBuffer(response: ImapResponse): Buffer {
  const parts = encodeResponse(response);
  if (!parts.every((p) => Buffer.isBuffer(p))) throw new TypeError("response has streamed literals");
  return Buffer.concat(parts as Buffer[]);
}

export class StreamLengthError extends Error {
  override readonly name = "StreamLengthError";
}

/** Yields the response's bytes; a streamed literal must deliver exactly its announced size. */
export function streamResponse(response: ImapResponse): AsyncGenerator<Buffer> {
  return streamParts(encodeResponse(response));
}

/** Yields encoded parts' bytes; a streamed literal must deliver exactly its announced size. */
export async function* streamParts(parts: readonly ResponsePart[]): AsyncGenerator<Buffer> {
  for (const part of parts) {
    if (Buffer.isBuffer(part)) {
      yield part;
      continue;
    }
    let sent = 0;
    for await (const chunk of part.source) {
      sent += chunk.length;
      if (sent > part.size) throw new StreamLengthError(`literal longer than its size ${part.size}`);
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    if (sent !== part.size) throw new StreamLengthError(`literal of ${sent} bytes, announced ${part.size}`);
  }
}

/** The FETCH item name answering a requested attribute: BODY.PEEK[1.MIME]<0.10> → BODY[1.MIME]<0>. */
export function fetchItemName(attribute: FetchAttribute): string {
  switch (attribute.kind) {
    case "simple":
      return attribute.name;
    case "binary-size":
      return `BINARY.SIZE[${attribute.part.join(".")}]`;
    case "binary":
      return `BINARY[${attribute.part.join(".")}]${origin(attribute.partial)}`;
    case "body": {
      const { part, text } = attribute.section;
      const parts = part.map(String);
      if (text !== null) {
        const fields = "fields" in text ? ` (${text.fields.map(quoteField).join(" ")})` : "";
        parts.push(text.kind + fields);
      }
      return `BODY[${parts.join(".")}]${origin(attribute.partial)}`;
    }
  }
}

const origin = (partial: Partial | null): string => (partial === null ? "" : `<${partial.offset}>`);
const quoteField = (name: string): string =>
  /^[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/.test(name) ? name.toUpperCase() : JSON.stringify(name);
