/*
 * context — what an IMAP command handler (one file per command in this folder) is given by
 * the mail engine, and what it gives back. A handler reads the typed command the parser
 * produced, works on the user's MailStore and the selected FolderSession, sends untagged
 * responses through ctx.send(), and returns the tagged status. The engine owns the state
 * machine (which commands are valid when), the untagged updates after each command
 * (ctx.refresh), IDLE, literals and output backpressure.
 *
 * Talks to: lib/mailbox (store, folders), lib/imap/serializer (responses).
 * RFCs: 3501 §6 (commands), 7.1 (status responses), 7162 (CONDSTORE enabling).
 * Security: handlers get names that the parser checked syntactically only; they must pass
 * mailbox names through MailStore (which refuses anything that could escape the mail
 * directory) and turn MailError into NO, never into a crash.
 */
import type { FolderCache } from "../../mailbox/cache.js";
import { MailError } from "../../mailbox/errors.js";
import type { FolderSession } from "../../mailbox/folder.js";
import type { MailStore } from "../../mailbox/folders.js";
import type { ImapCommand, ImapVerb } from "../parser/types.js";
import type { ImapResponse, ResponseCode } from "../serializer/responses.js";

export interface CommandResult {
  readonly status: "OK" | "NO" | "BAD";
  readonly code: ResponseCode | null;
  readonly text: string;
}

export const ok = (text: string, code: ResponseCode | null = null): CommandResult => ({
  status: "OK",
  code,
  text,
});
export const no = (text: string, code: ResponseCode | null = null): CommandResult => ({
  status: "NO",
  code,
  text,
});
export const bad = (text: string): CommandResult => ({ status: "BAD", code: null, text });

export interface ImapSettings {
  /** imap_hierarchy_separator. */
  readonly separator: string;
  /** APPENDLIMIT and the largest APPEND accepted, in bytes (mail_max_size); 0: none. */
  readonly appendLimit: number;
}

export interface SelectedMailbox {
  /** Canonical UTF-8 name ("INBOX", "Lists/debian"). */
  readonly name: string;
  readonly folder: FolderSession;
  /** EXAMINE, or a folder that cannot be written. */
  readonly readOnly: boolean;
  /** ENVELOPE / BODYSTRUCTURE strings computed once per message. */
  readonly cache: FolderCache;
  /** SEARCHRES (RFC 5182): the UIDs saved by SEARCH RETURN (SAVE), for "$". */
  saved: readonly number[];
}

export interface RefreshOptions {
  /** EXPUNGE responses may be sent (false during FETCH, STORE, SEARCH: RFC 3501 §7.4.1). */
  readonly expunges: boolean;
  /** UIDs whose flag changes must not be reported (STORE .SILENT's own changes). */
  readonly quiet?: ReadonlySet<number>;
  /** UIDs to report with FETCH FLAGS even if unchanged (STORE without .SILENT). */
  readonly always?: ReadonlySet<number>;
}

export interface ImapContext {
  readonly user: string;
  readonly store: MailStore;
  readonly settings: ImapSettings;
  /** The selected mailbox, null in the authenticated state. */
  readonly selected: SelectedMailbox | null;
  /** CONDSTORE is on for the session: ENABLEd, or used by a command (RFC 7162 §3.1). */
  readonly condstore: boolean;
  enableCondstore(): void;
  /** Send one untagged response; resolves when the socket can take more. */
  send(response: ImapResponse): Promise<void>;
  /**
   * Send wire text built by the caller from values it vouches for (numbers, validated atoms,
   * our own dates): the fast path of FETCH for index items.
   */
  sendText(text: string): Promise<void>;
  /**
   * Send whole untagged responses already in wire form, back to back (`ends`: the offset
   * where each ends), built by the caller from values it vouches for: FETCH's fast path
   * for whole messages. Once the promise resolves the session holds no reference to
   * `bytes`: the caller may fill the same buffer again.
   */
  sendWire(bytes: Buffer, ends: readonly number[]): Promise<void>;
  /** Sync the selected folder and send what changed: EXPUNGE, EXISTS, RECENT, FETCH. */
  refresh(opts: RefreshOptions): Promise<void>;
  /** SELECT / EXAMINE: opens (or with null closes) the selected mailbox. */
  setSelected(selected: SelectedMailbox | null): void;
  /** Log a storage failure (the client gets a generic NO). */
  logError(text: string): void;
}

export type CommandOf<N extends ImapVerb> = ImapCommand & { readonly name: N };
export type CommandHandler<N extends ImapVerb> = (
  command: CommandOf<N>,
  ctx: ImapContext,
) => Promise<CommandResult>;

/** The NO a storage error deserves (Dovecot's texts and RFC 5530 codes). */
export function storageFailure(ctx: ImapContext, err: unknown, what: string): CommandResult {
  if (err instanceof MailError) {
    switch (err.kind) {
      case "notFound":
        return no("Mailbox doesn't exist.", { name: "NONEXISTENT" });
      case "exists":
        return no("Mailbox already exists.", { name: "ALREADYEXISTS" });
      case "badName":
        return no("Invalid mailbox name.", { name: "CANNOT" });
      case "hasChildren":
        return no("Mailbox has children, delete them first.", { name: "HASCHILDREN" });
      case "perm":
        return no("Operation not permitted.", { name: "CANNOT" });
      case "noQuota":
        return no("Not enough disk space.", { name: "OVERQUOTA" });
      default:
        break;
    }
  }
  ctx.logError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  return no("Internal error occurred. Refer to server log for more information.", { name: "SERVERBUG" });
}
