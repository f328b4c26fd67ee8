/*
 * line-client — a raw line-oriented client for the e2e tests of POP3 and IMAP: send lines,
 * read CRLF-terminated reply lines, over a plain socket or one upgraded to TLS.
 */
import { connect, type Socket } from "node:net";
import { sleep } from "./sandbox.js";

export class LineClient {
  private buf = "";
  closed = false;

  constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf += d.toString("latin1");
    });
    sock.on("error", () => undefined);
    sock.on("close", () => {
      this.closed = true;
    });
  }

  static open(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, "127.0.0.1", () => resolve(new LineClient(s)));
      s.once("error", reject);
    });
  }

  /** The next reply line (without CRLF); throws after 20 s or once the server has closed. */
  async line(): Promise<string> {
    for (let i = 0; i < 800; i++) {
      const n = this.buf.indexOf("\r\n");
      if (n >= 0) {
        const l = this.buf.slice(0, n);
        this.buf = this.buf.slice(n + 2);
        return l;
      }
      if (this.closed) break;
      await sleep(25);
    }
    throw new Error(`no reply; buffer: ${JSON.stringify(this.buf)}`);
  }

  /** Lines up to and including the first that matches `last`. */
  async until(last: RegExp): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < 100; i++) {
      const l = await this.line();
      out.push(l);
      if (last.test(l)) return out;
    }
    throw new Error(`no ${last} in ${out.join("\n")}`);
  }

  send(text: string): void {
    this.sock.write(text);
  }

  /** Send one command line and read one reply line. */
  async cmd(text: string): Promise<string> {
    this.sock.write(`${text}\r\n`);
    return this.line();
  }

  async waitClosed(): Promise<boolean> {
    for (let i = 0; i < 200 && !this.closed; i++) await sleep(25);
    return this.closed;
  }
}
