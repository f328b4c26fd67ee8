import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Mode, type Pop3Client, session, withDeadline } from "./pop3-client.js";
import { ensurePackage, higher, type Memory, median, memoryOf, peakSampler } from "./procs.js";
import { dovecot, type Pop3System, posternPop3 } from "./systems.js";

interface Result {
  system: string;
  clients: number;
  mode: Mode;
  messages: number;
  bytes: number;
  seconds: number;
  msgPerS: number;
  mbPerS: number;
  peak: Memory;
}

async function runOne(sys: Pop3System, clients: number, mode: Mode, deadlineS: number): Promise<Result> {
  const open = new Set<Pop3Client>();
  const sampler = peakSampler(() => sys.masterPid());
  const t0 = performance.now();
  let done: { messages: number; bytes: number }[];
  try {
    const sessions = sys.users.slice(0, clients).map((u) => session(sys, u, { mode, open }));
    done = await withDeadline(Promise.all(sessions), deadlineS, `${sys.name}, ${clients} client(s), ${mode}`);
  } catch (e) {
    for (const c of open) c.destroy(); // a late or failed run must not linger into the next
    sampler.stop();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const peak = higher(sampler.stop(), memoryOf(sys.masterPid())); // a run may be shorter than one sample
  const messages = done.reduce((s, d) => s + d.messages, 0);
  const bytes = done.reduce((s, d) => s + d.bytes, 0);
  const rates = { msgPerS: messages / seconds, mbPerS: bytes / 1e6 / seconds };
  return { system: sys.name, clients, mode, messages, bytes, seconds, ...rates, peak };
}

/** Message i (1-based): 2–4 KiB, LF line endings as local delivery writes them, some lines starting with ".". */
function message(i: number): string {
  const target = 2048 + ((i * 2654435761) % 2048);
  const head = [
    `Return-Path: <sender${i}@example.org>`,
    `Received: from client.example (localhost [127.0.0.1]) by bench.localdomain; Sat, 22 Nov 2026 10:00:${String(i % 60).padStart(2, "0")} +0000`,
    `From: Sender ${i} <sender${i}@example.org>`,
    "To: bench@localhost",
    `Subject: benchmark message ${i}`,
    `Date: Sat, 22 Nov 2026 10:00:${String(i % 60).padStart(2, "0")} +0000`,
    `Message-ID: <bench.${i}@example.org>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "",
  ].join("\n");
  const lines: string[] = [];
  let size = head.length + 1;
  for (let n = 0; size < target; n++) {
    const text = `${n % 10 === 9 ? "." : ""}line ${n} of message ${i}: ${randomBytes(24).toString("base64")}`;
    lines.push(text);
    size += text.length + 1;
  }
  return `${head}\n${lines.join("\n")}\n`;
}

/** Octets a RETR body carries for this file: CRLF line ends, dot-stuffed. */
function wireSize(text: string): number {
  const lines = text.split("\n").slice(0, -1);
  return lines.reduce((s, l) => s + l.length + 2 + (l.startsWith(".") ? 1 : 0), 0);
}

/** Write the same messages into every mailbox of every system, as Maildir new/ files. */
function fill(systems: Pop3System[], count: number): number {
  let wire = 0;
  for (let i = 1; i <= count; i++) {
    const text = message(i);
    wire += wireSize(text);
    const crlf = Buffer.byteLength(text) + text.split("\n").length - 1;
    const name = `${1_790_000_000 + i}.M${i}P${process.pid}.bench,S=${Buffer.byteLength(text)},W=${crlf}`;
    for (const sys of systems)
      for (const u of sys.users) writeFileSync(join(sys.maildirOf(u), "new", name), text);
  }
  for (const sys of systems) sys.ownMailboxes();
  return wire;
}

/** One session per mailbox so both servers index first; checks every byte arrived. */
async function warmUp(sys: Pop3System, count: number, wire: number, deadlineS: number): Promise<void> {
  for (const u of sys.users) {
    const open = new Set<Pop3Client>();
    const r = await withDeadline(
      session(sys, u, { mode: "pipe", open }),
      deadlineS,
      `${sys.name} warm-up`,
    ).catch((e: unknown) => {
      for (const c of open) c.destroy();
      throw e;
    });
    if (r.messages !== count || r.bytes !== wire)
      throw new Error(
        `${sys.name} ${u}: ${r.messages} messages / ${r.bytes} bytes, expected ${count} / ${wire}`,
      );
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/** The median run of one system on one workload, with the highest peak seen over its repeats. */
function summary(results: Result[], system: string, clients: number, mode: Mode) {
  const runs = results.filter((r) => r.system === system && r.clients === clients && r.mode === mode);
  if (runs.length === 0) return undefined;
  const peakPss = Math.max(...runs.map((r) => r.peak.pssKiB));
  return { msgPerS: median(runs.map((r) => r.msgPerS)), mbPerS: median(runs.map((r) => r.mbPerS)), peakPss };
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const ratio = (r: number) => (r < 0.1 ? r.toFixed(3) : r.toFixed(2));

function table(results: Result[], idle: Record<string, Memory>): string {
  const rows = [
    "| workload | postern msg/s | postern MB/s | Dovecot msg/s | Dovecot MB/s | ratio | postern peak PSS MiB | Dovecot peak PSS MiB |",
    "|---|---|---|---|---|---|---|---|",
  ];
  const workloads = [...new Set(results.map((r) => `${r.clients}/${r.mode}`))];
  for (const w of workloads) {
    const [c, mode] = w.split("/") as [string, Mode];
    const p = summary(results, "postern", Number(c), mode);
    const d = summary(results, "dovecot", Number(c), mode);
    if (!p || !d) continue;
    const name = `RETR all, ${c} client${c === "1" ? "" : "s"}${mode === "pipe" ? ", pipelined" : ""}`;
    rows.push(
      `| ${name} | ${p.msgPerS.toFixed(0)} | ${p.mbPerS.toFixed(1)} | ${d.msgPerS.toFixed(0)} | ${d.mbPerS.toFixed(1)} | ${ratio(p.msgPerS / d.msgPerS)} | ${mib(p.peakPss)} | ${mib(d.peakPss)} |`,
    );
  }
  const pi = idle["postern"];
  const di = idle["dovecot"];
  const idleCell = (m: Memory) => `RSS ${mib(m.rssKiB)} / PSS ${mib(m.pssKiB)} MiB, ${m.processes} processes`;
  if (pi && di) rows.push(`| idle (after start) | ${idleCell(pi)} | | ${idleCell(di)} | | | | |`);
  return rows.join("\n");
}

function options() {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "1000" },
      clients: { type: "string", default: "1,4" },
      modes: { type: "string", default: "seq,pipe" },
      repeat: { type: "string", default: "3" },
      deadline: { type: "string", default: "120" },
      "port-base": { type: "string", default: "23000" },
      "dovecot-port": { type: "string", default: "24110" },
      out: { type: "string" },
    },
  });
  const modes = values.modes.split(",").filter((m): m is Mode => m === "seq" || m === "pipe");
  const clients = values.clients.split(",").map(Number);
  if (modes.length === 0 || clients.some((c) => !(c >= 1))) throw new Error("bad --modes or --clients");
  return {
    count: Number(values.count),
    clients,
    modes,
    repeat: Number(values.repeat),
    deadlineS: Number(values.deadline),
    portBase: Number(values["port-base"]),
    dovecotPort: Number(values["dovecot-port"]),
    out: values.out,
  };
}

type Options = ReturnType<typeof options>;

async function measure(systems: Pop3System[], o: Options, wire: number): Promise<Result[]> {
  const results: Result[] = [];
  for (const sys of systems) await warmUp(sys, o.count, wire, o.deadlineS);
  for (const clients of o.clients)
    for (const mode of o.modes)
      for (let rep = 0; rep < o.repeat; rep++)
        for (const sys of systems) {
          const r = await runOne(sys, clients, mode, o.deadlineS);
          process.stderr.write(
            `${sys.name} clients=${clients} ${mode} #${rep + 1}: ${r.messages} msgs in ${r.seconds.toFixed(2)} s = ${r.msgPerS.toFixed(0)} msg/s, ${r.mbPerS.toFixed(1)} MB/s, peak PSS ${mib(r.peak.pssKiB)} MiB\n`,
          );
          results.push(r);
        }
  return results;
}

/** Stops what was started and removes the temp dir, once: from `finally` or on SIGINT/SIGTERM. */
function cleaner(root: string, started: Pop3System[]): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    for (const s of started) {
      try {
        s.stop();
      } catch {
        /* already stopped */
      }
    }
    rmSync(root, { recursive: true, force: true });
  };
}

async function main(): Promise<void> {
  const o = options();
  if (process.getuid?.() !== 0) throw new Error("run as root: Dovecot's master needs it");
  ensurePackage("/usr/lib/dovecot/pop3", "dovecot-pop3d");
  for (const port of [o.portBase + 110, o.dovecotPort])
    if (!(await portFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use`);
  const users = Math.max(...o.clients);
  const password = randomBytes(9).toString("base64url");
  const root = mkdtempSync(join(tmpdir(), "postern-bench-pop3-"));
  const started: Pop3System[] = [];
  const cleanup = cleaner(root, started);
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const systems = [
      posternPop3(root, o.portBase, users, password),
      dovecot(root, o.dovecotPort, users, password),
    ];
    const wire = fill(systems, o.count);
    for (const s of systems) {
      started.push(s);
      s.start();
    }
    await sleep(2000);
    const idle: Record<string, Memory> = {};
    for (const s of systems) idle[s.name] = memoryOf(s.masterPid());
    const results = await measure(systems, o, wire);
    const date = new Date().toISOString();
    process.stdout.write(
      `POP3 benchmark, ${date}, ${o.count} messages (${(wire / o.count / 1024).toFixed(1)} KiB average on the wire) per mailbox, median of ${o.repeat}\n\n${table(results, idle)}\n`,
    );
    if (o.out) writeFileSync(o.out, JSON.stringify({ date, ...o, wire, results, idle }, null, 2));
  } finally {
    cleanup();
  }
}

await main().catch((e: unknown) => {
  process.stderr.write(`pop3 benchmark: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
