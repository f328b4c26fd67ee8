/*
 * protocol — the messages between cleanup and its clients (smtpd, pickup, bounce) on
 * queue_directory/public/cleanup, framed by lib/ipc. One connection carries any number of
 * messages, one after another:
 *   client: {op:"begin", ...}           cleanup: {ok:true, id} | {ok:false, ...}
 *   client: data frames…, then end      cleanup: {ok:true, id, messageId, size, nrcpt} | {ok:false, ...}
 *   (or, instead of end, {op:"abort"})  cleanup: {ok:true, id}
 * or, for smtpd, which makes the queue ID itself at the first accepted RCPT (so it logs
 * "ID: client=..." there, as Postfix does, without a round trip) and sends everything at once:
 *   client: {op:"begin", id, ...}, data frames…, then end
 *                                       cleanup: only as after end ({ok:false, ...} at once,
 *                                       then it closes, when it cannot create the file)
 */
import type { QueueEnvelope } from "../queue/index.js";
import type { ReceivedInfo } from "./added-headers.js";

export interface CleanupBegin {
  op: "begin";
  /**
   * A queue ID made by the client with newQueueId() (unique by its process ID and time):
   * cleanup creates the file under that name and does not answer begin.
   */
  id?: string;
  envelope: Omit<QueueEnvelope, "arrivalTime"> & { arrivalTime?: number };
  received?: ReceivedInfo;
  inputIsCrlf: boolean;
}

export interface CleanupAbort {
  op: "abort";
}

export type CleanupReply =
  | { ok: true; id: string; messageId?: string; size?: number; nrcpt?: number }
  | { ok: false; code: number; enhanced: string; text: string };
