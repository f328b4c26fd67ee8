/*
 * routes — which handler serves which command, and in which state (RFC 3501 §3, §6):
 * "auth" commands run in the authenticated and the selected state, "selected" ones only
 * with a mailbox selected. Session-level commands (CAPABILITY, NOOP, LOGOUT, IDLE, ...)
 * are the engine's own (mail-engine.ts).
 */
import { appendCommand } from "../commands/append.js";
import type { CommandHandler } from "../commands/context.js";
import { copyCommand } from "../commands/copy.js";
import { expungeCommand } from "../commands/expunge.js";
import { fetchCommand } from "../commands/fetch.js";
import { listCommand, lsubCommand } from "../commands/list.js";
import {
  createCommand,
  deleteCommand,
  renameCommand,
  subscribeCommand,
  unsubscribeCommand,
} from "../commands/mailboxes.js";
import { searchCommand } from "../commands/search.js";
import { checkCommand, closeCommand, selectCommand, unselectCommand } from "../commands/select.js";
import { statusCommand } from "../commands/status.js";
import { storeCommand } from "../commands/store.js";
import type { ImapVerb } from "../parser/types.js";

export interface Route {
  readonly state: "auth" | "selected";
  // biome-ignore lint/suspicious/noExplicitAny: each handler takes its own command type; the engine dispatches by name
  readonly handler: CommandHandler<any>;
}

export const ROUTES: ReadonlyMap<ImapVerb, Route> = new Map<ImapVerb, Route>([
  ["SELECT", { state: "auth", handler: selectCommand }],
  ["EXAMINE", { state: "auth", handler: selectCommand }],
  ["CREATE", { state: "auth", handler: createCommand }],
  ["DELETE", { state: "auth", handler: deleteCommand }],
  ["RENAME", { state: "auth", handler: renameCommand }],
  ["SUBSCRIBE", { state: "auth", handler: subscribeCommand }],
  ["UNSUBSCRIBE", { state: "auth", handler: unsubscribeCommand }],
  ["LIST", { state: "auth", handler: listCommand }],
  ["LSUB", { state: "auth", handler: lsubCommand }],
  ["STATUS", { state: "auth", handler: statusCommand }],
  ["APPEND", { state: "auth", handler: appendCommand }],
  ["CHECK", { state: "selected", handler: checkCommand }],
  ["CLOSE", { state: "selected", handler: closeCommand }],
  ["UNSELECT", { state: "selected", handler: unselectCommand }],
  ["EXPUNGE", { state: "selected", handler: expungeCommand }],
  ["SEARCH", { state: "selected", handler: searchCommand }],
  ["FETCH", { state: "selected", handler: fetchCommand }],
  ["STORE", { state: "selected", handler: storeCommand }],
  ["COPY", { state: "selected", handler: copyCommand }],
  ["MOVE", { state: "selected", handler: copyCommand }],
]);
