/*
 * imap-client — the benchmark's own minimal IMAP client on node:net: tagged commands,
 * responses read up to the tagged status line, literals in responses skipped by their byte
 * count (counted, never kept unless asked), synchronizing literals for APPEND answered
 * after the server's "+". Plaintext LOGIN on loopback only: a load generator, not a mail
 * client.
 */
import { connect, type Socket } from "node:net";

export interface ImapReply {
  readonly status: "OK" | "NO" | "BAD";
  readonly text: string;
  /** Untagged lines (literal bytes replaced by their size marker). */
  readonly untagged: readonly string[];
  /** Octets received in literals. */
  readonly literalBytes: number;
}

interface Pending {
  readonly tag: string;
  readonly resolve: (r: ImapReply) => void;
  readonly reject: (e: Error) => void;
  untagged: string[];
  literalBytes: number;
}

export class ImapClient {
  private buf: Buffer = Buffer.alloc(0);
  private literalLeft = 0;
  private line = "";
  private seq = 0;
  private readonly pending: Pending[] = [];
  private continuation: (() => void) | undefined;
  private greeted: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on("data", (d: Buffer) => this.feed(d));
    sock.on("error", (e) => this.fail(e));
    sock.on("close", () => this.fail(new Error("connection closed by server")));
  }

  static open(port: number, open: Set<ImapClient>): Promise<ImapClient> {
    return new Promise((resolve, reject) => {
      const sock = connect(port, "127.0.0.1");
      sock.setNoDelay(true);
      const client = new ImapClient(sock);
      open.add(client);
      sock.on("close", () => open.delete(client));
      sock.once("error", reject);
      client.greeted = () => resolve(client);
    });
  }

  /** Send a command (without tag and CRLF); resolves with the tagged reply. */
  command(text: string): Promise<ImapReply> {
    if (this.failure) return Promise.reject(this.failure);
    const tag = `b${++this.seq}`;
    this.sock.write(`${tag} ${text}\r\n`);
    return this.wait(tag);
  }

  /** APPEND with a synchronizing literal. */
  async append(mailbox: string, message: Buffer, flags = ""): Promise<ImapReply> {
    const tag = `b${++this.seq}`;
    const go = new Promise<void>((resolve) => {
      this.continuation = resolve;
    });
    const reply = this.wait(tag);
    this.sock.write(`${tag} APPEND ${mailbox} ${flags ? `(${flags}) ` : ""}{${message.length}}\r\n`);
    await Promise.race([go, reply]);
    this.sock.write(Buffer.concat([message, Buffer.from("\r\n")]));
    return reply;
  }

  async login(user: string, password: string): Promise<void> {
    const r = await this.command(`LOGIN ${user} ${password}`);
    if (r.status !== "OK") throw new Error(`login ${user}: ${r.text}`);
  }

  async logout(): Promise<void> {
    await this.command("LOGOUT").catch(() => undefined);
    this.sock.destroy();
  }

  destroy(): void {
    this.sock.destroy();
  }

  private wait(tag: string): Promise<ImapReply> {
    return new Promise((resolve, reject) =>
      this.pending.push({ tag, resolve, reject, untagged: [], literalBytes: 0 }),
    );
  }

  private feed(data: Buffer): void {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    while (this.buf.length > 0) {
      if (this.literalLeft > 0) {
        const take = Math.min(this.literalLeft, this.buf.length);
        this.literalLeft -= take;
        const p = this.pending[0];
        if (p !== undefined) p.literalBytes += take;
        this.buf = this.buf.subarray(take);
        continue;
      }
      const lf = this.buf.indexOf(10);
      if (lf < 0) return;
      const text = this.buf.subarray(0, lf + 1).toString("latin1");
      this.buf = this.buf.subarray(lf + 1);
      this.onLine(text.replace(/\r?\n$/, ""));
    }
  }

  private onLine(text: string): void {
    const literal = /\{(\d+)\}$/.exec(text);
    this.line += text;
    if (literal !== null) {
      this.literalLeft = Number(literal[1]);
      return;
    }
    const line = this.line;
    this.line = "";
    if (this.greeted !== undefined) {
      const g = this.greeted;
      this.greeted = undefined;
      g();
      return;
    }
    if (line.startsWith("+")) {
      const c = this.continuation;
      this.continuation = undefined;
      c?.();
      return;
    }
    const p = this.pending[0];
    if (p === undefined) return;
    if (line.startsWith("* ")) {
      p.untagged.push(line);
      return;
    }
    const m = /^(\S+) (OK|NO|BAD) ?(.*)$/.exec(line);
    if (m === null || m[1] !== p.tag) return;
    this.pending.shift();
    p.resolve({
      status: m[2] as ImapReply["status"],
      text: m[3] ?? "",
      untagged: p.untagged,
      literalBytes: p.literalBytes,
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.splice(0)) p.reject(e);
  }
}

/** Rejects when `p` takes longer than `seconds`. */
export function withDeadline<T>(p: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: deadline of ${seconds}s passed`)), seconds * 1000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
