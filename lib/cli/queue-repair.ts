/*
 * queue-repair — `postern super -s` (Postfix's postsuper -s plus the checks of
 * `postfix check` that touch the queue):
 *   - recreates missing queue directories (with Postfix's modes),
 *   - removes temporary files (".ID.tmp") older than ipc_timeout: writers that died
 *     before commit, whose clients never got a 250,
 *   - moves queue files that do not parse to corrupt/ (delivery never reads them),
 *   - gives queue files their mode 0600 back (maildrop files are the submitter's business),
 *   - removes bounce logs (bounce/ID) whose message is gone.
 * Safe while postern runs: a live writer's temp file is younger than ipc_timeout, renames
 * are atomic, and a file that vanished meanwhile is skipped.
 */
import { chmod, opendir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { MainCf } from "../config/index.js";
import { P } from "../config/params.js";
import type { Logger } from "../log/index.js";
import {
  ensureQueueDirs,
  isQueueId,
  markCorrupt,
  QueueFileError,
  type QueueName,
  queuePath,
  readQueueFile,
  removeStaleTemps,
  scanQueue,
} from "../queue/index.js";
import type { CliContext } from "./context.js";
import { findMessage, isErrno, plural } from "./queue-tools.js";

const CHECKED: readonly QueueName[] = ["maildrop", "incoming", "active", "deferred", "hold"];
const MODE_FIXED: readonly QueueName[] = ["incoming", "active", "deferred", "hold", "corrupt"];

export interface RepairOptions {
  ctx: CliContext;
  queueDir: string;
  config: MainCf;
  log: Logger;
}

export interface RepairCounts {
  temps: number;
  corrupt: number;
  modes: number;
  logs: number;
}

async function moveCorrupt(o: RepairOptions, queue: QueueName): Promise<number> {
  let moved = 0;
  for await (const id of scanQueue(o.queueDir, queue)) {
    try {
      await readQueueFile(queuePath(o.queueDir, queue, id));
    } catch (err) {
      if (!(err instanceof QueueFileError)) continue; // vanished or unreadable right now: leave it
      await markCorrupt(o.queueDir, queue, id).catch(() => undefined);
      o.ctx.warn(`${id}: corrupt queue file (${err.reason}); moved to corrupt`);
      o.log.warning(`${id}: corrupt queue file (${err.reason}); moved to corrupt`);
      moved++;
    }
  }
  return moved;
}

async function fixModes(o: RepairOptions, queue: QueueName): Promise<number> {
  let fixed = 0;
  for await (const id of scanQueue(o.queueDir, queue)) {
    const path = queuePath(o.queueDir, queue, id);
    try {
      if (((await stat(path)).mode & 0o7777) === 0o600) continue;
      await chmod(path, 0o600);
      fixed++;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
  return fixed;
}

async function removeOrphanLogs(o: RepairOptions): Promise<number> {
  let removed = 0;
  for await (const entry of await opendir(join(o.queueDir, "bounce"))) {
    if (!isQueueId(entry.name) || (await findMessage(o.queueDir, entry.name)) !== null) continue;
    await unlink(join(o.queueDir, "bounce", entry.name)).catch(() => undefined);
    removed++;
  }
  return removed;
}

export async function repairQueue(o: RepairOptions): Promise<RepairCounts> {
  ensureQueueDirs(o.queueDir);
  const maxAge = o.config.get(P.ipc_timeout) * 1000;
  const counts: RepairCounts = { temps: 0, corrupt: 0, modes: 0, logs: 0 };
  for (const queue of CHECKED) counts.temps += await removeStaleTemps(o.queueDir, queue, maxAge);
  for (const queue of CHECKED) counts.corrupt += await moveCorrupt(o, queue);
  for (const queue of MODE_FIXED) counts.modes += await fixModes(o, queue);
  counts.logs = await removeOrphanLogs(o);
  const parts = [
    counts.temps > 0 ? `${plural(counts.temps, "stale temporary file")} removed` : "",
    counts.corrupt > 0 ? `${plural(counts.corrupt, "corrupt file")} moved to corrupt` : "",
    counts.modes > 0 ? `${plural(counts.modes, "file mode")} fixed` : "",
    counts.logs > 0 ? `${plural(counts.logs, "orphaned bounce log")} removed` : "",
  ].filter((p) => p !== "");
  if (parts.length > 0) {
    o.ctx.err(`postsuper: Repaired: ${parts.join(", ")}`);
    o.log.info(`repaired queue: ${parts.join(", ")}`);
  }
  return counts;
}
