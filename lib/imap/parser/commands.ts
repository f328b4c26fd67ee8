/*
 * commands — the table of IMAP verbs and their argument grammars. Each entry reads the
 * arguments after the verb (the reader stands just after it) and builds the typed command;
 * the dispatcher in index.ts looks verbs up here, never by building names.
 *
 * Talks to: nothing. RFCs: 3501 6 (commands) and 9, 2971 (ID), 3502 (MULTIAPPEND), 4315
 * (UID EXPUNGE), 4466 (extended SELECT/FETCH/STORE/SEARCH arguments), 4731 (ESEARCH), 4959
 * (SASL-IR), 5161 (ENABLE), 5258/5819 (LIST-EXTENDED, LIST-STATUS), 6154 (SPECIAL-USE), 6851
 * (MOVE), 7162 (CONDSTORE), 2087 (GETQUOTAROOT).
 * Security: every grammar ends with r.end(), so trailing garbage is a BAD, never ignored.
 */
import { fetchAttributes, fetchModifiers } from "./fetch.js";
import type { Reader } from "./reader.js";
import { searchCriteria, searchReturn } from "./search.js";
import type {
  AppendMessage,
  ImapCommandBody,
  ListReturnOptions,
  ListSelectOption,
  NoArgVerb,
  StatusItem,
  StoreMode,
} from "./types.js";
import { dateTime, flag, flagList, listMailbox, mailbox, sequenceSet } from "./values.js";

export interface CommandGrammar {
  /** May follow "UID" (UID FETCH, UID STORE, ...). */
  readonly uid: boolean;
  readonly parse: (r: Reader, uid: boolean) => ImapCommandBody;
}

const MAX_ID_PAIRS = 30;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const STATUS_ITEMS = new Set<string>([
  "MESSAGES",
  "RECENT",
  "UIDNEXT",
  "UIDVALIDITY",
  "UNSEEN",
  "HIGHESTMODSEQ",
  "SIZE",
  "APPENDLIMIT",
]);
const SELECT_OPTIONS = new Set<string>(["SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"]);

/** Reads SP then the value; for grammars that are one argument after another. */
function arg<T>(r: Reader, read: () => T): T {
  r.space();
  return read();
}

function finish<T extends ImapCommandBody>(r: Reader, command: T): T {
  r.end();
  return command;
}

const noArgs =
  (name: NoArgVerb) =>
  (r: Reader): ImapCommandBody =>
    finish(r, { name });

const oneMailbox =
  (name: "CREATE" | "DELETE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "GETQUOTAROOT") =>
  (r: Reader): ImapCommandBody =>
    finish(r, { name, mailbox: arg(r, () => mailbox(r)) });

function login(r: Reader): ImapCommandBody {
  const user = arg(r, () => r.astring("a user name"));
  return finish(r, { name: "LOGIN", user, password: arg(r, () => r.astring("a password")) });
}

function authenticate(r: Reader): ImapCommandBody {
  const mechanism = arg(r, () => r.keyword("a SASL mechanism"));
  let initialResponse: string | null = null;
  if (r.accept(0x20)) {
    const text = r.atom("an initial response");
    if (text !== "=" && !BASE64.test(text)) r.fail("Invalid base64 initial response");
    initialResponse = text === "=" ? "" : text;
  }
  return finish(r, { name: "AUTHENTICATE", mechanism, initialResponse });
}

function id(r: Reader): ImapCommandBody {
  r.space();
  if (r.peek() !== 0x28) {
    if (r.keyword("a parameter list or NIL") !== "NIL") r.fail("Expected a parameter list or NIL");
    return finish(r, { name: "ID", params: null });
  }
  const params = r.list(() => {
    const field = r.string();
    return [field, arg(r, () => r.nstring())] as const;
  }, true);
  if (params.length > MAX_ID_PAIRS) r.fail("Too many ID parameters");
  return finish(r, { name: "ID", params });
}

function enable(r: Reader): ImapCommandBody {
  const capabilities: string[] = [];
  do capabilities.push(arg(r, () => r.keyword("a capability")));
  while (!r.atEnd());
  return finish(r, { name: "ENABLE", capabilities });
}

const select =
  (name: "SELECT" | "EXAMINE") =>
  (r: Reader): ImapCommandBody => {
    const box = arg(r, () => mailbox(r));
    let condstore = false;
    if (r.accept(0x20)) {
      for (const param of r.list(() => r.keyword("a select parameter"), false)) {
        if (param !== "CONDSTORE") r.fail(`Unknown ${name} parameter ${param}`);
        condstore = true;
      }
    }
    return finish(r, { name, mailbox: box, condstore });
  };

function rename(r: Reader): ImapCommandBody {
  const from = arg(r, () => mailbox(r));
  return finish(r, { name: "RENAME", from, to: arg(r, () => mailbox(r)) });
}

function statusItems(r: Reader): StatusItem[] {
  const items = r.list(() => r.keyword("a status item"), false);
  for (const item of items) if (!STATUS_ITEMS.has(item)) r.fail(`Unknown status item ${item}`);
  return [...new Set(items)] as StatusItem[];
}

function status(r: Reader): ImapCommandBody {
  const box = arg(r, () => mailbox(r));
  return finish(r, { name: "STATUS", mailbox: box, items: arg(r, () => statusItems(r)) });
}

function listSelection(r: Reader): ListSelectOption[] {
  const options = r.list(() => r.keyword("a selection option"), true);
  for (const option of options) if (!SELECT_OPTIONS.has(option)) r.fail(`Unknown LIST option ${option}`);
  if (options.includes("RECURSIVEMATCH") && options.every((o) => o === "RECURSIVEMATCH")) {
    r.fail("RECURSIVEMATCH needs another selection option");
  }
  return options as ListSelectOption[];
}

function listReturn(r: Reader): ListReturnOptions {
  const returns = {
    subscribed: false,
    children: false,
    specialUse: false,
    status: null as StatusItem[] | null,
  };
  if (!r.accept(0x20)) return returns;
  if (!r.acceptKeyword("RETURN")) r.fail("Expected RETURN");
  r.space();
  r.list(() => {
    const option = r.keyword("a return option");
    if (option === "SUBSCRIBED") returns.subscribed = true;
    else if (option === "CHILDREN") returns.children = true;
    else if (option === "SPECIAL-USE") returns.specialUse = true;
    else if (option === "STATUS") returns.status = arg(r, () => statusItems(r));
    else r.fail(`Unknown LIST return option ${option}`);
  }, true);
  return returns;
}

function list(r: Reader): ImapCommandBody {
  r.space();
  let selection: ListSelectOption[] = [];
  if (r.peek() === 0x28) {
    selection = listSelection(r);
    r.space();
  }
  const reference = r.astring("a reference name");
  r.space();
  const patterns = r.peek() === 0x28 ? r.list(() => listMailbox(r), false) : [listMailbox(r)];
  const returns = listReturn(r);
  return finish(r, { name: "LIST", selection, reference, patterns, returns });
}

function lsub(r: Reader): ImapCommandBody {
  const reference = arg(r, () => r.astring("a reference name"));
  return finish(r, { name: "LSUB", reference, pattern: arg(r, () => listMailbox(r)) });
}

function appendMessage(r: Reader): AppendMessage {
  let flags: string[] = [];
  if (r.peek() === 0x28) {
    flags = flagList(r);
    r.space();
  }
  const date = r.peek() === 0x22 ? dateTime(r) : null;
  if (date !== null) r.space();
  const { bytes, binary } = r.literal(true);
  return { flags, date, message: bytes, binary };
}

function append(r: Reader): ImapCommandBody {
  const box = arg(r, () => mailbox(r));
  const messages: AppendMessage[] = [];
  do messages.push(arg(r, () => appendMessage(r)));
  while (!r.atEnd());
  return finish(r, { name: "APPEND", mailbox: box, messages });
}

function expunge(r: Reader, uid: boolean): ImapCommandBody {
  return finish(r, { name: "EXPUNGE", uid, set: uid ? arg(r, () => sequenceSet(r)) : null });
}

function search(r: Reader, uid: boolean): ImapCommandBody {
  const save = r.pos;
  const returns = r.accept(0x20) && r.acceptKeyword("RETURN") ? searchReturn(r) : null;
  if (returns === null) r.pos = save;
  const before = r.pos;
  const charset = r.accept(0x20) && r.acceptKeyword("CHARSET") ? arg(r, () => r.astring("a charset")) : null;
  if (charset === null) r.pos = before;
  return finish(r, { name: "SEARCH", uid, returns, charset, criteria: searchCriteria(r) });
}

function fetch(r: Reader, uid: boolean): ImapCommandBody {
  const set = arg(r, () => sequenceSet(r));
  const attributes = arg(r, () => fetchAttributes(r));
  const changedSince = r.accept(0x20) ? fetchModifiers(r) : null;
  return finish(r, { name: "FETCH", uid, set, attributes, changedSince });
}

const STORE_ITEMS = new Map<string, { mode: StoreMode; silent: boolean }>(
  (["", "+", "-"] as const).flatMap((sign) =>
    [false, true].map((silent): [string, { mode: StoreMode; silent: boolean }] => [
      `${sign}FLAGS${silent ? ".SILENT" : ""}`,
      { mode: sign === "+" ? "add" : sign === "-" ? "remove" : "replace", silent },
    ]),
  ),
);

function store(r: Reader, uid: boolean): ImapCommandBody {
  const set = arg(r, () => sequenceSet(r));
  r.space();
  let unchangedSince: bigint | null = null;
  if (r.peek() === 0x28) {
    r.list(() => {
      if (r.keyword("a store modifier") !== "UNCHANGEDSINCE") r.fail("Unknown store modifier");
      unchangedSince = arg(r, () => r.modSeq(false));
    }, false);
    r.space();
  }
  const item = STORE_ITEMS.get(r.run((b) => b > 0x20 && b !== 0x28).toUpperCase());
  if (item === undefined) r.fail("Invalid STORE data item");
  r.space();
  const flags = r.peek() === 0x28 ? flagList(r) : bareFlags(r);
  return finish(r, { name: "STORE", uid, set, unchangedSince, ...item, flags });
}

/** flag *(SP flag) without parentheses (RFC 3501 store-att-flags). */
function bareFlags(r: Reader): string[] {
  const flags: string[] = [];
  do flags.push(flag(r));
  while (r.accept(0x20));
  if (flags.includes("\\Recent")) r.fail("\\Recent flag may not be set");
  return flags;
}

const copyOrMove =
  (name: "COPY" | "MOVE") =>
  (r: Reader, uid: boolean): ImapCommandBody => {
    const set = arg(r, () => sequenceSet(r));
    return finish(r, { name, uid, set, mailbox: arg(r, () => mailbox(r)) });
  };

const entries: [string, CommandGrammar][] = [
  ["LOGIN", { uid: false, parse: login }],
  ["AUTHENTICATE", { uid: false, parse: authenticate }],
  ["ID", { uid: false, parse: id }],
  ["ENABLE", { uid: false, parse: enable }],
  ["SELECT", { uid: false, parse: select("SELECT") }],
  ["EXAMINE", { uid: false, parse: select("EXAMINE") }],
  ["RENAME", { uid: false, parse: rename }],
  ["STATUS", { uid: false, parse: status }],
  ["LIST", { uid: false, parse: list }],
  ["LSUB", { uid: false, parse: lsub }],
  ["APPEND", { uid: false, parse: append }],
  ["EXPUNGE", { uid: true, parse: expunge }],
  ["SEARCH", { uid: true, parse: search }],
  ["FETCH", { uid: true, parse: fetch }],
  ["STORE", { uid: true, parse: store }],
  ["COPY", { uid: true, parse: copyOrMove("COPY") }],
  ["MOVE", { uid: true, parse: copyOrMove("MOVE") }],
];
for (const verb of [
  "NOOP",
  "CAPABILITY",
  "LOGOUT",
  "STARTTLS",
  "CHECK",
  "CLOSE",
  "UNSELECT",
  "NAMESPACE",
  "IDLE",
]) {
  entries.push([verb, { uid: false, parse: noArgs(verb as NoArgVerb) }]);
}
for (const verb of ["CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT"] as const) {
  entries.push([verb, { uid: false, parse: oneMailbox(verb) }]);
}

/** Verb (upper case) → argument grammar. */
export const COMMAND_GRAMMARS: ReadonlyMap<string, CommandGrammar> = new Map(entries);
