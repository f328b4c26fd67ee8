/*
 * service — the cleanup daemon's connection handler: reads begin / content / end from a
 * client, runs a CleanupSession per message, and answers only after the queue file is
 * durable (fsync + rename + directory fsync). Then it wakes qmgr, coalescing wake-ups so a
 * burst of messages costs one trigger in flight at a time. Logs "ID: message-id=<...>".
 * Clients are postern processes, but their input is still checked: a malformed request
 * ends that connection, never the daemon.
 */
import type { Socket } from "node:net";
import { join } from "node:path";
import { IpcConnection, trigger } from "../ipc/index.js";
import { TriggerStream } from "../ipc/trigger-stream.js";
import { errorText, type Logger } from "../log/index.js";
import { isQueueId } from "../queue/queue-id.js";
import type { CleanupBegin, CleanupReply } from "./protocol.js";
import { type CleanupRequest, CleanupSession } from "./session.js";

export interface CleanupSettings {
  queueDir: string;
  myhostname: string;
  myorigin: string;
  mailName: string;
  addMissing: boolean;
  headerSizeLimit: number;
  timeoutMs: number;
}

/**
 * At most one qmgr trigger in flight; further requests meanwhile collapse into one more.
 * The wake-ups of one event-loop turn become one trigger. Under master it goes on a lasting
 * connection to public/qmgr (lib/ipc/trigger-stream.ts), which qmgr itself reads while master
 * shares the socket with it; when that connection is lost, over the IPC channel (viaMaster);
 * a one-shot connection to public/qmgr is the last resort.
 */
export class QmgrWaker {
  private inFlight = false;
  private again = false;
  private scheduled = false;
  private readonly stream: TriggerStream | undefined;

  constructor(
    private readonly path: string,
    private readonly viaMaster?: (data: string) => boolean,
  ) {
    this.stream = viaMaster ? new TriggerStream(path, () => this.viaMasterOrSocket()) : undefined;
  }

  wake(): void {
    if (this.viaMaster) {
      if (this.scheduled) return;
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        if (this.stream) this.stream.send("I");
        else this.viaMasterOrSocket();
      });
      return;
    }
    this.wakeBySocket();
  }

  private viaMasterOrSocket(): void {
    if (!this.viaMaster?.("I")) this.wakeBySocket();
  }

  private wakeBySocket(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    void trigger(this.path, "I").finally(() => {
      this.inFlight = false;
      if (this.again) {
        this.again = false;
        this.wakeBySocket();
      }
    });
  }
}

function isBegin(m: unknown): m is CleanupBegin {
  const b = m as CleanupBegin;
  return (
    typeof m === "object" &&
    m !== null &&
    b.op === "begin" &&
    typeof b.envelope === "object" &&
    Array.isArray(b.envelope?.recipients)
  );
}

export async function serveCleanup(
  socket: Socket,
  s: CleanupSettings,
  log: Logger,
  waker: QmgrWaker,
): Promise<void> {
  const conn = new IpcConnection(socket, { timeoutMs: s.timeoutMs });
  socket.resume();
  for (;;) {
    let first: unknown;
    try {
      first = await conn.nextMessage(s.timeoutMs);
    } catch {
      return; // client closed between messages
    }
    let keepGoing: boolean;
    if (isBegin(first)) keepGoing = await oneMessage(conn, first, s, log, waker);
    else {
      log.warning("unexpected request from client; closing connection");
      return;
    }
    if (!keepGoing) return;
  }
}

function requestOf(begin: CleanupBegin, s: CleanupSettings): CleanupRequest {
  return {
    ...(begin.id !== undefined ? { id: begin.id } : {}),
    envelope: begin.envelope,
    myhostname: s.myhostname,
    myorigin: s.myorigin,
    mailName: s.mailName,
    addMissing: s.addMissing,
    headerSizeLimit: s.headerSizeLimit,
    inputIsCrlf: begin.inputIsCrlf,
    ...(begin.received ? { received: begin.received } : {}),
  };
}

async function oneMessage(
  conn: IpcConnection,
  begin: CleanupBegin,
  s: CleanupSettings,
  log: Logger,
  waker: QmgrWaker,
): Promise<boolean> {
  // An ID from the client (smtpd) must look like one: it becomes a file name.
  if (begin.id !== undefined && !(typeof begin.id === "string" && isQueueId(begin.id))) {
    log.warning("bad queue ID from client; closing connection");
    return false;
  }
  let session: CleanupSession;
  try {
    session = await CleanupSession.begin(s.queueDir, requestOf(begin, s));
  } catch (err) {
    log.warning(`cannot create queue file: ${errorText(err)}`);
    conn.send(tempFail("4.3.0", "Error: queue file write error"));
    return false;
  }
  // The client that made the ID waits for the end's answer only (one wake-up, not two).
  if (begin.id === undefined) conn.send({ ok: true, id: session.id } satisfies CleanupReply);
  return content(conn, session, s, log, waker);
}

/** Data frames up to end (or abort): make the queue file durable and answer. */
async function content(
  conn: IpcConnection,
  session: CleanupSession,
  s: CleanupSettings,
  log: Logger,
  waker: QmgrWaker,
): Promise<boolean> {
  try {
    for (;;) {
      const f = await conn.next(s.timeoutMs);
      if (f.kind === "data") await session.write(f.chunk);
      else if (f.kind === "end") break;
      else {
        await session.abort();
        conn.send({ ok: true, id: session.id } satisfies CleanupReply);
        return true;
      }
    }
    const r = await session.finish();
    if (r.messageId) log.info(`${r.id}: message-id=${r.messageId}`);
    conn.send({
      ok: true,
      id: r.id,
      messageId: r.messageId,
      size: r.size,
      nrcpt: r.nrcpt,
    } satisfies CleanupReply);
    waker.wake();
    return true;
  } catch (err) {
    await session.abort().catch(() => undefined);
    if (conn.closed) {
      log.warning(`${session.id}: client went away before end of message; discarded`);
      return false;
    }
    log.warning(`${session.id}: queue file write error: ${errorText(err)}`);
    const full = /ENOSPC|EDQUOT/.test(errorText(err));
    conn.send(
      full
        ? tempFail("4.3.1", "Insufficient system storage")
        : tempFail("4.3.0", "Error: queue file write error"),
    );
    return false;
  }
}

function tempFail(enhanced: string, text: string): CleanupReply {
  return { ok: false, code: enhanced === "4.3.1" ? 452 : 451, enhanced, text };
}

export function qmgrTriggerPath(queueDir: string): string {
  return join(queueDir, "public", "qmgr");
}
