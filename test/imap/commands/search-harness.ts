/*
 * search-harness — test helper for SEARCH: a temp Maildir filled through appendMessage, a
 * FolderSession on it, and a minimal ImapContext that records what the handler sends, so a
 * test can write `await h.run("UID SEARCH FROM alice")` and compare wire lines.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandResult, ImapContext, SelectedMailbox } from "../../../lib/imap/commands/context.js";
import { searchCommand } from "../../../lib/imap/commands/search.js";
import { parseCommand } from "../../../lib/imap/parser/index.js";
import { responseBuffer } from "../../../lib/imap/serializer/responses.js";
import { FolderCache } from "../../../lib/mailbox/cache.js";
import { FolderSession } from "../../../lib/mailbox/folder.js";
import { MailStore } from "../../../lib/mailbox/folders.js";
import { appendMessage } from "../../../lib/mailbox/transfer.js";
import { frameAll } from "../frame-helper.js";

export interface TestMessage {
  /** The message with LF line ends (as a Maildir stores it); a Buffer for raw 8-bit bytes. */
  readonly text: string | Buffer;
  readonly flags?: readonly string[];
  readonly internalDate?: Date;
}

export interface Reply {
  /** Untagged lines as sent, without CRLF. */
  readonly untagged: string[];
  /** The tagged line, e.g. "a OK Search completed." */
  readonly tagged: string;
}

export interface Harness {
  readonly dir: string;
  readonly folder: FolderSession;
  readonly selected: SelectedMailbox;
  readonly condstoreEnabled: () => boolean;
  /** Runs one command line (without tag) through the parser and searchCommand. */
  run(line: string): Promise<Reply>;
  close(): void;
}

const line = (b: Buffer): string => b.toString("utf8").replace(/\r\n$/, "");

function statusLine(tag: string, r: CommandResult): string {
  return line(responseBuffer({ type: "status", tag, status: r.status, code: r.code, text: r.text }));
}

export async function makeMaildir(messages: readonly TestMessage[]): Promise<string> {
  const root = join(mkdtempSync(join(tmpdir(), "postern-search-")), "Maildir");
  for (const m of messages) {
    const body = Buffer.isBuffer(m.text) ? m.text : Buffer.from(m.text, "utf8");
    await appendMessage(root, body, {
      flags: m.flags ?? [],
      ...(m.internalDate ? { internalDate: m.internalDate } : {}),
    });
  }
  return root;
}

export async function harness(messages: readonly TestMessage[], dir?: string): Promise<Harness> {
  const root = dir ?? (await makeMaildir(messages));
  const folder = await FolderSession.open(root);
  const selected: SelectedMailbox = {
    name: "INBOX",
    folder,
    readOnly: false,
    cache: new FolderCache(root, folder.uidValidity),
    saved: [],
  };
  let untagged: string[] = [];
  let condstore = false;
  const ctx: ImapContext = {
    user: "test",
    store: new MailStore(root),
    settings: { separator: "/", appendLimit: 0 },
    selected,
    get condstore() {
      return condstore;
    },
    enableCondstore: () => {
      condstore = true;
    },
    sendText: async (text) => {
      untagged.push(...text.split("\r\n").filter((l) => l !== ""));
    },
    sendWire: async (bytes) => {
      untagged.push(
        ...bytes
          .toString("utf8")
          .split("\r\n")
          .filter((l) => l !== ""),
      );
    },
    send: async (response) => {
      untagged.push(line(responseBuffer(response)));
    },
    refresh: async () => undefined,
    setSelected: () => undefined,
    logError: () => undefined,
  };
  let n = 0;
  return {
    dir: root,
    folder,
    selected,
    condstoreEnabled: () => condstore,
    async run(text) {
      const tag = `a${++n}`;
      const events = frameAll(Buffer.from(`${tag} ${text}\r\n`, "utf8"));
      const framed = events.find((e) => e.kind === "command");
      if (framed?.kind !== "command") throw new Error(`not a command: ${text}`);
      const parsed = parseCommand(framed.command);
      if (!parsed.ok) throw new Error(`parse error: ${parsed.text}`);
      if (parsed.command.name !== "SEARCH") throw new Error(`not SEARCH: ${text}`);
      untagged = [];
      const result = await searchCommand(parsed.command, ctx);
      return { untagged, tagged: statusLine(tag, result).slice(tag.length + 1) };
    },
    close: () => rmSync(join(root, ".."), { recursive: true, force: true }),
  };
}
