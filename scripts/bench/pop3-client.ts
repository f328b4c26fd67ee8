/*
 * pop3-client — the benchmark's own minimal POP3 client (RFC 1939, RFC 2449 PIPELINING) on
 * node:net, and one benchmark session: USER/PASS, STAT, RETR every message (one at a time
 * or with a window in flight), QUIT without DELE. Multi-line bodies are scanned for the
 * CRLF "." CRLF terminator and counted, never kept, so the client costs little beside the
 * servers it measures. Plaintext, loopback only: it is a load generator, not a mail client.
 */
import { connect, type Socket } from "node:net";
import type { Pop3System } from "./systems.js";

export type Mode = "seq" | "pipe";

export interface Reply {
  ok: boolean;
  line: string;
  /** Octets of the multi-line body as sent (dot-stuffed, without the final ".CRLF"). */
  bodyBytes: number;
}

interface Waiter {
  multi: boolean;
  resolve(r: Reply): void;
  reject(e: Error): void;
}

const CR = 13;
const LF = 10;
const DOT = 46;
const PIPELINE_WINDOW = 64;

/**
 * A minimal POP3 client: commands go out as written, replies are matched to them in order,
 * so pipelining is just writing before the previous answer came back. Multi-line bodies
 * are scanned for the CRLF "." CRLF terminator without being kept.
 */
export class Pop3Client {
  private readonly waiters: Waiter[] = [];
  private status: Buffer = Buffer.alloc(0);
  private inBody = false;
  /** Terminator match: 0 mid-line, 1 at line start, 2 after ".", 3 after ".\r". */
  private dot = 0;
  private bodyBytes = 0;
  private line = "";
  private failure: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => this.feed(d));
    sock.on("error", (e) => this.fail(e));
    sock.on("close", () => this.fail(new Error("connection closed by server")));
  }

  /** Connect and read the greeting; the client is registered in `open` until destroyed. */
  static open(port: number, open: Set<Pop3Client>): Promise<Pop3Client> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, "127.0.0.1");
      sock.setNoDelay(true);
      const client = new Pop3Client(sock);
      open.add(client);
      sock.on("close", () => open.delete(client));
      client.expect(false).then((greeting) => {
        if (greeting.ok) resolve(client);
        else reject(new Error(`greeting: ${greeting.line}`));
      }, reject);
    });
  }

  /** Send one command; the promise settles with its reply. */
  send(command: string, multi = false): Promise<Reply> {
    this.sock.write(`${command}\r\n`);
    return this.expect(multi);
  }

  destroy(): void {
    this.sock.destroy();
  }

  private expect(multi: boolean): Promise<Reply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiters.push({ multi, resolve, reject }));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      at = this.inBody ? this.scanBody(chunk, at) : this.scanStatus(chunk, at);
    }
  }

  private scanStatus(chunk: Buffer, from: number): number {
    const lf = chunk.indexOf(LF, from);
    const end = lf < 0 ? chunk.length : lf + 1;
    this.status = this.status.length
      ? Buffer.concat([this.status, chunk.subarray(from, end)])
      : chunk.subarray(from, end);
    if (lf < 0) return end;
    this.line = this.status.toString("latin1").trimEnd();
    this.status = Buffer.alloc(0);
    const waiter = this.waiters[0];
    if (!waiter) {
      this.fail(new Error(`unexpected reply: ${this.line}`));
      return chunk.length;
    }
    if (waiter.multi && this.line.startsWith("+OK")) {
      this.inBody = true;
      this.dot = 1;
      this.bodyBytes = 0;
    } else this.settle(0);
    return end;
  }

  /** Consume body bytes from `from`; returns where scanning stopped (end of chunk or of body). */
  private scanBody(chunk: Buffer, from: number): number {
    let i = from;
    while (i < chunk.length) {
      if (this.dot === 0) {
        const lf = chunk.indexOf(LF, i);
        if (lf < 0) break;
        i = lf + 1;
        this.dot = 1;
        continue;
      }
      const b = chunk[i];
      if (this.dot === 1 && b === DOT) this.dot = 2;
      else if (this.dot === 2 && b === CR) this.dot = 3;
      else if (this.dot === 3 && b === LF) {
        this.bodyBytes += i + 1 - from - 3;
        this.inBody = false;
        this.settle(this.bodyBytes);
        return i + 1;
      } else {
        this.dot = 0;
        continue; // rescan this byte as ordinary line content
      }
      i++;
    }
    this.bodyBytes += chunk.length - from;
    return chunk.length;
  }

  private settle(bodyBytes: number): void {
    const waiter = this.waiters.shift();
    waiter?.resolve({ ok: this.line.startsWith("+OK"), line: this.line, bodyBytes });
  }
}

/** One client's whole session: login, STAT, RETR 1..n (sequential or pipelined), QUIT. */
export async function session(
  sys: Pop3System,
  user: string,
  opts: { mode: Mode; open: Set<Pop3Client> },
): Promise<{ messages: number; bytes: number }> {
  const client = await Pop3Client.open(sys.port, opts.open);
  try {
    await must(client.send(`USER ${user}`));
    await must(client.send(`PASS ${sys.password}`));
    const count = Number((await must(client.send("STAT"))).line.split(" ")[1]);
    let bytes = 0;
    const retr = async (n: number) => {
      const reply = await must(client.send(`RETR ${n}`, true));
      bytes += reply.bodyBytes; // after the await: `bytes += await ...` would read bytes too early
    };
    if (opts.mode === "seq") for (let n = 1; n <= count; n++) await retr(n);
    else await pipelined(count, retr);
    await must(client.send("QUIT"));
    return { messages: count, bytes };
  } finally {
    client.destroy();
  }
}

/** Keep up to PIPELINE_WINDOW RETRs in flight; replies still arrive in order. */
async function pipelined(count: number, retr: (n: number) => Promise<void>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (let n = 1; n <= count; n++) {
    const p = retr(n).finally(() => inFlight.delete(p));
    p.catch(() => undefined); // the first failure is reported by race/all; the rest follow it
    inFlight.add(p);
    if (inFlight.size >= PIPELINE_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

async function must(reply: Promise<Reply>): Promise<Reply> {
  const r = await reply;
  if (!r.ok) throw new Error(`server said: ${r.line}`);
  return r;
}

export function withDeadline<T>(work: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${seconds} s`)), seconds * 1000);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
