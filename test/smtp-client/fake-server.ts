/*
 * fake-server — a scripted SMTP server on 127.0.0.1 for the smtp client's tests: EHLO
 * keywords, replies per command verb (or per call), STARTTLS with a given key pair,
 * and a transcript of everything the client sent, message data included.
 */
import { createServer, type Server, type Socket } from "node:net";
import { type SecureContextOptions, TLSSocket } from "node:tls";

export interface FakeOptions {
  greeting?: string;
  ehlo?: string[];
  /** Reply for a verb ("MAIL", "RCPT", "DATA", "DOT", "EHLO", ...), or a function of the call count and the line. */
  replies?: Record<string, string | ((n: number, line: string) => string)>;
  /** Never send the greeting (timeout tests). */
  silent?: boolean;
  tls?: SecureContextOptions;
}

export interface FakeServer {
  readonly port: number;
  /** Client lines, per connection. */
  readonly sessions: string[][];
  /** Message data received (raw, dot-stuffed, CRLF), one entry per DATA. */
  readonly messages: string[];
  close(): Promise<void>;
}

const DEFAULTS: Record<string, string> = {
  HELO: "250 fake.test",
  MAIL: "250 2.1.0 Ok",
  RCPT: "250 2.1.5 Ok",
  DATA: "354 End data with <CR><LF>.<CR><LF>",
  DOT: "250 2.0.0 Ok: queued as FAKE1",
  RSET: "250 2.0.0 Ok",
  QUIT: "221 2.0.0 Bye",
  NOOP: "250 2.0.0 Ok",
  STARTTLS: "220 2.0.0 Ready to start TLS",
};

export function startFakeServer(opts: FakeOptions = {}): Promise<FakeServer> {
  const sessions: string[][] = [];
  const messages: string[] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const replyFor = (verb: string, line = ""): string => {
    const n = (counts.get(verb) ?? 0) + 1;
    counts.set(verb, n);
    const r = opts.replies?.[verb];
    return typeof r === "function"
      ? r(n, line)
      : (r ?? DEFAULTS[verb] ?? "502 5.5.2 Error: command not recognized");
  };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const lines: string[] = [];
    sessions.push(lines);
    if (!opts.silent) socket.write(`${opts.greeting ?? "220 fake.test ESMTP"}\r\n`);
    converse(socket, { lines, messages, replyFor, opts });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      resolve({
        port,
        sessions,
        messages,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

interface Conversation {
  lines: string[];
  messages: string[];
  replyFor: (verb: string, line?: string) => string;
  opts: FakeOptions;
}

function ehloReply(opts: FakeOptions, tls: boolean): string {
  const keys = (opts.ehlo ?? ["PIPELINING", "SIZE 10240000", "8BITMIME"]).filter(
    (k) => !(tls && k === "STARTTLS"),
  );
  const all = ["fake.test", ...keys];
  return all.map((k, i) => `250${i === all.length - 1 ? " " : "-"}${k}\r\n`).join("");
}

function converse(socket: Socket, c: Conversation, tls = false): void {
  let buf = "";
  let inData = false;
  const onData = (d: Buffer) => {
    buf += d.toString("latin1");
    for (;;) {
      if (inData) {
        const end = buf.indexOf("\r\n.\r\n");
        const emptyEnd = buf.startsWith(".\r\n") ? 0 : -1;
        if (end < 0 && emptyEnd < 0) return;
        const cut = emptyEnd === 0 ? 0 : end + 2;
        c.messages.push(buf.slice(0, cut));
        buf = buf.slice(cut + 3);
        inData = false;
        socket.write(`${c.replyFor("DOT")}\r\n`);
        continue;
      }
      const nl = buf.indexOf("\r\n");
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      c.lines.push(line);
      const verb = (line.split(" ")[0] ?? "").toUpperCase();
      if (verb === "EHLO") {
        const r = c.opts.replies?.["EHLO"];
        socket.write(r ? `${typeof r === "function" ? r(1, line) : r}\r\n` : ehloReply(c.opts, tls));
        continue;
      }
      const reply = c.replyFor(verb, line);
      socket.write(`${reply}\r\n`);
      if (verb === "DATA" && reply.startsWith("354")) inData = true;
      if (verb === "QUIT") socket.end();
      if (verb === "STARTTLS" && reply.startsWith("220") && c.opts.tls) {
        socket.off("data", onData);
        const secure = new TLSSocket(socket, { isServer: true, ...c.opts.tls });
        secure.on("error", () => undefined);
        converse(secure, c, true);
        return;
      }
    }
  };
  socket.on("data", onData);
  socket.on("error", () => undefined);
}
