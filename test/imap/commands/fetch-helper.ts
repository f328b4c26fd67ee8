/*
 * fetch-helper — test helper for FETCH: a temp Maildir with real message files, a
 * FolderSession on it, and a minimal ImapContext that runs a command line through the real
 * parser and the handler and collects the exact wire bytes of what was sent. It also counts
 * how often message files were opened (FolderSession.messagePath/snapshotPath/openMessage).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CommandResult, ImapContext, RefreshOptions } from "../../../lib/imap/commands/context.js";
import { fetchCommand } from "../../../lib/imap/commands/fetch.js";
import { parseCommand } from "../../../lib/imap/parser/index.js";
import { encodeResponse, type ImapResponse, streamResponse } from "../../../lib/imap/serializer/responses.js";
import { FolderCache } from "../../../lib/mailbox/cache.js";
import { FolderSession } from "../../../lib/mailbox/folder.js";
import type { MailStore } from "../../../lib/mailbox/folders.js";
import { appendMessage } from "../../../lib/mailbox/transfer.js";
import { frameAll } from "../frame-helper.js";

const dirs: string[] = [];

export function tempMaildir(): string {
  const d = mkdtempSync(join(tmpdir(), "postern-fetch-"));
  dirs.push(d);
  const root = join(d, "Maildir");
  for (const sub of ["cur", "new", "tmp"]) mkdirSync(join(root, sub), { recursive: true });
  return root;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Stored {
  readonly text: string | Buffer;
  readonly flags?: readonly string[];
  readonly date?: Date;
}

/** Appends the messages (UIDs 1..n) and returns the folder root. */
export async function maildirWith(messages: readonly Stored[]): Promise<string> {
  const root = tempMaildir();
  for (const m of messages) {
    const body = typeof m.text === "string" ? Buffer.from(m.text, "utf8") : m.text;
    await appendMessage(root, body, {
      flags: m.flags ?? [],
      internalDate: m.date ?? new Date(Date.UTC(2025, 2, 3, 9, 15, 0)),
    });
  }
  return root;
}

export interface Run {
  readonly result: CommandResult;
  /** Every response sent, as wire text (latin1). */
  readonly wire: string;
  readonly responses: ImapResponse[];
}

export class TestSession {
  readonly sent: string[] = [];
  readonly errors: string[] = [];
  readonly refreshes: RefreshOptions[] = [];
  opened = 0;
  condstore = false;
  readonly ctx: ImapContext;

  private constructor(
    readonly folder: FolderSession,
    readonly cache: FolderCache,
    readOnly: boolean,
  ) {
    const countOpen = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) => {
      return (...args: A): Promise<R> => {
        this.opened++;
        return fn.apply(folder, args);
      };
    };
    folder.messagePath = countOpen(folder.messagePath);
    folder.openMessage = countOpen(folder.openMessage);
    const snapshotPath = folder.snapshotPath;
    folder.snapshotPath = (uid: number): string | undefined => {
      this.opened++;
      return snapshotPath.call(folder, uid);
    };
    this.ctx = this.context(readOnly);
  }

  /** A session on any FolderSession (or a stand-in with the same surface). */
  static of(folder: FolderSession, cache: FolderCache, readOnly = false): TestSession {
    return new TestSession(folder, cache, readOnly);
  }

  static async open(root: string, opts: { readOnly?: boolean } = {}): Promise<TestSession> {
    const folder = await FolderSession.open(root, { readOnly: opts.readOnly === true });
    return new TestSession(folder, new FolderCache(root, folder.uidValidity), opts.readOnly === true);
  }

  private context(readOnly: boolean): ImapContext {
    const session = this;
    const selected = { name: "INBOX", folder: this.folder, readOnly, cache: this.cache, saved: [] };
    return {
      user: "alice",
      store: undefined as unknown as MailStore,
      settings: { separator: "/", appendLimit: 0 },
      selected,
      get condstore() {
        return session.condstore;
      },
      enableCondstore: () => {
        session.condstore = true;
      },
      sendText: async (text) => {
        // one entry per response line, as send() records them
        for (const line of text.split(/(?<=\r\n)/)) if (line !== "") session.sent.push(line);
      },
      sendWire: async (bytes, ends) => {
        let from = 0;
        for (const end of ends) {
          session.sent.push(bytes.toString("latin1", from, end));
          from = end;
        }
        if (from !== bytes.length) throw new Error("sendWire: the ends do not cover the bytes");
      },
      send: async (response) => {
        const parts = encodeResponse(response);
        if (parts.every((p) => Buffer.isBuffer(p))) {
          // the cheap path keeps the 100,000-message test fast under node:test's promise hooks
          session.sent.push(Buffer.concat(parts as Buffer[]).toString("latin1"));
          return;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of streamResponse(response)) chunks.push(Buffer.from(chunk));
        session.sent.push(Buffer.concat(chunks).toString("latin1"));
      },
      refresh: async (opts) => {
        session.refreshes.push(opts);
        await session.folder.sync({ announceExpunges: opts.expunges });
      },
      setSelected: () => undefined,
      logError: (text) => session.errors.push(text),
    };
  }

  /** Runs one FETCH / UID FETCH command line (without tag) and returns what it sent. */
  async run(line: string): Promise<Run> {
    const events = frameAll(Buffer.from(`a ${line}\r\n`, "latin1"));
    const event = events[0];
    if (event?.kind !== "command") throw new Error(`not a command: ${line}`);
    const parsed = parseCommand(event.command);
    if (!parsed.ok) throw new Error(`parse error: ${parsed.text}`);
    const command = parsed.command;
    if (command.name !== "FETCH") throw new Error(`not FETCH: ${line}`);
    const before = this.sent.length;
    const responses: ImapResponse[] = [];
    const send = this.ctx.send;
    const ctx: ImapContext = Object.create(this.ctx, {
      send: {
        value: (r: ImapResponse) => {
          responses.push(r);
          return send(r);
        },
      },
    });
    const result = await fetchCommand(command, ctx);
    return { result, wire: this.sent.slice(before).join(""), responses };
  }
}
