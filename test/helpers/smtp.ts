/*
 * smtp — test-side SMTP helpers: a raw line-by-line client (for exact reply texts and
 * protocol abuse), the Python smtplib load script, and Maildir/mbox readers that count
 * delivered copies by their X-Seq header.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { REPO, runProgram } from "./sandbox.js";

/**
 * Send each command (after the greeting) and collect each complete reply. After the last
 * reply the client ends the connection (`hangUp`: drops it) and resolves at once, or with
 * `untilClose` when the server has closed too. `gate` holds the next command back until
 * its promise settles, after that many replies.
 */
export function smtpDialog(
  port: number,
  commands: string[],
  opts: {
    timeoutMs?: number;
    hangUp?: boolean;
    untilClose?: boolean;
    gate?: { afterReplies: number; wait: () => Promise<unknown> };
  } = {},
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    const replies: string[] = [];
    let buf = "";
    let next = 0;
    const timer = setTimeout(() => {
      s.destroy();
      resolve(replies);
    }, opts.timeoutMs ?? 15_000);
    const proceed = () => {
      if (next < commands.length) {
        s.write(commands[next++] as string);
        return;
      }
      if (opts.hangUp) s.destroy();
      else s.end();
      if (opts.untilClose) return;
      clearTimeout(timer);
      resolve(replies);
    };
    s.on("data", (d) => {
      buf += d.toString("latin1");
      for (;;) {
        const m = buf.match(/^((?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n)/);
        if (!m?.[1]) break;
        replies.push(m[1].trimEnd());
        buf = buf.slice(m[1].length);
        if (opts.gate && replies.length === opts.gate.afterReplies)
          void opts.gate.wait().then(proceed, reject);
        else proceed();
      }
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      if (replies.length > 0) resolve(replies);
      else reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}

export interface LoadResult {
  accepted: number[];
  failed: number[];
}

export async function smtpLoad(
  port: number,
  opts: { total: number; conns: number; rcpt: string; tag: string; deadlineS?: number },
): Promise<LoadResult> {
  const script = join(REPO, "test/fixtures/e2e/smtp_load.py");
  const r = await runProgram(
    "python3",
    [
      script,
      "127.0.0.1",
      String(port),
      String(opts.total),
      String(opts.conns),
      opts.rcpt,
      opts.tag,
      String(opts.deadlineS ?? 120),
    ],
    { timeoutMs: ((opts.deadlineS ?? 120) + 30) * 1000 },
  );
  if (r.code !== 0) throw new Error(`smtp_load.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as LoadResult;
}

/** Every message file of a Maildir (new/ and cur/). */
export function maildirMessages(maildir: string): string[] {
  const out: string[] = [];
  for (const sub of ["new", "cur"]) {
    const d = join(maildir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) out.push(readFileSync(join(d, f), "latin1"));
  }
  return out;
}

/** Count delivered copies per X-Seq value. */
export function seqCounts(messages: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const m of messages) {
    const seq = m.match(/^X-Seq: (\S+)$/m)?.[1];
    if (seq) counts.set(seq, (counts.get(seq) ?? 0) + 1);
  }
  return counts;
}

/** Split an mbox file into messages at From_ lines. */
export function mboxMessages(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "latin1");
  return text
    .split(/^(?=From \S+ {1,2}\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$)/m)
    .filter((m) => m.startsWith("From "));
}
