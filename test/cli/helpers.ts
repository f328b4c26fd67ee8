/*
 * helpers — a `postern init --dev` sandbox for the queue tool tests, queue files placed
 * in any queue with status records, and a CliContext that captures what a command prints.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "../../lib/cli/context.js";
import {
  appendDeferral,
  appendOutcome,
  moveQueueFile,
  type QueueEnvelope,
  QueueFileWriter,
  type QueueName,
  queuePath,
} from "../../lib/queue/index.js";
import { run } from "../helpers/sandbox.js";

export interface ToolSandbox {
  dir: string;
  queueDir: string;
  remove(): void;
}

export async function toolSandbox(): Promise<ToolSandbox> {
  const root = mkdtempSync(join(tmpdir(), "postern-cli-"));
  const dir = join(root, "sb");
  const base = 40000 + Math.floor(Math.random() * 20) * 1000;
  const r = await run(["init", "--dev", dir, "--port-base", String(base)]);
  if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
  return { dir, queueDir: join(dir, "spool"), remove: () => rmSync(root, { recursive: true, force: true }) };
}

export interface Placed {
  id: string;
  path: string;
}

export async function placeMessage(
  queueDir: string,
  queue: QueueName,
  opts: { envelope?: Partial<QueueEnvelope>; content?: string; deferText?: string; bounced?: number[] } = {},
): Promise<Placed> {
  const w = await QueueFileWriter.create(queueDir, {
    queue: queue === "maildrop" ? "maildrop" : "incoming",
    envelope: {
      sender: "alice@example.org",
      recipients: [{ address: "bob@example.net" }],
      arrivalTime: Date.UTC(2026, 0, 2, 3, 4, 5),
      attrs: { origin: "test" },
      ...opts.envelope,
    },
  });
  await w.write(Buffer.from(opts.content ?? "Subject: test\nFrom: alice@example.org\n\nhello\nworld\n"));
  const id = await w.commit();
  if (queue !== "maildrop" && queue !== "incoming") await moveQueueFile(queueDir, id, "incoming", queue);
  const path = queuePath(queueDir, queue, id);
  for (const index of opts.bounced ?? [])
    await appendOutcome(path, {
      index,
      status: "bounced",
      dsn: "5.1.1",
      relay: "local",
      text: "unknown user",
      time: 1,
    });
  if (opts.deferText !== undefined)
    await appendDeferral(path, [{ index: 0, dsn: "4.4.1", relay: "none", text: opts.deferText, time: 2 }], 3);
  return { id, path };
}

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Run a command as lib/cli's main would: fatal errors → "postern: fatal: ..." and 1, usage → 2. */
export async function runTool(
  cmd: CliCommand,
  configDir: string,
  args: string[],
  stdin = "",
): Promise<Captured> {
  let out = "";
  let err = "";
  const ctx: CliContext = {
    configDir,
    verbose: false,
    out: (t) => {
      out += t.endsWith("\n") ? t : `${t}\n`;
    },
    err: (t) => {
      err += t.endsWith("\n") ? t : `${t}\n`;
    },
    warn: (t) => {
      err += `postern: warning: ${t}\n`;
    },
    stdin: async () => Buffer.from(stdin),
  };
  try {
    return { code: await cmd.run(ctx, args), out, err };
  } catch (e) {
    if (e instanceof UsageError) return { code: 2, out, err: `${err}postern: ${e.message}\n` };
    if (e instanceof CliFatal) return { code: 1, out, err: `${err}postern: fatal: ${e.message}\n` };
    throw e;
  }
}
