/*
 * smtp-stdio — `postern sendmail -bs`: an SMTP session on standard input and output, as
 * mail programs use it to submit locally with SMTP semantics (per-recipient replies,
 * DSN parameters). The real SMTP server engine (lib/smtp/server-engine.ts) runs the
 * protocol; its queue hook writes each message into maildrop exactly as the command-line
 * mode does, and wakes pickup.
 *
 * Policy: every local submission is accepted (the user is already on the machine; what
 * they may send is decided by the same rules as for `sendmail` without -bs). The sender
 * from MAIL FROM is used as given, like -f; the uid recorded is the invoking user's.
 *
 * Talks to: lib/smtp (engine), lib/queue (maildrop file), lib/ipc (trigger pickup).
 * RFCs: 5321, 3461 (DSN parameters kept in the queue file). Security: runs as the user;
 * input is the user's own and the engine treats it as hostile anyway.
 */
import { CrlfToLf } from "../cleanup/line-endings.js";
import type {
  MessageSink,
  SmtpEngineEvent,
  SmtpEngineOptions,
  SmtpEnvelope,
  SmtpHooks,
} from "../smtp/engine-types.js";
import { SmtpServerEngine } from "../smtp/server-engine.js";
import { createMaildropFile, wakePickup } from "./maildrop.js";
import { localAttrs, type SubmitSettings } from "./submit.js";

export interface StdioSmtpSettings extends SubmitSettings {
  engine: SmtpEngineOptions;
  /** smtpd_timeout, ms. */
  timeoutMs: number;
}

export interface StdioStreams {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}

function bodyType(value: string | undefined): "7BIT" | "8BITMIME" | undefined {
  const upper = value?.toUpperCase();
  return upper === "7BIT" || upper === "8BITMIME" ? upper : undefined;
}

function retOf(value: string | undefined): "FULL" | "HDRS" | undefined {
  const upper = value?.toUpperCase();
  return upper === "FULL" || upper === "HDRS" ? upper : undefined;
}

/** The maildrop envelope for one SMTP transaction. */
function envelopeOf(settings: SubmitSettings, env: SmtpEnvelope) {
  const ret = retOf(env.mailParams["RET"]);
  const body = bodyType(env.mailParams["BODY"]);
  const envid = env.mailParams["ENVID"];
  return {
    sender: env.sender,
    recipients: env.recipients.map((r) => ({
      address: r.address,
      ...(r.params["ORCPT"] ? { orcpt: r.params["ORCPT"] } : {}),
      ...(r.params["NOTIFY"] ? { notify: r.params["NOTIFY"] } : {}),
    })),
    arrivalTime: Date.now(),
    attrs: localAttrs(settings, {
      ...(ret ? { ret } : {}),
      ...(envid ? { envid } : {}),
      ...(body ? { bodyType: body } : {}),
    }),
  };
}

async function openMaildropSink(settings: SubmitSettings, env: SmtpEnvelope): Promise<MessageSink> {
  const writer = await createMaildropFile(settings.queueDir, envelopeOf(settings, env));
  const crlf = new CrlfToLf();
  return {
    write: (chunk) => writer.write(crlf.push(chunk)),
    async end() {
      try {
        await writer.write(crlf.end());
        const id = await writer.commit();
        await wakePickup(settings.queueDir);
        return { code: 250, enhanced: "2.0.0", text: `Ok: queued as ${id}` };
      } catch {
        return { code: 451, enhanced: "4.3.0", text: "Error: queue file write error" };
      }
    },
    abort: () => void writer.abort(),
  };
}

/** Run one SMTP session on the given streams; resolves with the exit status when it ends. */
export function runSmtpOnStdio(settings: StdioSmtpSettings, io: StdioStreams): Promise<number> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      io.input.removeAllListeners("data");
      io.input.pause();
      resolve(0);
    };
    const emit = (e: SmtpEngineEvent): void => {
      if (e.type === "reply") io.output.write(e.bytes);
      else if (e.type === "close") io.output.write("", () => finish());
      else if (e.type === "pause") io.input.pause();
      else if (e.type === "resume") io.input.resume();
    };
    const hooks: SmtpHooks = { openMessage: (_s, env) => openMaildropSink(settings, env) };
    const info = {
      clientIp: "127.0.0.1",
      clientPort: 0,
      clientName: "localhost",
      serverName: settings.engine.hostname,
      tls: false,
    };
    const engine = new SmtpServerEngine(info, settings.engine, hooks, emit);
    const arm = (): void => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => engine.timeout(), settings.timeoutMs);
    };
    io.input.on("data", (chunk: Buffer | string) => {
      arm();
      engine.feed(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
    });
    io.input.on("end", () => {
      engine.end();
      // The client is gone: once what it sent is processed (a pending commit included),
      // the session is over whether or not it said QUIT.
      void engine.idle().then(finish);
    });
    arm();
    engine.start();
  });
}
