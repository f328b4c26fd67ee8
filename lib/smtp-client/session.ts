/*
 * session — one ESMTP client session (Postfix's smtp_proto.c): greeting, EHLO (HELO when
 * EHLO is refused), STARTTLS per smtp_tls_security_level, then any number of one-recipient
 * transactions (MAIL, RCPT, DATA; pipelined when the server offers PIPELINING), RSET before
 * a cached session is reused, QUIT.
 *
 * Extensions used when offered: PIPELINING (RFC 2920), SIZE (1870), 8BITMIME (6152),
 * SMTPUTF8 (6531), DSN (3461), STARTTLS (3207). Decisions made before MAIL: a message that
 * needs SMTPUTF8 is refused (5.6.7) by a server without it, one larger than the server's
 * SIZE is refused (5.3.4). A reply that is not the expected one becomes a Rejection naming
 * the command, as Postfix logs it ("in reply to RCPT TO command"); network trouble is a
 * ConnectionFailure. Talks to the network through connection.ts.
 * Security: replies are untrusted (see reply.ts); envelope values are checked for CR/LF so
 * a queued address can never inject a second command.
 */
import { pipeline } from "node:stream/promises";
import { ConnectionFailure, type Peer, peerName, SmtpConnection } from "./connection.js";
import { DataEncoder } from "./content.js";
import { parseEhlo, type ServerReply } from "./reply.js";

export type TlsLevel = "none" | "may" | "encrypt";

export interface StageTimeouts {
  readonly connect: number;
  readonly helo: number;
  readonly mail: number;
  readonly rcpt: number;
  readonly dataInit: number;
  readonly dataXfer: number;
  readonly dataDone: number;
  readonly rset: number;
  readonly quit: number;
}

export interface SessionOptions {
  readonly heloName: string;
  readonly tlsLevel: TlsLevel;
  /** Milliseconds per stage. */
  readonly timeouts: StageTimeouts;
  /** Informational lines for the maillog (TLS established). */
  readonly onInfo?: (text: string) => void;
}

export interface OutboundMessage {
  readonly sender: string;
  readonly recipient: string;
  /** ORCPT as received ("rfc822;addr", xtext) or a plain address. */
  readonly orcpt?: string;
  readonly notify?: string;
  readonly ret?: string;
  readonly envid?: string;
  /** Content size in bytes, for SIZE=. */
  readonly size: number;
  readonly needsSmtputf8: boolean;
  readonly eightBit: boolean;
  /** Opens the queued content (LF line endings). */
  readonly open: () => NodeJS.ReadableStream;
}

/** How one transaction ended. */
export type SendResult =
  | { kind: "sent"; reply: ServerReply }
  | { kind: "rejected"; reply: ServerReply; command: string }
  | { kind: "refused"; dsn: string; text: string };

/** A session that cannot continue: a reply at connect/EHLO time, or a policy refusal. */
export class SessionRefused extends Error {
  constructor(
    readonly reply: ServerReply | undefined,
    readonly dsn: string,
    message: string,
  ) {
    super(message);
  }
}

const LINE_BREAK = /[\r\n]/;

export class SmtpSession {
  ext = new Map<string, string>();
  transactions = 0;
  private constructor(
    readonly conn: SmtpConnection,
    private readonly opts: SessionOptions,
  ) {}

  get peer(): Peer {
    return this.conn.peer;
  }

  /** Connect, read the greeting, EHLO/HELO and STARTTLS as the policy asks. */
  static async establish(peer: Peer, opts: SessionOptions): Promise<SmtpSession> {
    const conn = await SmtpConnection.open(peer, opts.timeouts.connect);
    const s = new SmtpSession(conn, opts);
    try {
      const greeting = await conn.readReply(
        opts.timeouts.helo,
        "while receiving the initial server greeting",
      );
      if (greeting.code !== 220) throw s.refusal(greeting, `host ${peerName(peer)} refused to talk to me`);
      await s.hello();
      await s.startTls();
      return s;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  private refusal(reply: ServerReply, lead: string): SessionRefused {
    const text = `${lead}: ${reply.code} ${reply.enhanced ? `${reply.enhanced} ` : ""}${reply.lines.join(" ")}`;
    return new SessionRefused(reply, reply.enhanced || `${String(reply.code)[0]}.0.0`, text.trim());
  }

  private async command(line: string, timeoutMs: number, during: string): Promise<ServerReply> {
    await this.conn.write(`${line}\r\n`, timeoutMs, during);
    return this.conn.readReply(timeoutMs, during);
  }

  private async hello(): Promise<void> {
    const t = this.opts.timeouts.helo;
    const ehlo = await this.command(`EHLO ${this.opts.heloName}`, t, "while performing the EHLO handshake");
    if (ehlo.code === 250) {
      this.ext = parseEhlo(ehlo);
      return;
    }
    if (ehlo.code === 421) throw this.refusal(ehlo, `host ${peerName(this.peer)} refused to talk to me`);
    const helo = await this.command(`HELO ${this.opts.heloName}`, t, "while performing the HELO handshake");
    if (helo.code !== 250) throw this.rejected(helo, "HELO");
    this.ext = new Map();
  }

  private rejected(reply: ServerReply, command: string): SessionRefused {
    const r = this.refusal(reply, `host ${peerName(this.peer)} said`);
    return new SessionRefused(reply, r.dsn, `${r.message} (in reply to ${command} command)`);
  }

  private async startTls(): Promise<void> {
    const level = this.opts.tlsLevel;
    if (level === "none" || this.conn.tls) return;
    if (!this.ext.has("STARTTLS")) {
      if (level === "may") return;
      throw new SessionRefused(
        undefined,
        "4.7.4",
        `TLS is required, but was not offered by host ${peerName(this.peer)}`,
      );
    }
    const t = this.opts.timeouts.helo;
    const reply = await this.command("STARTTLS", t, "while performing the STARTTLS handshake");
    if (reply.code !== 220) {
      if (level === "may") return;
      throw this.rejected(reply, "STARTTLS");
    }
    const tls = await this.conn.upgrade(this.peer.hostname, t);
    const cipher = tls.getCipher();
    this.opts.onInfo?.(
      `Anonymous TLS connection established to ${peerName(this.peer)}:${this.peer.port}: ${tls.getProtocol() ?? "TLS"} with cipher ${cipher.name} (${cipher.version})`,
    );
    await this.hello();
  }

  /** One transaction for one recipient. ConnectionFailure propagates; the session is then unusable. */
  async send(msg: OutboundMessage): Promise<SendResult> {
    this.transactions++;
    const refused = this.checkPolicy(msg);
    if (refused) return refused;
    const mail = this.mailCommand(msg);
    const rcpt = this.rcptCommand(msg);
    const replies = this.ext.has("PIPELINING")
      ? await this.pipelined(mail, rcpt)
      : await this.stepwise(mail, rcpt);
    if (replies.kind !== "data") return replies.result;
    return this.sendContent(msg);
  }

  private checkPolicy(msg: OutboundMessage): SendResult | undefined {
    const who = `host ${peerName(this.peer)}`;
    if (msg.needsSmtputf8 && !this.ext.has("SMTPUTF8"))
      return { kind: "refused", dsn: "5.6.7", text: `SMTPUTF8 is required, but was not offered by ${who}` };
    const limit = Number(this.ext.get("SIZE") ?? "0");
    if (this.ext.has("SIZE") && limit > 0 && msg.size > limit)
      return {
        kind: "refused",
        dsn: "5.3.4",
        text: `message size ${msg.size} exceeds size limit ${limit} of server ${peerName(this.peer)}`,
      };
    for (const v of [msg.sender, msg.recipient, msg.orcpt ?? "", msg.notify ?? "", msg.envid ?? ""])
      if (LINE_BREAK.test(v))
        return { kind: "refused", dsn: "5.1.3", text: "bad address syntax in envelope" };
    return undefined;
  }

  private mailCommand(msg: OutboundMessage): string {
    const params: string[] = [];
    if (this.ext.has("SIZE")) params.push(`SIZE=${msg.size}`);
    if (msg.eightBit && this.ext.has("8BITMIME")) params.push("BODY=8BITMIME");
    if (msg.needsSmtputf8) params.push("SMTPUTF8");
    if (this.ext.has("DSN")) {
      if (msg.ret) params.push(`RET=${msg.ret}`);
      if (msg.envid) params.push(`ENVID=${msg.envid}`);
    }
    return [`MAIL FROM:<${msg.sender}>`, ...params].join(" ");
  }

  private rcptCommand(msg: OutboundMessage): string {
    const params: string[] = [];
    if (this.ext.has("DSN")) {
      if (msg.notify) params.push(`NOTIFY=${msg.notify}`);
      if (msg.orcpt)
        params.push(`ORCPT=${msg.orcpt.includes(";") ? msg.orcpt : `rfc822;${xtext(msg.orcpt)}`}`);
    }
    return [`RCPT TO:<${msg.recipient}>`, ...params].join(" ");
  }

  private async pipelined(mail: string, rcpt: string): Promise<Envelope> {
    const t = this.opts.timeouts;
    await this.conn.write(`${mail}\r\n${rcpt}\r\nDATA\r\n`, t.mail, "while sending MAIL FROM");
    const m = await this.conn.readReply(t.mail, "while sending MAIL FROM");
    const r = await this.conn.readReply(t.rcpt, "while sending RCPT TO");
    const d = await this.conn.readReply(t.dataInit, "while sending DATA command");
    const early =
      m.code !== 250 ? rejection(m, "MAIL FROM") : r.code >= 300 ? rejection(r, "RCPT TO") : undefined;
    if (early) {
      if (d.code === 354) await this.command(".", t.dataDone, "while sending end of data");
      return early;
    }
    return d.code === 354 ? { kind: "data" } : rejection(d, "DATA");
  }

  private async stepwise(mail: string, rcpt: string): Promise<Envelope> {
    const t = this.opts.timeouts;
    const m = await this.command(mail, t.mail, "while sending MAIL FROM");
    if (m.code !== 250) return rejection(m, "MAIL FROM");
    const r = await this.command(rcpt, t.rcpt, "while sending RCPT TO");
    if (r.code >= 300) return rejection(r, "RCPT TO");
    const d = await this.command("DATA", t.dataInit, "while sending DATA command");
    return d.code === 354 ? { kind: "data" } : rejection(d, "DATA");
  }

  private async sendContent(msg: OutboundMessage): Promise<SendResult> {
    const t = this.opts.timeouts;
    const encoder = new DataEncoder();
    const conn = this.conn;
    await pipeline(msg.open(), encoder, async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) await conn.write(chunk, t.dataXfer, "while sending message body");
    });
    const during = "while sending end of data -- message may be sent more than once";
    const done = await this.command(".", t.dataDone, during);
    return done.code === 250
      ? { kind: "sent", reply: done }
      : { kind: "rejected", reply: done, command: "end of DATA" };
  }

  /** Prepare a cached session for the next transaction: RSET must succeed. */
  async reset(): Promise<boolean> {
    try {
      return (await this.command("RSET", this.opts.timeouts.rset, "while sending RSET")).code === 250;
    } catch {
      return false;
    }
  }

  /** QUIT and close; errors are irrelevant by now. */
  async quit(): Promise<void> {
    try {
      await this.command("QUIT", Math.min(this.opts.timeouts.quit, 5000), "while sending QUIT");
    } catch {
      /* the server may close first */
    }
    this.conn.end();
  }
}

type Envelope = { kind: "data" } | { kind: "done"; result: SendResult };

function rejection(reply: ServerReply, command: string): Envelope {
  return { kind: "done", result: { kind: "rejected", reply, command } };
}

/** RFC 3461 xtext: "+", "=" and bytes outside 33..126 as "+HH". */
export function xtext(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    out +=
      byte < 33 || byte > 126 || byte === 0x2b || byte === 0x3d
        ? `+${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}

export { ConnectionFailure };
