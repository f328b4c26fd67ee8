/*
 * listing — the queue listing behind `mailq` / `postern queue -p` (Postfix's showq):
 * every message in maildrop, incoming, active, deferred and hold, in Postfix's format:
 * "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------", a '*' after the ID
 * for active mail and '!' for held mail, the last deferral reason under each pending
 * recipient, and the "-- N Kbytes in M Requests." trailer (or "Mail queue is empty").
 */
import { type QueueFileInfo, type QueueName, queuePath, readQueueFile, scanQueue } from "../queue/index.js";

const LISTED: QueueName[] = ["maildrop", "incoming", "active", "deferred", "hold"];
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function arrival(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export async function* queueEntries(queueDir: string): AsyncIterable<QueueFileInfo> {
  for (const q of LISTED) {
    for await (const id of scanQueue(queueDir, q)) {
      try {
        yield await readQueueFile(queuePath(queueDir, q, id));
      } catch {
        /* vanished or being written: not listed, as showq skips it */
      }
    }
  }
}

export function formatEntry(info: QueueFileInfo): string {
  const mark = info.queue === "active" ? "*" : info.queue === "hold" ? "!" : " ";
  const env = info.envelope;
  const head = `${(info.id + mark).padEnd(11)} ${String(info.contentLength).padStart(8)} ${arrival(env.arrivalTime)}  ${env.sender || "MAILER-DAEMON"}`;
  const lines = [head];
  env.recipients.forEach((r, i) => {
    if (info.done.has(i)) return;
    const why = info.deferred.get(i);
    if (why) lines.push(`${"".padEnd(20)}(${why.text})`);
    lines.push(`${"".padEnd(41)} ${r.address}`);
  });
  return `${lines.join("\n")}\n`;
}

export async function formatListing(queueDir: string): Promise<string> {
  let out = "";
  let count = 0;
  let bytes = 0;
  for await (const info of queueEntries(queueDir)) {
    if (count === 0) out += "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n";
    out += `${formatEntry(info)}\n`;
    count++;
    bytes += info.contentLength;
  }
  if (count === 0) return "Mail queue is empty\n";
  return `${out}-- ${Math.ceil(bytes / 1024)} Kbytes in ${count} Request${count === 1 ? "" : "s"}.\n`;
}
