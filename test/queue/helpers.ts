/*
 * helpers — temp queue directories and small readers for the queue tests.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureQueueDirs } from "../../lib/queue/index.js";

export function withQueueDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "postern-queue-"));
  ensureQueueDirs(dir);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(parts);
}
