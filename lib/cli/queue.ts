/*
 * queue — `postern queue` (Postfix's postqueue): list the queue (-p, mailq's format;
 * -j, one JSON object per message as postqueue -j prints), and flush deferred mail
 * (-f all of it, -i one message, -s the mail for one domain).
 *
 * Listing reads the queue files directly, so it works without a running master. Flushing
 * makes the deferred files due (their mtime is the next attempt time) and then triggers
 * qmgr on public/qmgr: "F" for -f (qmgr rescans deferred ignoring due times), "D" for
 * -i/-s (qmgr picks up what is due). Without a running qmgr the files stay due and
 * "Cannot flush mail queue - mail system is down" is the answer, as postqueue says.
 * Security: read-only except for file times; IDs are checked before they become paths.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { trigger } from "../ipc/index.js";
import { type QueueFileInfo, queuePath, readQueueFile, scanQueue } from "../queue/index.js";
import { formatListing, queueEntries } from "../showq/listing.js";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "./context.js";
import { checkQueueId, findMessage, isErrno, makeDue, queueConfig } from "./queue-tools.js";

/** One message as postqueue -j prints it (pending recipients only). */
export interface QueueJsonEntry {
  queue_name: string;
  queue_id: string;
  arrival_time: number;
  message_size: number;
  forced_expire: boolean;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

export function jsonEntry(info: QueueFileInfo): QueueJsonEntry {
  const recipients: QueueJsonEntry["recipients"] = [];
  for (const [index, r] of info.envelope.recipients.entries()) {
    if (info.done.has(index)) continue;
    const why = info.deferred.get(index);
    recipients.push(why ? { address: r.address, delay_reason: why.text } : { address: r.address });
  }
  return {
    queue_name: info.queue,
    queue_id: info.id,
    arrival_time: Math.floor(info.envelope.arrivalTime / 1000),
    message_size: info.contentLength,
    forced_expire: false,
    sender: info.envelope.sender,
    recipients,
  };
}

async function listJson(ctx: CliContext, queueDir: string): Promise<number> {
  for await (const info of queueEntries(queueDir)) ctx.out(JSON.stringify(jsonEntry(info)));
  return 0;
}

async function wakeQmgr(queueDir: string, request: string): Promise<void> {
  if (!(await trigger(join(queueDir, "public", "qmgr"), request)))
    throw new CliFatal("Cannot flush mail queue - mail system is down");
}

/** Make every deferred message (or those `wanted` accepts) due now; returns how many. */
async function makeDeferredDue(
  queueDir: string,
  wanted: (info: QueueFileInfo) => boolean = () => true,
): Promise<number> {
  let count = 0;
  for await (const id of scanQueue(queueDir, "deferred")) {
    const path = queuePath(queueDir, "deferred", id);
    try {
      if (!wanted(await readQueueFile(path))) continue;
      await makeDue(path);
      count++;
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err; // delivered or moved meanwhile: nothing to flush
    }
  }
  return count;
}

/** True when a recipient still pending is in `domain` (or a subdomain written with a leading dot). */
export function hasPendingRecipientIn(info: QueueFileInfo, domain: string): boolean {
  const want = domain.toLowerCase().replace(/\.$/, "");
  return info.envelope.recipients.some((r, index) => {
    if (info.done.has(index)) return false;
    const at = r.address.lastIndexOf("@");
    const rcptDomain = r.address
      .slice(at + 1)
      .toLowerCase()
      .replace(/\.$/, "");
    return at >= 0 && (rcptDomain === want || (want.startsWith(".") && rcptDomain.endsWith(want)));
  });
}

async function flushOne(queueDir: string, id: string): Promise<void> {
  const found = await findMessage(queueDir, checkQueueId(id), [
    "deferred",
    "incoming",
    "active",
    "hold",
    "maildrop",
  ]);
  if (found === null) throw new CliFatal(`${id}: no such message`);
  if (found.queue === "deferred") await makeDue(found.path);
  await wakeQmgr(queueDir, "D");
}

export const queueCommand: CliCommand = {
  name: "queue",
  usage: "queue -p | -j | -f | -i ID | -s DOMAIN",
  summary: "list the mail queue (like mailq / postqueue -j) or flush deferred mail",
  async run(ctx, argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        p: { type: "boolean" },
        j: { type: "boolean" },
        f: { type: "boolean" },
        i: { type: "string" },
        s: { type: "string" },
      },
    });
    const chosen = [values.p, values.j, values.f, values.i, values.s].filter((v) => v !== undefined);
    if (chosen.length !== 1) throw new UsageError("give exactly one of -p, -j, -f, -i ID, -s DOMAIN");
    const { queueDir } = queueConfig(ctx.configDir);
    if (values.p) {
      ctx.out(await formatListing(queueDir));
      return 0;
    }
    if (values.j) return listJson(ctx, queueDir);
    if (values.i !== undefined) await flushOne(queueDir, values.i);
    else if (values.s !== undefined) {
      const domain = values.s;
      await makeDeferredDue(queueDir, (info) => hasPendingRecipientIn(info, domain));
      await wakeQmgr(queueDir, "D");
    } else {
      await makeDeferredDue(queueDir);
      await wakeQmgr(queueDir, "F");
    }
    return 0;
  },
};
