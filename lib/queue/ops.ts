/*
 * ops — what qmgr, pickup and the queue tools do to existing queue files: append status
 * records, move between queues, remove, scan.
 *
 * Durability: an appended record is fsynced before the call resolves, so qmgr may forget
 * a recipient's result as soon as it does. A move is a rename followed by an fsync of
 * both directories (grouped with concurrent callers), so the file is never lost and at
 * worst, after a crash, is seen in its old queue again. Removal is not fsynced, as in
 * Postfix: a file that comes back after a crash has every recipient recorded as done and
 * is simply removed again.
 *
 * Appends are O_APPEND writes of one whole record line: the qmgr that owns a file in
 * active/ appends to it, and so does an smtp agent that records its own remote successes
 * (appendOutcome without sync) before it tells qmgr; lines from the two never mix, and
 * anything torn fails its CRC and is skipped by the reader.
 *
 * Renames, appends and directory listings are synchronous: they only touch the page cache
 * and take microseconds, while an asynchronous fs call is a round trip through libuv's
 * thread pool (futex, eventfd, epoll) that costs several times the system call itself.
 * What waits on the device stays in the thread pool: fsyncs, and unlinking a queue file
 * (on ext4 freeing the inode joins the journal's orphan list and often waits for a running
 * commit, 1-15 ms, which would stall every other message in qmgr) — unless the caller
 * says nothing else is waiting (removeQueueFile's `blocking`).
 *
 * Talks to: the file system. Security: queue IDs are checked before they become paths,
 * so a name like "../x" never escapes the queue directory.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { fsyncFd } from "../io/fsync.js";
import { syncDirectory } from "./dirs.js";
import { checkedRecord, type QueueName, type RecipientDeferral, type RecipientOutcome } from "./format.js";
import { isQueueId } from "./queue-id.js";

/** The path of a queue file; throws on anything that is not a queue ID. */
export function queuePath(queueDir: string, queue: QueueName, id: string): string {
  if (!isQueueId(id)) throw new RangeError(`not a queue ID: ${JSON.stringify(id)}`);
  return join(queueDir, queue, id);
}

async function appendRecord(path: string, record: Buffer, sync = true): Promise<void> {
  const fd = openSync(path, "a+");
  try {
    const { size } = fstatSync(fd);
    // A crash may have left a torn record without its newline: start on a fresh line so
    // the torn bytes cannot merge with (and invalidate) this record.
    const data = endsWithNewline(fd, size) ? record : Buffer.concat([Buffer.from("\n"), record]);
    writeAllSync(fd, data);
    if (sync) await fsyncFd(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** One write(2) in practice; O_APPEND puts every chunk at the end of the file. */
function writeAllSync(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

function endsWithNewline(fd: number, size: number): boolean {
  if (size === 0) return true;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] === 0x0a;
}

/**
 * Record a recipient's final outcome (sent, bounced, expired); fsynced on return unless
 * `sync` is false (an agent's own record, which must survive its crash or qmgr's, not the
 * host's: qmgr records the outcome durably again when it needs it).
 */
export function appendOutcome(
  path: string,
  outcome: RecipientOutcome,
  opts: { sync?: boolean } = {},
): Promise<void> {
  const { index, status, dsn, relay, text, time } = outcome;
  return appendRecord(path, checkedRecord("O", { index, status, dsn, relay, text, time }), opts.sync ?? true);
}

/** Record one delivery attempt's temporary failures and the next attempt time (ms); fsynced. */
export function appendDeferral(
  path: string,
  deferrals: RecipientDeferral[],
  nextAttempt: number,
): Promise<void> {
  const list = deferrals.map(({ index, dsn, relay, text, time }) => ({ index, dsn, relay, text, time }));
  return appendRecord(path, checkedRecord("D", { next: nextAttempt, list }));
}

/** Record that the delay warning (delay_warning_time) went out; fsynced. */
export function appendWarning(path: string, time: number): Promise<void> {
  return appendRecord(path, checkedRecord("W", { time }));
}

/**
 * Move a queue file between queues; a no-op if it already is in `to`. With durable false
 * the directories are not fsynced: for moves whose loss in a crash is harmless (qmgr's
 * incoming → active → deferred: the file is then simply found in its old queue and redone),
 * as Postfix's qmgr does. Moves an operator asks for (hold, release) stay durable.
 */
export async function moveQueueFile(
  queueDir: string,
  id: string,
  from: QueueName,
  to: QueueName,
  opts: { durable?: boolean } = {},
): Promise<void> {
  const source = queuePath(queueDir, from, id);
  const target = queuePath(queueDir, to, id);
  if (from === to) return;
  try {
    renameSync(source, target);
  } catch (err) {
    if (!isErrno(err, "ENOENT") || !existsSync(target)) throw err;
    // Already moved by an earlier, interrupted attempt: still make sure it is durable.
  }
  if (opts.durable === false) return;
  await Promise.all([syncDirectory(join(queueDir, to)), syncDirectory(join(queueDir, from))]);
}

/**
 * Remove a queue file; a no-op if it is already gone. With `blocking`, the unlink is a
 * blocking call instead of a thread-pool job: for a caller with nothing else waiting on
 * its event loop (qmgr with no other message active), where a wait for the journal only
 * delays work that is not there, and the thread pool's round trip (futex, eventfd, epoll
 * and a thread switch: ~0.1 ms CPU here against ~15 us for the call) is pure cost.
 */
export async function removeQueueFile(
  queueDir: string,
  id: string,
  queue: QueueName,
  opts: { blocking?: boolean } = {},
): Promise<void> {
  const path = queuePath(queueDir, queue, id);
  try {
    if (opts.blocking === true) unlinkSync(path);
    else await unlink(path);
  } catch (err) {
    if (!isErrno(err, "ENOENT")) throw err;
  }
}

/** Move an unreadable file to corrupt/ for the administrator (Postfix's corrupt queue). */
export function markCorrupt(queueDir: string, queue: QueueName, id: string): Promise<void> {
  return moveQueueFile(queueDir, id, queue, "corrupt");
}

/**
 * The queue IDs in one queue, in directory order; temporary and foreign files are skipped.
 * One readdir (a getdents64 batch or two) with the entry types, no stat per file.
 */
export function listQueue(queueDir: string, queue: QueueName): string[] {
  const ids: string[] = [];
  for (const entry of readdirSync(join(queueDir, queue), { withFileTypes: true })) {
    if (isQueueId(entry.name) && !entry.isDirectory()) ids.push(entry.name);
  }
  return ids;
}

/** listQueue() as an async iterable, for callers that act on each file as they go. */
export async function* scanQueue(queueDir: string, queue: QueueName): AsyncIterable<string> {
  yield* listQueue(queueDir, queue);
}

const TEMP_NAME = /^\.[0-9A-Za-z]{16}\.tmp$/;

/**
 * Remove temporary files ("." + ID + ".tmp") older than maxAgeMs: the remains of writers
 * that crashed before commit (their clients never got a 250). Returns how many went.
 */
export async function removeStaleTemps(
  queueDir: string,
  queue: QueueName,
  maxAgeMs: number,
): Promise<number> {
  const dir = join(queueDir, queue);
  const cutoff = Date.now() - maxAgeMs;
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (!TEMP_NAME.test(name)) continue;
    const path = join(dir, name);
    try {
      if (statSync(path).mtimeMs >= cutoff) continue;
      await unlink(path);
      removed += 1;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
  return removed;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}
