/*
 * cat — `postern cat [-e] [-h] [-b] ID` (Postfix's postcat -q): prints one queued message
 * in sections marked as postcat marks them:
 *   *** ENVELOPE RECORDS deferred/ID ***   size, arrival, sender, attributes, recipients
 *   *** MESSAGE CONTENTS deferred/ID ***   the message (-h header only, -b body only)
 *   *** HEADER EXTRACTED deferred/ID ***   per-recipient delivery status, attempts
 *   *** MESSAGE FILE END deferred/ID ***
 * Default is everything; -e, -h, -b select sections. The content is streamed a batch of
 * whole lines at a time, never read into memory at once. Read-only.
 * Security: the ID is checked before it becomes a path; content is printed as stored
 * (an operator's terminal may see control characters, as with postcat).
 */
import { StringDecoder } from "node:string_decoder";
import { parseArgs } from "node:util";
import { openContent, QueueFileError, type QueueFileInfo, readQueueFile } from "../queue/index.js";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "./context.js";
import { checkQueueId, ctime, findMessage, queueConfig } from "./queue-tools.js";

export interface CatSections {
  envelope: boolean;
  header: boolean;
  body: boolean;
}

export function envelopeRecords(info: QueueFileInfo): string[] {
  const env = info.envelope;
  const lines = [
    `message_size: ${info.contentLength}`,
    `message_arrival_time: ${ctime(env.arrivalTime)}`,
    `sender: ${env.sender}`,
  ];
  for (const [name, value] of Object.entries(env.attrs)) lines.push(`named_attribute: ${name}=${value}`);
  for (const [index, r] of env.recipients.entries()) {
    if (r.orcpt !== undefined) lines.push(`original_recipient: ${r.orcpt}`);
    if (r.notify !== undefined) lines.push(`dsn_notify_flags: ${r.notify}`);
    lines.push(`${info.done.has(index) ? "done_recipient" : "recipient"}: ${r.address}`);
  }
  return lines;
}

export function statusRecords(info: QueueFileInfo): string[] {
  const lines: string[] = [];
  for (const [index, r] of info.envelope.recipients.entries()) {
    const done = info.done.get(index);
    const deferred = info.deferred.get(index);
    const s = done ?? deferred;
    if (s === undefined) continue;
    const status = done?.status ?? "deferred";
    lines.push(
      `recipient_status: ${r.address}: status=${status}, dsn=${s.dsn}, relay=${s.relay}, time=${ctime(s.time)} (${s.text})`,
    );
  }
  lines.push(`delivery_attempts: ${info.attempts}`);
  if (info.nextAttempt > 0) lines.push(`next_attempt_time: ${ctime(info.nextAttempt)}`);
  if (info.warned) lines.push("delay_warning: sent");
  return lines;
}

/**
 * Print the content's header and/or body, a batch of whole lines at a time. The header
 * ends at the first empty line, which belongs to neither part (as postcat -h/-b).
 */
async function printContent(ctx: CliContext, info: QueueFileInfo, want: CatSections): Promise<void> {
  let inHeader = true;
  let pending = "";
  const emit = (lines: string[]) => {
    const out: string[] = [];
    for (const line of lines) {
      if (inHeader && line === "") {
        inHeader = false;
        if (want.header && want.body) out.push(line);
        continue;
      }
      if (inHeader ? want.header : want.body) out.push(line);
    }
    if (out.length > 0) ctx.out(`${out.join("\n")}\n`);
  };
  const decoder = new StringDecoder("utf8"); // a character split across chunks stays whole
  for await (const chunk of openContent(info)) {
    const text = pending + (typeof chunk === "string" ? chunk : decoder.write(chunk));
    const lines = text.split("\n");
    pending = lines.pop() ?? "";
    emit(lines);
  }
  pending += decoder.end();
  if (pending !== "") emit([pending]);
}

export async function printMessage(ctx: CliContext, info: QueueFileInfo, want: CatSections): Promise<void> {
  const name = `${info.queue}/${info.id}`;
  if (want.envelope) ctx.out(`*** ENVELOPE RECORDS ${name} ***\n${envelopeRecords(info).join("\n")}\n`);
  if (want.header || want.body) {
    ctx.out(`*** MESSAGE CONTENTS ${name} ***`);
    await printContent(ctx, info, want);
  }
  if (want.envelope) ctx.out(`*** HEADER EXTRACTED ${name} ***\n${statusRecords(info).join("\n")}\n`);
  ctx.out(`*** MESSAGE FILE END ${name} ***`);
}

export const catCommand: CliCommand = {
  name: "cat",
  usage: "cat [-e] [-h] [-b] ID",
  summary: "show a queued message: envelope, headers, body, recipient status (like postcat -q)",
  async run(ctx, argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { e: { type: "boolean" }, h: { type: "boolean" }, b: { type: "boolean" } },
    });
    if (positionals.length !== 1) throw new UsageError("give exactly one queue ID");
    const id = checkQueueId(positionals[0] ?? "");
    const all = !values.e && !values.h && !values.b;
    const want = {
      envelope: all || values.e === true,
      header: all || values.h === true,
      body: all || values.b === true,
    };
    const { queueDir } = queueConfig(ctx.configDir);
    const found = await findMessage(queueDir, id);
    if (found === null) throw new CliFatal(`${id}: no such message`);
    let info: QueueFileInfo;
    try {
      info = await readQueueFile(found.path);
    } catch (err) {
      if (err instanceof QueueFileError)
        throw new CliFatal(`${found.queue}/${id}: corrupt queue file: ${err.reason}`);
      throw new CliFatal(`${id}: no such message`); // moved or removed between the lookup and the read
    }
    await printMessage(ctx, info, want);
    return 0;
  },
};
