/*
 * reply-queue — replies waiting to be written, and the per-command statistics.
 *
 * Replies to a pipelined burst accumulate here and leave as one write (RFC 2920 3.2);
 * the engine takes them when no further complete input is waiting, or early once more
 * than `flushAbove` bytes are queued. Each reply also counts toward Postfix's
 * "disconnect from ... ehlo=1 mail=1 rcpt=1/2 ..." statistics: a command counts as ok
 * when one of its replies is positive (354 and 334 are intermediate and do not count).
 *
 * Talks to: nothing. RFCs: 2920, 5321 4.2. Security: bounded by the engine's input
 * backpressure; replies are rendered by formatReply, which strips control characters.
 */
import { formatReply, type SmtpReply } from "./reply.js";

export type MutableStats = Map<string, { ok: number; total: number }>;

export class ReplyQueue {
  readonly stats: MutableStats = new Map();
  private out: string[] = [];
  private length = 0;
  private verb: string | null = null;
  private okCounted = false;

  constructor(private readonly flushAbove: number) {}

  /** A new command starts: its replies are counted for `verb`. */
  beginCommand(verb: string): void {
    this.verb = verb;
    this.okCounted = false;
    const entry = this.stats.get(verb) ?? { ok: 0, total: 0 };
    entry.total++;
    this.stats.set(verb, entry);
  }

  /** Queues a reply; returns true when the queue should be flushed now. */
  push(r: SmtpReply): boolean {
    const text = formatReply(r);
    this.out.push(text);
    this.length += text.length;
    const intermediate = r.code === 354 || r.code === 334;
    if (r.code < 400 && !intermediate && this.verb !== null && !this.okCounted) {
      this.okCounted = true;
      const entry = this.stats.get(this.verb);
      if (entry) entry.ok++;
    }
    return this.length > this.flushAbove;
  }

  /** The queued replies as one buffer, or null if none. */
  take(): Buffer | null {
    if (this.out.length === 0) return null;
    const bytes = Buffer.from(this.out.join(""), "utf8");
    this.out = [];
    this.length = 0;
    return bytes;
  }
}
