/*
 * smtp-latency — single-message latency: one message at a time on an otherwise idle system,
 * each in its own SMTP session, timed from connect to the 250 after the data ("accepted") and
 * from connect to the message file appearing in the recipient's Maildir/new ("in Maildir").
 * The next message is sent only once the previous one is in the Maildir, so every figure is
 * one message alone through the whole system, not a share of a throughput run.
 * Used by smtp.ts (--latency N); the client speaks plain SMTP, one command at a time.
 * The Maildir is watched with fs.watch (inotify), so the arrival time is not a polling step.
 */
import { type FSWatcher, watch } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { median } from "./procs.js";
import { countMaildir, emptyMaildir, type MailSystem } from "./systems.js";

export interface Latency {
  system: string;
  messages: number;
  acceptMs: number;
  deliverMs: number;
  acceptP90Ms: number;
  deliverP90Ms: number;
}

const p90 = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)] ?? Number.NaN;

/** One session: resolves with the time of the 250 that ends the data, or rejects on any other reply. */
function sendOne(port: number, rcpt: string, body: string, deadlineMs: number): Promise<number> {
  const steps = [
    "EHLO client.example\r\n",
    "MAIL FROM:<bench@example.org>\r\n",
    `RCPT TO:<${rcpt}>\r\n`,
    "DATA\r\n",
    body,
    "QUIT\r\n",
  ];
  const expect = ["220", "250", "250", "250", "354", "250", "221"];
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1");
    s.setNoDelay(true);
    const timer = setTimeout(() => s.destroy(new Error("single-message session timed out")), deadlineMs);
    let step = 0;
    let buf = "";
    let accepted = 0;
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      // A complete reply: its last line has a space after the code.
      if (!/(^|\n)\d{3} [^\n]*\r\n$/.test(buf)) return;
      const code = buf.slice(buf.lastIndexOf("\n", buf.length - 3) + 1).slice(0, 3);
      buf = "";
      if (code !== expect[step]) return void s.destroy(new Error(`step ${step}: got ${code}`));
      if (step === 5) accepted = performance.now();
      const next = steps[step++];
      if (next !== undefined) s.write(next);
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      if (accepted) resolve(accepted);
      else reject(new Error("session closed before the message was accepted"));
    });
  });
}

/** Resolves when a new file name shows up in dir (inotify through fs.watch), or rejects after ms. */
function nextArrival(dir: string, ms: number): { arrived: Promise<number>; stop: () => void } {
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    watcher?.close();
    if (timer) clearTimeout(timer);
  };
  const arrived = new Promise<number>((resolve, reject) => {
    watcher = watch(dir, () => {
      stop();
      resolve(performance.now());
    });
    timer = setTimeout(() => {
      stop();
      reject(new Error(`no delivery into ${dir} within ${ms} ms`));
    }, ms);
  });
  arrived.catch(() => undefined); // awaited later; a rejection before then must not end the process
  return { arrived, stop };
}

export async function singleMessageLatency(
  sys: MailSystem,
  messages: number,
  size: number,
): Promise<Latency> {
  emptyMaildir(sys.maildir);
  const line = `${"x".repeat(76)}\r\n`;
  const body = `Subject: latency\r\n\r\n${line.repeat(Math.max(1, Math.round(size / line.length)))}.\r\n`;
  // One untimed message first: Postfix's local creates the Maildir at its first delivery,
  // and there must be a new/ to watch.
  await sendOne(sys.port, sys.rcpt, body, 10_000);
  const until = Date.now() + 10_000;
  while (countMaildir(sys.maildir) === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  emptyMaildir(sys.maildir);
  const accepts: number[] = [];
  const delivers: number[] = [];
  for (let i = 0; i < messages; i++) {
    const arrival = nextArrival(join(sys.maildir, "new"), 10_000);
    const t0 = performance.now();
    try {
      const accepted = await sendOne(sys.port, sys.rcpt, body, 10_000);
      const delivered = await arrival.arrived;
      accepts.push(accepted - t0);
      delivers.push(delivered - t0);
    } finally {
      arrival.stop();
    }
  }
  return {
    system: sys.name,
    messages,
    acceptMs: median(accepts),
    deliverMs: median(delivers),
    acceptP90Ms: p90(accepts),
    deliverP90Ms: p90(delivers),
  };
}
