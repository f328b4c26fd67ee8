/*
 * login-harness — test helper: runs ImapLoginEngine on a captured output with a small
 * in-memory verifier (tim/secret succeeds, "busy" fails temporarily, "boom" throws).
 */
import type { SaslCredentials } from "../../lib/auth/sasl.js";
import {
  type ImapAuthVerdict,
  ImapLoginEngine,
  type ImapLoginEvent,
  type ImapLoginOptions,
} from "../../lib/imap/login-engine.js";

export const LOGIN_DEFAULTS: ImapLoginOptions = {
  hostname: "mail.example.org",
  tls: false,
  starttlsAvailable: true,
  plaintextAllowed: true,
  saslMechanisms: ["PLAIN", "LOGIN", "CRAM-MD5"],
  maxBadCommands: 5,
};

export interface LoginRun {
  engine: ImapLoginEngine;
  events: ImapLoginEvent[];
  seen: SaslCredentials[];
  readonly text: string;
  readonly ended: boolean;
  /** Feed more input and wait until it is handled. */
  feed(input: string | Buffer, byteByByte?: boolean): Promise<void>;
}

async function verify(c: SaslCredentials, delayMs: number): Promise<ImapAuthVerdict> {
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  if (c.user === "boom") throw new Error("auth service exploded");
  if (c.user === "busy") return { ok: false, temporary: true };
  if (c.type === "password" && c.user === "tim" && c.password === "secret") return { ok: true, user: "tim" };
  return { ok: false, temporary: false };
}

export function startLogin(opts: Partial<ImapLoginOptions> = {}, verifyDelayMs = 0): LoginRun {
  const chunks: Buffer[] = [];
  let ended = false;
  const events: ImapLoginEvent[] = [];
  const seen: SaslCredentials[] = [];
  const engine = new ImapLoginEngine(
    { ...LOGIN_DEFAULTS, ...opts },
    {
      verify: (c) => {
        seen.push(c);
        return verify(c, verifyDelayMs);
      },
    },
    {
      write: (b) => void chunks.push(b),
      end: () => {
        ended = true;
      },
    },
    (e) => events.push(e),
  );
  engine.start();
  return {
    engine,
    events,
    seen,
    get text() {
      return Buffer.concat(chunks).toString("latin1");
    },
    get ended() {
      return ended;
    },
    async feed(input, byteByByte = false) {
      const bytes = typeof input === "string" ? Buffer.from(input, "latin1") : input;
      if (!byteByByte) engine.push(bytes);
      else for (const b of bytes) engine.push(Buffer.from([b]));
      await engine.idle();
      await engine.idle();
    },
  };
}

/** Start an engine and feed it input, whole or byte by byte. */
export async function login(
  input: string,
  opts: Partial<ImapLoginOptions> = {},
  byteByByte = false,
): Promise<LoginRun> {
  const run = startLogin(opts);
  await run.feed(input, byteByByte);
  return run;
}
