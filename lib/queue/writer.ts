/*
 * writer — creates one queue file durably (cleanup, and `postern sendmail` into maildrop).
 *
 * The file is written under a temporary name (".ID.tmp", which no scanner picks up) in
 * the target queue directory, content is streamed through a small buffer, and commit()
 * then: appends the late attributes and the end record, patches the content length with
 * a positioned write, fsyncs the file, renames it to its queue ID and fsyncs the directory
 * (grouped with concurrent commits). Only after commit() resolves may smtpd answer 250.
 * A crash before the rename leaves a temporary file that no one delivers from.
 *
 * Talks to: the file system only. Security: files are created 0600 with O_EXCL, so a
 * pre-planted name is never followed or reused.
 */
import type { FileHandle } from "node:fs/promises";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { syncDirectory } from "./dirs.js";
import {
  encodeAttr,
  encodeEnvelope,
  encodeLength,
  LENGTH_FIELD_OFFSET,
  type QueueEnvelope,
} from "./format.js";
import { newQueueId } from "./queue-id.js";

/** Content is gathered into writes of this size: one write per 64 KiB, not one per line. */
const WRITE_BUFFER_BYTES = 64 * 1024;

export interface QueueFileWriterOptions {
  queue: "incoming" | "maildrop";
  envelope: QueueEnvelope;
}

type WriterState = "open" | "committing" | "committed" | "aborted";

export class QueueFileWriter {
  readonly id: string;
  readonly #dir: string;
  readonly #queue: "incoming" | "maildrop";
  readonly #tempPath: string;
  readonly #handle: FileHandle;
  #position: number;
  readonly #contentOffset: number;
  /** Small writes are copied here (callers may reuse their buffers once write() resolves). */
  readonly #buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  #buffered = 0;
  #state: WriterState = "open";

  private constructor(init: {
    id: string;
    dir: string;
    queue: "incoming" | "maildrop";
    tempPath: string;
    handle: FileHandle;
    header: number;
  }) {
    this.id = init.id;
    this.#dir = init.dir;
    this.#queue = init.queue;
    this.#tempPath = init.tempPath;
    this.#handle = init.handle;
    this.#position = init.header;
    this.#contentOffset = init.header;
  }

  /** Open a new queue file in queueDir/<queue>/ and write its envelope records. */
  static async create(queueDir: string, opts: QueueFileWriterOptions): Promise<QueueFileWriter> {
    const id = newQueueId();
    const dir = join(queueDir, opts.queue);
    const tempPath = join(dir, `.${id}.tmp`);
    const handle = await open(tempPath, "wx", 0o600);
    const header = encodeEnvelope(opts.envelope);
    try {
      await writeFully(handle, header, 0);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await unlink(tempPath).catch(() => undefined);
      throw err;
    }
    return new QueueFileWriter({ id, dir, queue: opts.queue, tempPath, handle, header: header.length });
  }

  /** Bytes of content written so far. */
  get contentLength(): number {
    return this.#position - this.#contentOffset + this.#buffered;
  }

  /** Append content bytes (already LF-normalised); resolves when chunk may be reused. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#state !== "open") throw new Error(`queue file ${this.id} is ${this.#state}`);
    if (this.#buffered + chunk.length > WRITE_BUFFER_BYTES) await this.#flush();
    if (chunk.length >= WRITE_BUFFER_BYTES) {
      await writeFully(this.#handle, chunk, this.#position);
      this.#position += chunk.length;
      return;
    }
    chunk.copy(this.#buffer, this.#buffered);
    this.#buffered += chunk.length;
  }

  async #flush(): Promise<void> {
    if (this.#buffered === 0) return;
    await writeFully(this.#handle, this.#buffer.subarray(0, this.#buffered), this.#position);
    this.#position += this.#buffered;
    this.#buffered = 0;
  }

  /**
   * Make the file durable and give it its name. lateAttrs (message_id, size, ...) are
   * recorded after the content. Returns the queue ID. On failure the temp file is removed.
   */
  async commit(lateAttrs: Record<string, string> = {}): Promise<string> {
    if (this.#state !== "open") throw new Error(`queue file ${this.id} is ${this.#state}`);
    this.#state = "committing";
    const finalPath = join(this.#dir, this.id);
    let renamed = false;
    try {
      await this.#flush();
      const length = this.#position - this.#contentOffset;
      const trailer = Object.entries(lateAttrs).map(([name, value]) => `${encodeAttr(name, value)}\n`);
      await writeFully(this.#handle, Buffer.from(`${trailer.join("")}E\n`, "utf8"), this.#position);
      await writeFully(this.#handle, encodeLength(length), LENGTH_FIELD_OFFSET);
      await this.#handle.sync();
      await this.#handle.close();
      await rename(this.#tempPath, finalPath);
      renamed = true;
      await syncDirectory(this.#dir).catch((err: unknown) => {
        // An unprivileged sender may write into maildrop but not read (so not fsync) the
        // directory: the file itself is fsynced, as with Postfix's postdrop.
        if (!(this.#queue === "maildrop" && (err as NodeJS.ErrnoException).code === "EACCES")) throw err;
      });
      this.#state = "committed";
      return this.id;
    } catch (err) {
      // The caller will report a temporary failure, so the message must not stay queued
      // (best effort: qmgr may already hold it, and then the client's retry duplicates).
      if (renamed) await unlink(finalPath).catch(() => undefined);
      await this.#discard();
      throw err;
    }
  }

  /** Give up on this message: close and remove the temporary file. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#state === "committed" || this.#state === "aborted") return;
    await this.#discard();
  }

  async #discard(): Promise<void> {
    this.#state = "aborted";
    this.#buffered = 0;
    await this.#handle.close().catch(() => undefined);
    await unlink(this.#tempPath).catch(() => undefined);
  }
}

/** Write all of data at position, looping over short writes. */
export async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
