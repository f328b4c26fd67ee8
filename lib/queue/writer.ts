/*
 * writer — creates one queue file durably (cleanup, and `postern sendmail` into maildrop).
 *
 * The file is written under a temporary name (".ID.tmp", which no scanner picks up) in
 * the target queue directory, content is streamed through a small buffer, and commit()
 * then: appends the late attributes and the end record (with the envelope too when the
 * message fit in the buffer; else it patches the content length with a positioned
 * write), fsyncs the file, renames it to its queue ID and fsyncs the directory (grouped
 * with concurrent commits). Only after commit() resolves may smtpd answer 250.
 * A crash before the rename leaves a temporary file that no one delivers from.
 *
 * Talks to: the file system only. Security: files are created 0600 with O_EXCL, so a
 * pre-planted name is never followed or reused.
 */
import { closeSync, openSync, renameSync, unlinkSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fsyncWhenAlone } from "../io/fsync.js";
import { writevFully } from "../io/write-fully.js";
import { syncDirectory, syncDirectoryNow } from "./dirs.js";
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
  /** A queue ID made by the client (smtpd, newQueueId) instead of a new one here. */
  id?: string;
}

type WriterState = "open" | "committing" | "committed" | "aborted";

/*
 * Why open/write/close/rename are synchronous here and only the fsyncs are not: each
 * asynchronous fs call is a round trip through libuv's thread pool that costs far more
 * than the system call itself when the data only goes to the page cache. A typical
 * message is now one writev(2) at commit (envelope with its length filled in, content,
 * trailer) and two thread-pool jobs (file fsync, grouped directory fsync) which may take
 * milliseconds and must not stall the other clients of this process. When this is the
 * process's only open queue file (one client at a time, the sendmail command), nobody else
 * waits for the event loop, and both fsyncs are blocking calls instead: the thread pool's
 * round trips cost more CPU than they save.
 */

/** Queue files open (being written or committed) in this process. */
let openWriters = 0;
/** Write buffers of finished writers, reused by the next ones (one 64 KiB allocation less per message). */
const EMPTY_BUFFER = Buffer.alloc(0);
const spareBuffers: Buffer[] = [];
const MAX_SPARE_BUFFERS = 4;
export class QueueFileWriter {
  readonly id: string;
  readonly #dir: string;
  readonly #queue: "incoming" | "maildrop";
  readonly #tempPath: string;
  readonly #fd: number;
  /** The envelope records, kept in memory until the first flush (small messages: commit). */
  #header: Buffer | null;
  /** File offset of the next content byte. */
  #position: number;
  #contentOffset: number;
  /** Small writes are copied here (callers may reuse their buffers once write() resolves). */
  #buffer: Buffer = spareBuffers.pop() ?? Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  #bufferReleased = false;
  #buffered = 0;
  #state: WriterState = "open";

  private constructor(init: {
    id: string;
    dir: string;
    queue: "incoming" | "maildrop";
    tempPath: string;
    fd: number;
    header: Buffer;
  }) {
    this.id = init.id;
    this.#dir = init.dir;
    this.#queue = init.queue;
    this.#tempPath = init.tempPath;
    this.#fd = init.fd;
    this.#header = init.header;
    this.#position = init.header.length;
    this.#contentOffset = init.header.length;
    openWriters++;
  }

  /** Open a new queue file in queueDir/<queue>/ for its envelope records. */
  static async create(queueDir: string, opts: QueueFileWriterOptions): Promise<QueueFileWriter> {
    const id = opts.id ?? newQueueId();
    const dir = join(queueDir, opts.queue);
    const tempPath = join(dir, `.${id}.tmp`);
    const header = encodeEnvelope(opts.envelope);
    const fd = openSync(tempPath, "wx", 0o600);
    return new QueueFileWriter({ id, dir, queue: opts.queue, tempPath, fd, header });
  }

  /** Bytes of content written so far. */
  get contentLength(): number {
    return this.#position - this.#contentOffset + this.#buffered;
  }

  /** Append content bytes (already LF-normalised); resolves when chunk may be reused. */
  async write(chunk: Buffer): Promise<void> {
    if (this.#state !== "open") throw new Error(`queue file ${this.id} is ${this.#state}`);
    if (this.#buffered + chunk.length > WRITE_BUFFER_BYTES) this.#flush([]);
    if (chunk.length >= WRITE_BUFFER_BYTES) {
      this.#flush([chunk]);
      return;
    }
    chunk.copy(this.#buffer, this.#buffered);
    this.#buffered += chunk.length;
  }

  /** Write the unwritten header (if any), the buffered content and then extra, in one writev. */
  #flush(extra: Buffer[]): void {
    const start = this.#header === null ? this.#position : 0;
    const pieces = [
      ...(this.#header === null ? [] : [this.#header]),
      this.#buffer.subarray(0, this.#buffered),
    ];
    pieces.push(...extra);
    writevFully(this.#fd, pieces, start);
    const content = this.#buffered + extra.reduce((n, b) => n + b.length, 0);
    this.#position += content;
    this.#buffered = 0;
    this.#header = null;
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
      const length = this.contentLength;
      const trailer = Object.entries(lateAttrs).map(([name, value]) => `${encodeAttr(name, value)}\n`);
      const end = Buffer.from(`${trailer.join("")}E\n`, "utf8");
      const header = this.#header;
      if (header !== null) encodeLength(length).copy(header, LENGTH_FIELD_OFFSET);
      this.#flush([end]);
      this.#releaseBuffer();
      if (header === null) writevFully(this.#fd, [encodeLength(length)], LENGTH_FIELD_OFFSET);
      const alone = openWriters === 1;
      await fsyncWhenAlone(this.#fd, this.#tempPath, alone);
      this.#close();
      renameSync(this.#tempPath, finalPath);
      renamed = true;
      await this.#syncDirectory(alone).catch((err: unknown) => {
        // An unprivileged sender may write into maildrop but not read (so not fsync) the
        // directory: the file itself is fsynced, as with Postfix's postdrop.
        if (!(this.#queue === "maildrop" && (err as NodeJS.ErrnoException).code === "EACCES")) throw err;
      });
      this.#state = "committed";
      openWriters--;
      return this.id;
    } catch (err) {
      // The caller will report a temporary failure, so the message must not stay queued
      // (best effort: qmgr may already hold it, and then the client's retry duplicates).
      if (renamed) ignoreErrors(() => unlinkSync(finalPath));
      this.#discard();
      throw err;
    }
  }

  /** Give up on this message: close and remove the temporary file. Safe to call twice. */
  async abort(): Promise<void> {
    if (this.#state === "committed" || this.#state === "aborted") return;
    this.#discard();
  }

  /** Once nothing more is written (the content has gone to the file): the buffer may serve another writer. */
  #releaseBuffer(): void {
    if (this.#bufferReleased) return;
    this.#bufferReleased = true;
    if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(this.#buffer);
    this.#buffer = EMPTY_BUFFER;
  }

  #fdOpen = true;
  #close(): void {
    if (!this.#fdOpen) return;
    this.#fdOpen = false;
    closeSync(this.#fd);
  }

  async #syncDirectory(alone: boolean): Promise<void> {
    if (!(alone && syncDirectoryNow(this.#dir))) await syncDirectory(this.#dir);
  }

  #discard(): void {
    if (this.#state !== "aborted") openWriters--;
    this.#state = "aborted";
    this.#buffered = 0;
    this.#releaseBuffer();
    ignoreErrors(() => this.#close());
    ignoreErrors(() => unlinkSync(this.#tempPath));
  }
}

function ignoreErrors(action: () => void): void {
  try {
    action();
  } catch {
    /* best effort clean-up */
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
