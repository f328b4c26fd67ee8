/*
 * ipc — the one framing used on every Unix socket between postern processes
 * (smtpd → cleanup, qmgr → local, tools → showq, triggers to qmgr).
 *
 * A frame is a 4-byte big-endian payload length, a 1-byte kind and the payload:
 *   kind 1  a JSON message (a typed request or reply)
 *   kind 2  a chunk of a streamed body (raw bytes)
 *   kind 3  end of the streamed body
 * Reading is pull-based (next()), so a slow consumer stops reading the socket and the
 * sender's writes block: backpressure end to end. Every wait has a timeout.
 * Both ends are postern processes, but the peer may have crashed mid-frame: a short or
 * oversized frame is an error on that connection, never a crash.
 */
import { connect, type Socket } from "node:net";

export type Frame = { kind: "msg"; msg: unknown } | { kind: "data"; chunk: Buffer } | { kind: "end" };

const KIND_MSG = 1;
const KIND_DATA = 2;
const KIND_END = 3;
const MAX_FRAME = 16 * 1024 * 1024;
const HIGH_WATER = 64;
const HEADER = 5;
/** Payloads up to this size are copied behind their header and written as one buffer. */
const COPY_BELOW = 64 * 1024;
const END_FRAME = Buffer.from([0, 0, 0, 0, KIND_END]);

export class IpcError extends Error {}

export class IpcConnection {
  readonly socket: Socket;
  private buf: Buffer = Buffer.alloc(0);
  private frames: Frame[] = [];
  private waiter:
    | { resolve: (f: Frame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
    | undefined;
  private failure: Error | undefined;
  private timeoutMs: number;

  constructor(socket: Socket, opts: { timeoutMs: number }) {
    this.socket = socket;
    this.timeoutMs = opts.timeoutMs;
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.on("end", () => this.fail(new IpcError("connection closed by peer")));
    socket.on("close", () => this.fail(new IpcError("connection closed")));
    socket.on("error", (e) => this.fail(new IpcError(`connection error: ${e.message}`)));
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  send(msg: unknown): void {
    if (this.failure) throw this.failure;
    // Header and JSON in one buffer: one write(2), no cork/writev bookkeeping.
    const json = JSON.stringify(msg);
    const len = Buffer.byteLength(json);
    const frame = Buffer.allocUnsafe(HEADER + len);
    frame.writeUInt32BE(len, 0);
    frame[4] = KIND_MSG;
    frame.write(json, HEADER, "utf8");
    this.socket.write(frame);
  }

  /** Send one body chunk; resolves when the socket can take more. */
  async sendData(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; off += MAX_FRAME) {
      const ok = this.writeFrame(KIND_DATA, chunk.subarray(off, off + MAX_FRAME));
      if (!ok) await this.drained();
    }
  }

  sendEnd(): void {
    if (this.failure) throw this.failure;
    this.socket.write(END_FRAME);
  }

  /**
   * The last body chunk and the end of the body together, in one write when the chunk is
   * small (a short message's whole content then costs the peer one wake-up). Throws at once
   * on a failed connection, as sendEnd() does; a large chunk is streamed (the promise).
   */
  sendLastData(chunk: Buffer): Promise<void> | undefined {
    if (this.failure) throw this.failure;
    if (chunk.length > COPY_BELOW) return this.sendData(chunk).then(() => this.sendEnd());
    const frame = Buffer.allocUnsafe(2 * HEADER + chunk.length);
    frame.writeUInt32BE(chunk.length, 0);
    frame[4] = KIND_DATA;
    chunk.copy(frame, HEADER);
    END_FRAME.copy(frame, HEADER + chunk.length);
    this.socket.write(frame);
    return undefined;
  }

  /** The next frame from the peer; rejects on close, error or timeout. */
  next(timeoutMs = this.timeoutMs): Promise<Frame> {
    const f = this.frames.shift();
    if (f) {
      if (this.frames.length < HIGH_WATER / 2) this.socket.resume();
      return Promise.resolve(f);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new IpcError("timeout waiting for peer"));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** The next frame, which must be a message. */
  async nextMessage<T>(timeoutMs?: number): Promise<T> {
    const f = await this.next(timeoutMs);
    if (f.kind !== "msg") throw new IpcError(`protocol error: expected a message, got ${f.kind}`);
    return f.msg as T;
  }

  async request<T>(msg: unknown, timeoutMs?: number): Promise<T> {
    this.send(msg);
    return this.nextMessage<T>(timeoutMs);
  }

  close(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private writeFrame(kind: number, payload: Buffer): boolean {
    if (this.failure) throw this.failure;
    if (payload.length <= COPY_BELOW) {
      // Copying a small payload is cheaper than a corked two-buffer writev.
      const frame = Buffer.allocUnsafe(HEADER + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      frame[4] = kind;
      payload.copy(frame, HEADER);
      return this.socket.write(frame);
    }
    const head = Buffer.allocUnsafe(HEADER);
    head.writeUInt32BE(payload.length, 0);
    head[4] = kind;
    this.socket.cork();
    this.socket.write(head);
    const ok = this.socket.write(payload);
    this.socket.uncork();
    return ok;
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      // The peer may already be gone: then no 'drain' or 'close' event will come.
      if (this.failure || this.socket.destroyed) {
        reject(this.failure ?? new IpcError("connection closed"));
        return;
      }
      const onDrain = () => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        this.socket.off("drain", onDrain);
        reject(this.failure ?? new IpcError("connection closed"));
      };
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    while (this.buf.length >= 5) {
      const len = this.buf.readUInt32BE(0);
      if (len > MAX_FRAME) {
        this.fail(new IpcError(`protocol error: frame of ${len} bytes`));
        this.socket.destroy();
        return;
      }
      if (this.buf.length < 5 + len) break;
      const kind = this.buf.readUInt8(4);
      const payload = this.buf.subarray(5, 5 + len);
      this.buf = this.buf.subarray(5 + len);
      const frame = this.decode(kind, payload);
      if (!frame) return;
      this.deliver(frame);
    }
    if (this.frames.length >= HIGH_WATER) this.socket.pause();
  }

  private decode(kind: number, payload: Buffer): Frame | undefined {
    try {
      if (kind === KIND_MSG) return { kind: "msg", msg: JSON.parse(payload.toString("utf8")) };
      if (kind === KIND_DATA) return { kind: "data", chunk: Buffer.from(payload) };
      if (kind === KIND_END) return { kind: "end" };
    } catch {
      /* fall through */
    }
    this.fail(new IpcError(`protocol error: bad frame kind ${kind}`));
    this.socket.destroy();
    return undefined;
  }

  private deliver(frame: Frame): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(frame);
    } else {
      this.frames.push(frame);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

/** Connect to a postern service socket (queue_directory/private/NAME or public/NAME). */
export function connectIpc(path: string, opts: { timeoutMs: number }): Promise<IpcConnection> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new IpcError(`connect to ${path}: timeout`));
    }, opts.timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      resolve(new IpcConnection(sock, opts));
    });
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(new IpcError(`connect to ${path}: ${e.message}`));
    });
  });
}

/** Wake a trigger service (qmgr, pickup): connect, send the request letters, close. Best effort. */
export function trigger(path: string, request = "W", timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(false);
    }, timeoutMs);
    sock.once("connect", () => {
      sock.end(request);
    });
    sock.once("close", (hadError) => {
      clearTimeout(timer);
      resolve(!hadError);
    });
    sock.once("error", () => undefined);
  });
}

export interface RequestServer<Req, Rep> {
  timeoutMs: number;
  /**
   * How long a connection may wait for its next request (default timeoutMs). Clients keep
   * connections for reuse; a short value (Postfix's ipc_idle, 5 s) lets a worker that has
   * reached max_use close them and retire instead of waiting on them.
   */
  idleTimeoutMs?: number;
  /** Checks a peer's message; anything else ends the connection with a warning. */
  isRequest(m: unknown): m is Req;
  handle(req: Req): Promise<Rep>;
  warn(text: string): void;
}

/**
 * Serve one connection of a request/reply service (local, smtp, bounce, auth): any number
 * of requests, one at a time, each answered unless the peer went away meanwhile.
 */
export async function serveRequests<Req, Rep>(socket: Socket, s: RequestServer<Req, Rep>): Promise<void> {
  const conn = new IpcConnection(socket, { timeoutMs: s.timeoutMs });
  socket.resume();
  for (;;) {
    let req: unknown;
    try {
      req = await conn.nextMessage(s.idleTimeoutMs ?? s.timeoutMs);
    } catch {
      return; // the client closed between requests, or was idle too long
    }
    if (!s.isRequest(req)) {
      s.warn("malformed request from client; closing connection");
      return;
    }
    const reply = await s.handle(req);
    if (conn.closed) return;
    conn.send(reply);
  }
}
