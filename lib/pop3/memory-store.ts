/*
 * memory-store — an in-memory Pop3Store for engine tests and the standalone debug mode:
 * messages given as strings or Buffers (LF or CRLF; stored in CRLF form), optional
 * chunking to exercise streaming, a lock flag for [IN-USE], and failure injection.
 * Talks to: nothing. Never used by end-to-end tests or production daemons.
 */
import type { Pop3Body, Pop3Store, StoredMessage } from "./mail-engine.js";

export function toCrlf(text: string | Buffer): Buffer {
  const s = Buffer.isBuffer(text) ? text.toString("latin1") : text;
  return Buffer.from(s.replace(/\r?\n/g, "\r\n"), "latin1");
}

/** Header + blank line + the first `lines` body lines of a CRLF message (RFC 1939 TOP). */
export function topOf(message: Buffer, lines: number): Buffer {
  const sep = message.indexOf("\r\n\r\n");
  if (sep < 0) return message;
  let end = sep + 4;
  for (let i = 0; i < lines && end < message.length; i++) {
    const lf = message.indexOf(0x0a, end);
    end = lf < 0 ? message.length : lf + 1;
  }
  return message.subarray(0, end);
}

export interface MemoryStoreOptions {
  chunkSize?: number;
  failOn?: "list" | "retrieve" | "commit";
  /** Answer with the chunks in memory (an array), as a real store does for small messages. */
  held?: boolean;
  /** Offer RETR's synchronous fast path (retrieveNow), as the Maildir store does. */
  now?: boolean;
}

export class MemoryStore implements Pop3Store {
  readonly messages: { uidl: string; body: Buffer }[];
  readonly deletedUidls: string[] = [];
  closed = 0;

  constructor(
    messages: ReadonlyArray<string | Buffer>,
    private readonly opts: MemoryStoreOptions = {},
  ) {
    this.messages = messages.map((m, i) => ({ uidl: `uid${i + 1}`, body: toCrlf(m) }));
    if (opts.now)
      this.retrieveNow = (n) => {
        if (this.opts.failOn === "retrieve") throw new Error("retrieve failed");
        const m = this.messages[n - 1];
        return m === undefined ? undefined : { stored: m.body };
      };
  }

  async list(): Promise<{ uidl: string; size: number }[]> {
    if (this.opts.failOn === "list") throw new Error("list failed");
    return this.messages.map((m) => ({ uidl: m.uidl, size: m.body.length }));
  }

  async retrieve(n: number): Promise<Pop3Body> {
    if (this.opts.failOn === "retrieve") throw new Error("retrieve failed");
    return this.chunks(this.messages[n - 1]?.body ?? Buffer.alloc(0));
  }

  retrieveNow?(n: number): StoredMessage | undefined;

  async top(n: number, lines: number): Promise<Pop3Body> {
    return this.chunks(topOf(this.messages[n - 1]?.body ?? Buffer.alloc(0), lines));
  }

  async commitDeletes(ns: number[]): Promise<void> {
    if (this.opts.failOn === "commit") throw new Error("commit failed");
    for (const n of ns) {
      const m = this.messages[n - 1];
      if (m !== undefined) this.deletedUidls.push(m.uidl);
    }
  }

  async close(): Promise<void> {
    this.closed++;
  }

  private chunks(body: Buffer): Pop3Body {
    const size = this.opts.chunkSize ?? 4096;
    const pieces: Buffer[] = [];
    for (let i = 0; i < body.length; i += size) pieces.push(body.subarray(i, i + size));
    if (this.opts.held) return pieces;
    return (async function* () {
      yield* pieces;
    })();
  }
}
