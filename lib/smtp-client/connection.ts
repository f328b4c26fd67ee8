/*
 * connection — one TCP (then maybe TLS) connection of the smtp client to a remote SMTP
 * server: connect with a time limit, read whole replies with a per-stage time limit,
 * write commands and content with backpressure, upgrade to TLS after STARTTLS.
 *
 * Every failure is a ConnectionFailure carrying what happened (refused, timed out, lost,
 * protocol error) so the caller can phrase it as Postfix does; nothing here throws
 * anything else at the caller. Talks to the network (node:net, node:tls).
 * RFCs: 5321, 3207 (STARTTLS). Security: the server is untrusted; replies are bounded by
 * ReplyReader; with TLS the certificate is not verified (levels may and encrypt, as Postfix).
 */
import { connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { type ReaderEvent, ReplyReader, type ServerReply } from "./reply.js";

export type FailureKind = "refused" | "timeout" | "lost" | "protocol" | "tls";

export class ConnectionFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

/** The peer as Postfix names it: "mx.example.org[192.0.2.1]:25". */
export interface Peer {
  readonly hostname: string;
  readonly address: string;
  readonly port: number;
}

export function peerName(p: Peer): string {
  return `${p.hostname}[${p.address}]`;
}

function errnoText(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  const table: Record<string, string> = {
    ECONNREFUSED: "Connection refused",
    ETIMEDOUT: "Connection timed out",
    EHOSTUNREACH: "No route to host",
    ENETUNREACH: "Network is unreachable",
    ECONNRESET: "Connection reset by peer",
  };
  return table[code] ?? (err instanceof Error ? err.message : String(err));
}

export class SmtpConnection {
  private socket: Socket;
  private reader = new ReplyReader();
  private events: ReaderEvent[] = [];
  private waiter: ((e: ReaderEvent | ConnectionFailure) => void) | undefined;
  private failure: ConnectionFailure | undefined;
  tls: TLSSocket | undefined;

  private constructor(
    readonly peer: Peer,
    socket: Socket,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connect, or fail with "connect to host[ip]:port: Connection refused" style text. */
  static open(peer: Peer, timeoutMs: number, localAddress?: string): Promise<SmtpConnection> {
    return new Promise((resolve, reject) => {
      const where = `connect to ${peerName(peer)}:${peer.port}`;
      const socket = netConnect({
        host: peer.address,
        port: peer.port,
        ...(localAddress ? { localAddress } : {}),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionFailure("timeout", `${where}: Connection timed out`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve(new SmtpConnection(peer, socket));
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        const kind = (err as { code?: string }).code === "ECONNREFUSED" ? "refused" : "lost";
        reject(new ConnectionFailure(kind, `${where}: ${errnoText(err)}`));
      });
    });
  }

  get closed(): boolean {
    return this.failure !== undefined;
  }

  /** The next complete reply; `during` names the stage for failure texts ("while sending RCPT TO"). */
  readReply(timeoutMs: number, during: string): Promise<ServerReply> {
    const ready = this.events.shift();
    if (ready) return Promise.resolve(this.unwrap(ready, during));
    if (this.failure) return Promise.reject(this.lostWhile(during));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        this.destroy();
        reject(
          new ConnectionFailure("timeout", `conversation with ${peerName(this.peer)} timed out ${during}`),
        );
      }, timeoutMs);
      this.waiter = (e) => {
        clearTimeout(timer);
        this.waiter = undefined;
        if (e instanceof ConnectionFailure) reject(this.lostWhile(during));
        else {
          try {
            resolve(this.unwrap(e, during));
          } catch (err) {
            reject(err);
          }
        }
      };
    });
  }

  /** Write bytes; resolves once the socket can take more, or fails after timeoutMs. */
  write(data: Buffer | string, timeoutMs: number, during: string): Promise<void> {
    if (this.failure) return Promise.reject(this.lostWhile(during));
    const sock = this.tls ?? this.socket;
    if (sock.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        this.destroy();
        reject(
          new ConnectionFailure("timeout", `conversation with ${peerName(this.peer)} timed out ${during}`),
        );
      }, timeoutMs);
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(this.lostWhile(during));
      };
      const cleanup = () => {
        clearTimeout(timer);
        sock.off("drain", onDrain);
        sock.off("close", onClose);
      };
      sock.once("drain", onDrain);
      sock.once("close", onClose);
    });
  }

  /** STARTTLS accepted: run the TLS handshake on the same socket (no certificate check). */
  upgrade(servername: string, timeoutMs: number): Promise<TLSSocket> {
    this.detach(this.socket);
    return new Promise((resolve, reject) => {
      const isName = !/^[\d.:]+$/.test(servername);
      const tls = tlsConnect({
        socket: this.socket,
        rejectUnauthorized: false,
        ...(isName ? { servername } : {}),
      });
      const timer = setTimeout(() => {
        tls.destroy();
        reject(new ConnectionFailure("tls", `TLS handshake with ${peerName(this.peer)} timed out`));
      }, timeoutMs);
      tls.once("secureConnect", () => {
        clearTimeout(timer);
        tls.removeAllListeners("error");
        this.tls = tls;
        this.reader = new ReplyReader();
        this.attach(tls);
        resolve(tls);
      });
      tls.once("error", (err) => {
        clearTimeout(timer);
        this.failure = new ConnectionFailure("tls", `Cannot start TLS: handshake failure: ${err.message}`);
        reject(this.failure);
      });
    });
  }

  /** Close politely (after QUIT) or at once. */
  end(): void {
    (this.tls ?? this.socket).end();
    this.socket.unref();
  }

  destroy(): void {
    (this.tls ?? this.socket).destroy();
    this.socket.destroy();
  }

  private attach(sock: Socket): void {
    sock.on("data", (d: Buffer) => {
      for (const e of this.reader.feed(d)) this.deliver(e);
    });
    sock.on("error", () => this.lose());
    sock.on("close", () => this.lose());
    sock.on("end", () => this.lose());
  }

  private detach(sock: Socket): void {
    sock.removeAllListeners("data");
    sock.removeAllListeners("error");
    sock.removeAllListeners("close");
    sock.removeAllListeners("end");
    sock.on("error", () => undefined);
  }

  private deliver(e: ReaderEvent): void {
    if (this.waiter) this.waiter(e);
    else this.events.push(e);
  }

  private lose(): void {
    if (this.failure) return;
    this.failure = new ConnectionFailure("lost", "connection lost");
    this.waiter?.(this.failure);
  }

  private lostWhile(during: string): ConnectionFailure {
    if (this.failure?.kind === "tls") return this.failure;
    return new ConnectionFailure("lost", `lost connection with ${peerName(this.peer)} ${during}`);
  }

  private unwrap(e: ReaderEvent, during: string): ServerReply {
    if (e.kind === "reply") return e.reply;
    this.destroy();
    throw new ConnectionFailure("protocol", `${peerName(this.peer)} ${during}: ${e.text}`);
  }
}
