/*
 * harness — drives an SmtpServerEngine in memory for the tests: default options, a
 * recording MessageSink, an event log, and helpers to feed input in any split.
 */
import type {
  MessageSink,
  SmtpEngineEvent,
  SmtpEngineOptions,
  SmtpHooks,
  SmtpSessionInfo,
} from "../../lib/smtp/engine-types.js";
import { reply, type SmtpReply } from "../../lib/smtp/reply.js";
import { SmtpServerEngine } from "../../lib/smtp/server-engine.js";

export class MemorySink implements MessageSink {
  readonly chunks: Buffer[] = [];
  ended = false;
  aborted: string | null = null;
  constructor(private readonly endReply: SmtpReply = reply(250, "2.0.0", "Ok: queued as 4QxYz1ABC")) {}
  async write(chunk: Buffer): Promise<void> {
    this.chunks.push(Buffer.from(chunk));
  }
  async end(): Promise<SmtpReply> {
    this.ended = true;
    return this.endReply;
  }
  abort(reason: string): void {
    this.aborted = reason;
  }
  get content(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }
}

export const INFO: SmtpSessionInfo = {
  clientIp: "192.0.2.7",
  clientPort: 40000,
  clientName: "client.example",
  serverName: "mx.example.org",
  tls: false,
};

export function options(overrides: Partial<SmtpEngineOptions> = {}): SmtpEngineOptions {
  return {
    greeting: "mx.example.org ESMTP Postern",
    hostname: "mx.example.org",
    messageSizeLimit: 10_240_000,
    recipientLimit: 1000,
    lineLengthLimit: 2048,
    hardErrorLimit: 20,
    softErrorLimit: 10,
    junkCommandLimit: 100,
    forbidBareNewline: "normalize",
    disableVrfy: false,
    heloRequired: false,
    ...overrides,
    extensions: {
      starttls: false,
      auth: null,
      dsn: true,
      chunking: true,
      smtputf8: true,
      pipelining: true,
      ...overrides.extensions,
    },
  };
}

export interface Harness {
  engine: SmtpServerEngine;
  events: SmtpEngineEvent[];
  sinks: MemorySink[];
  /** All reply bytes so far, as text. */
  transcript(): string;
  /** Reply lines so far (without CRLF). */
  lines(): string[];
  closed(): boolean;
  send(input: string | Buffer, split?: "whole" | "bytes" | number[]): Promise<void>;
}

export interface HarnessOptions {
  opts?: Partial<SmtpEngineOptions>;
  hooks?: Partial<SmtpHooks>;
  info?: Partial<SmtpSessionInfo>;
  sinkReply?: SmtpReply;
  start?: boolean;
}

export function harness(h: HarnessOptions = {}): Harness {
  const events: SmtpEngineEvent[] = [];
  const sinks: MemorySink[] = [];
  const hooks: SmtpHooks = {
    openMessage: async () => {
      const sink = new MemorySink(h.sinkReply);
      sinks.push(sink);
      return sink;
    },
    ...h.hooks,
  };
  const engine = new SmtpServerEngine({ ...INFO, ...h.info }, options(h.opts), hooks, (e) => events.push(e));
  if (h.start !== false) engine.start();
  const transcript = () =>
    events
      .filter((e) => e.type === "reply")
      .map((e) => e.bytes.toString("utf8"))
      .join("");
  return {
    engine,
    events,
    sinks,
    transcript,
    lines: () => transcript().split("\r\n").slice(0, -1),
    closed: () => events.some((e) => e.type === "close"),
    send: async (input, split = "whole") => {
      const bytes = typeof input === "string" ? Buffer.from(input, "utf8") : input;
      for (const piece of splitBytes(bytes, split)) engine.feed(piece);
      await engine.idle();
    },
  };
}

export function splitBytes(bytes: Buffer, split: "whole" | "bytes" | number[]): Buffer[] {
  if (split === "whole") return [bytes];
  if (split === "bytes") return [...bytes].map((b) => Buffer.from([b]));
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...split].sort((a, b) => a - b)) {
    if (cut > at && cut < bytes.length) {
      out.push(bytes.subarray(at, cut));
      at = cut;
    }
  }
  out.push(bytes.subarray(at));
  return out;
}

/** Codes of the reply lines after the greeting, final lines only. */
export function codes(h: Harness): string[] {
  return h
    .lines()
    .slice(1)
    .filter((l) => l[3] !== "-")
    .map((l) => l.slice(0, 3));
}
