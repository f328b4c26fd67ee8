import {
  type Pop3AuthVerdict,
  type Pop3Credentials,
  Pop3LoginEngine,
  type Pop3LoginEvent,
  type Pop3LoginOptions,
} from "../../lib/pop3/login-engine.js";
import { Pop3MailEngine, type Pop3MailEvent } from "../../lib/pop3/mail-engine.js";
import { MemoryStore, type MemoryStoreOptions } from "../../lib/pop3/memory-store.js";

export interface Captured {
  text(): string;
  ended: boolean;
}

export function capture(): { out: { write(b: Buffer): void; end(): void }; cap: Captured } {
  const chunks: Buffer[] = [];
  const cap = { ended: false, text: () => Buffer.concat(chunks).toString("latin1") };
  return {
    out: {
      write: (b) => void chunks.push(b),
      end: () => {
        cap.ended = true;
      },
    },
    cap,
  };
}

/** Feed input whole or one byte at a time. */
export async function feed(
  engine: { push(b: Buffer): void; idle(): Promise<void> },
  input: string,
  byteByByte: boolean,
) {
  const bytes = Buffer.from(input, "latin1");
  if (!byteByByte) engine.push(bytes);
  else for (const b of bytes) engine.push(Buffer.from([b]));
  await engine.idle();
  await engine.idle();
}

export const LOGIN_DEFAULTS: Pop3LoginOptions = {
  hostname: "mail.example.org",
  apop: false,
  tls: false,
  stlsAvailable: true,
  plaintextAllowed: true,
  saslMechanisms: ["PLAIN", "LOGIN", "CRAM-MD5"],
  maxBadCommands: 5,
};

export async function login(input: string, opts: Partial<Pop3LoginOptions> = {}, byteByByte = false) {
  const { out, cap } = capture();
  const events: Pop3LoginEvent[] = [];
  const seen: Pop3Credentials[] = [];
  const auth = {
    async verify(c: Pop3Credentials): Promise<Pop3AuthVerdict> {
      seen.push(c);
      if (c.type === "password")
        return c.user === "tim" && c.password === "secret" ? { ok: true, user: "tim" } : { ok: false };
      return { ok: false };
    },
  };
  const engine = new Pop3LoginEngine({ ...LOGIN_DEFAULTS, ...opts }, auth, out, (e) => events.push(e));
  engine.start();
  await feed(engine, input, byteByByte);
  return {
    engine,
    events,
    seen,
    get text() {
      return cap.text();
    },
    get ended() {
      return cap.ended;
    },
  };
}

export const MESSAGES = [
  "From: a@example.org\nSubject: one\n\nHello\n.leading dot\n..two dots\nlast\n",
  "Subject: two\r\n\r\nline1\r\nline2\r\nline3\r\n",
  "Subject: three\n\nno final newline",
];

export async function mail(input: string, byteByByte = false, storeOpts: MemoryStoreOptions = {}) {
  const { out, cap } = capture();
  const store = new MemoryStore(MESSAGES, storeOpts);
  const events: Pop3MailEvent[] = [];
  const engine = new Pop3MailEngine(
    async () => store,
    { user: "tim", maxBadCommands: 5 },
    out,
    (e) => events.push(e),
  );
  await engine.start();
  await feed(engine, input, byteByByte);
  return { engine, store, text: cap.text(), ended: cap.ended, events };
}
