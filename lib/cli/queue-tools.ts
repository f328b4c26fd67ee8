/*
 * queue-tools — what `postern queue`, `postern super` and `postern cat` share: the queue
 * directory from main.cf, queue ID and queue name checks with Postfix-style errors,
 * finding a message in the queues, making a deferred file due now, ctime-style dates,
 * and a maillog logger for the tools that change the queue (postsuper logs there too).
 *
 * The tools read and rename queue files directly, so they work without a running master
 * and are safe while one runs: a file that moved meanwhile is reported and skipped.
 * Security: every ID from the command line or stdin is checked before it becomes a path.
 */
import { stat, utimes } from "node:fs/promises";
import { loadMainCf, type MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { Logger } from "../log/index.js";
import { isQueueId, type QueueName, queuePath } from "../queue/index.js";
import { logHost } from "../server/index.js";
import { CliFatal, UsageError } from "./context.js";

export const ALL_QUEUES: readonly QueueName[] = [
  "maildrop",
  "incoming",
  "active",
  "deferred",
  "hold",
  "corrupt",
];

export interface QueueToolConfig {
  config: MainCf;
  queueDir: string;
}

export function queueConfig(configDir: string): QueueToolConfig {
  const config = loadMainCf(configDir);
  return { config, queueDir: config.get(P.queue_directory) };
}

/** Throws "invalid queue ID: x" (exit 1) for anything that is not a queue ID. */
export function checkQueueId(id: string): string {
  if (!isQueueId(id)) throw new CliFatal(`invalid queue ID: ${id}`);
  return id;
}

/** Queue names given on the command line; unknown names are usage errors. */
export function checkQueueNames(names: readonly string[]): QueueName[] {
  for (const name of names)
    if (!(ALL_QUEUES as readonly string[]).includes(name))
      throw new UsageError(`invalid queue name: ${name}`);
  return names as QueueName[];
}

/** The first of `queues` that holds the message, or null. */
export async function findMessage(
  queueDir: string,
  id: string,
  queues: readonly QueueName[] = ALL_QUEUES,
): Promise<{ queue: QueueName; path: string } | null> {
  for (const queue of queues) {
    const path = queuePath(queueDir, queue, id);
    try {
      if ((await stat(path)).isFile()) return { queue, path };
    } catch {
      /* not in this queue */
    }
  }
  return null;
}

/** A deferred file's mtime is its next attempt time (qmgr): set it to now. */
export async function makeDue(path: string): Promise<void> {
  const now = new Date();
  await utimes(path, now, now);
}

export function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

/** "1 message" / "2 messages" */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** ctime(3) without the newline: "Thu Jan  1 00:00:00 2026", local time (postcat's format). */
export function ctime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  const time = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${time} ${d.getFullYear()}`;
}

/** A maillog logger tagged like a Postfix tool ("postern/postsuper"), nothing on stderr. */
export function toolLogger(config: MainCf, program: string): Logger {
  return new Logger({
    file: config.get(P.maillog_file),
    tag: `${config.get(P.syslog_name)}/${program}`,
    host: logHost(config),
  });
}

/** Split IDs read from stdin (`-d -`): whitespace separated, each checked. */
export function idsFromText(text: string): string[] {
  return text
    .split(/\s+/)
    .filter((word) => word !== "")
    .map(checkQueueId);
}
