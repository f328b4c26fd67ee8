/*
 * super — `postern super` (Postfix's postsuper): delete (-d), hold (-h), release (-H)
 * and requeue (-r) messages by queue ID or ALL, optionally limited to the queues named
 * after the options; "-" reads IDs from stdin. -s repairs the queue (repair.ts).
 *
 *   -d  removes from hold, incoming, active, deferred (and the message's bounce log)
 *   -h  moves incoming, active, deferred → hold
 *   -H  moves hold → deferred, due at once
 *   -r  moves hold, incoming, active, deferred → maildrop, where pickup feeds it to cleanup again
 *
 * Messages as postsuper prints them (stderr, and to the maillog): "postsuper: ID: removed",
 * "postsuper: Deleted: N messages", ... Safe while postern runs: renames are atomic, and a
 * file that moved or vanished meanwhile is reported and skipped. A named ID found in none
 * of the queues is "ID: no such message" and makes the exit status 1.
 * Security: IDs are checked before use (invalid → fatal, nothing done).
 */
import { rename } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { removeReportLog } from "../bounce/select.js";
import { trigger } from "../ipc/index.js";
import type { Logger } from "../log/index.js";
import { type QueueName, queuePath, removeQueueFile, scanQueue, syncDirectory } from "../queue/index.js";
import { type CliCommand, type CliContext, UsageError } from "./context.js";
import { repairQueue } from "./queue-repair.js";
import {
  checkQueueId,
  checkQueueNames,
  findMessage,
  idsFromText,
  isErrno,
  makeDue,
  plural,
  queueConfig,
  toolLogger,
} from "./queue-tools.js";

type Verb = "delete" | "hold" | "release" | "requeue";

interface Operation {
  from: readonly QueueName[];
  /** Does the work for one message in `queue`; ENOENT means it moved meanwhile. */
  apply(queueDir: string, id: string, queue: QueueName): Promise<void>;
  done: string;
  summary: string;
}

async function moveAtomically(queueDir: string, id: string, from: QueueName, to: QueueName): Promise<void> {
  // Not moveQueueFile: its "already moved" tolerance would hide a file another process took.
  await rename(queuePath(queueDir, from, id), queuePath(queueDir, to, id));
  await Promise.all([syncDirectory(join(queueDir, to)), syncDirectory(join(queueDir, from))]);
}

const OPERATIONS: Record<Verb, Operation> = {
  delete: {
    from: ["hold", "incoming", "active", "deferred"],
    async apply(queueDir, id, queue) {
      await removeQueueFile(queueDir, id, queue);
      await removeReportLog(queueDir, id);
    },
    done: "removed",
    summary: "Deleted",
  },
  hold: {
    from: ["incoming", "active", "deferred"],
    apply: (queueDir, id, queue) => moveAtomically(queueDir, id, queue, "hold"),
    done: "placed on hold",
    summary: "Placed on hold",
  },
  release: {
    from: ["hold"],
    async apply(queueDir, id, queue) {
      await moveAtomically(queueDir, id, queue, "deferred");
      await makeDue(queuePath(queueDir, "deferred", id));
    },
    done: "released from hold",
    summary: "Released from hold",
  },
  requeue: {
    from: ["hold", "incoming", "active", "deferred"],
    apply: (queueDir, id, queue) => moveAtomically(queueDir, id, queue, "maildrop"),
    done: "requeued",
    summary: "Requeued",
  },
};

interface RunState {
  ctx: CliContext;
  queueDir: string;
  log: Logger;
  missing: number;
}

function say(state: RunState, text: string): void {
  state.ctx.err(`postsuper: ${text}`);
}

/** The (queue, id) pairs an argument names: ALL, or one ID looked up in the queues. */
async function* targets(state: RunState, ids: readonly string[], queues: readonly QueueName[]) {
  for (const id of ids) {
    if (id === "ALL") {
      for (const queue of queues)
        for await (const each of scanQueue(state.queueDir, queue)) yield { id: each, queue };
      continue;
    }
    const found = await findMessage(state.queueDir, id, queues);
    if (found) yield { id, queue: found.queue };
    else {
      state.ctx.warn(`${id}: no such message`);
      state.missing++;
    }
  }
}

async function perform(state: RunState, verb: Verb, ids: readonly string[], only: readonly QueueName[]) {
  const op = OPERATIONS[verb];
  const queues = only.length > 0 ? op.from.filter((q) => only.includes(q)) : op.from;
  let count = 0;
  for await (const { id, queue } of targets(state, ids, queues)) {
    try {
      await op.apply(state.queueDir, id, queue);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
      state.ctx.warn(`${id}: no longer in ${queue} (delivered or moved meanwhile); skipped`);
      continue;
    }
    count++;
    say(state, `${id}: ${op.done}`);
    state.log.info(`${id}: ${op.done}`);
  }
  if (count > 0) say(state, `${op.summary}: ${plural(count, "message")}`);
  return count;
}

/** The IDs of one option's values: "ALL", checked IDs, and "-" = IDs from stdin. */
async function expandIds(stdin: () => Promise<string>, values: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const value of values) {
    if (value === "-") out.push(...idsFromText(await stdin()));
    else out.push(value === "ALL" ? value : checkQueueId(value));
  }
  return out;
}

function parse(argv: string[]) {
  const multi = { type: "string", multiple: true } as const;
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: { d: multi, h: multi, H: multi, r: multi, s: { type: "boolean" } },
  });
}

export const superCommand: CliCommand = {
  name: "super",
  usage: "super [-s] [-d ID|ALL|-] [-h ID|ALL|-] [-H ID|ALL|-] [-r ID|ALL|-] [queue ...]",
  summary: "delete, hold, release or requeue queued mail, or repair the queue (like postsuper)",
  async run(ctx, argv) {
    const { values, positionals } = parse(argv);
    const only = checkQueueNames(positionals);
    const plan: [Verb, string[] | undefined][] = [
      ["delete", values.d],
      ["hold", values.h],
      ["release", values.H],
      ["requeue", values.r],
    ];
    if (!values.s && plan.every(([, v]) => v === undefined)) throw new UsageError("nothing to do");
    // Several options may say "-": stdin is read once and its IDs serve each of them.
    let input: Promise<string> | undefined;
    const stdin = () => {
      input ??= ctx.stdin().then((b) => b.toString("utf8"));
      return input;
    };
    const expanded: [Verb, string[]][] = [];
    for (const [verb, v] of plan) if (v !== undefined) expanded.push([verb, await expandIds(stdin, v)]);
    const { config, queueDir } = queueConfig(ctx.configDir);
    const state: RunState = { ctx, queueDir, log: toolLogger(config, "postsuper"), missing: 0 };
    try {
      if (values.s) await repairQueue({ ctx, queueDir, config, log: state.log });
      for (const [verb, ids] of expanded) {
        const n = await perform(state, verb, ids, only);
        if (verb === "requeue" && n > 0) await trigger(join(queueDir, "public", "pickup"), "W", 1000);
        if (verb === "release" && n > 0) await trigger(join(queueDir, "public", "qmgr"), "D", 1000);
      }
    } finally {
      state.log.close();
    }
    return state.missing > 0 ? 1 : 0;
  },
};
