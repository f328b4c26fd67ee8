/*
 * helpers — shared fixtures for the local delivery tests: temp directories and content streams.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary directory and its cleanup. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "postern-delivery-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Content as an async iterable of the given chunks. */
export async function* chunks(...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p, "utf8");
}

/** Content that yields some bytes, then fails like a broken queue file read. */
export async function* failingAfter(text: string): AsyncGenerator<Buffer> {
  yield Buffer.from(text, "utf8");
  await new Promise((r) => setImmediate(r));
  throw Object.assign(new Error("queue file read error"), { code: "EIO" });
}

/** Content fed one byte at a time. */
export async function* byteByByte(text: string): AsyncGenerator<Buffer> {
  const buf = Buffer.from(text, "utf8");
  for (let i = 0; i < buf.length; i++) yield buf.subarray(i, i + 1);
}
