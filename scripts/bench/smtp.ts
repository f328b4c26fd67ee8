/*
 * smtp benchmark — the same SMTP load against postern and Postfix, side by side in one run
 * on loopback: Postfix's smtp-source sends N messages of SIZE bytes over S parallel
 * sessions to a local user; we time acceptance (smtp-source finishing: every message got its
 * 250) and delivery (every message in the Maildir), alternating the systems per workload,
 * and report msg/s for each, the ratio postern/Postfix, and idle and peak memory (RSS and
 * PSS of master plus every worker). Needs root (Postfix) and Debian's postfix package.
 *
 *   npm run build && sudo node dist/scripts/bench/smtp.js [--count 1000] [--sessions 1,10,50] [--size 2048]
 *     [--latency 50] [--port-base 23000] [--postfix-port 24025] [--only postern]
 * (postern listens on port-base + 25; --only runs one system, for A/B runs of postern alone;
 * --latency N first times N single messages alone, see smtp-latency.ts; 0 skips that)
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Memory, memoryOf, peakSampler } from "./procs.js";
import { type Latency, singleMessageLatency } from "./smtp-latency.js";
import { countMaildir, emptyMaildir, type MailSystem, postern, postfix } from "./systems.js";

interface Result {
  system: string;
  sessions: number;
  count: number;
  acceptedPerS: number;
  deliveredPerS: number;
  delivered: number;
  peak: Memory;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ensurePostfix(): void {
  // Installed with "No configuration" there is no main.cf, which postconf needs to register our instance.
  if (existsSync("/etc/postfix") && !existsSync("/etc/postfix/main.cf"))
    writeFileSync("/etc/postfix/main.cf", "");
  if (existsSync("/usr/sbin/smtp-source")) return;
  execFileSync(
    "sh",
    [
      "-c",
      "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null",
    ],
    { stdio: "inherit" },
  );
}

function smtpSource(sys: MailSystem, sessions: number, count: number, size: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const args = [
      "-s",
      String(sessions),
      "-m",
      String(count),
      "-l",
      String(size),
      "-f",
      "bench@example.org",
      "-t",
      sys.rcpt,
      "-M",
      "client.example",
      `127.0.0.1:${sys.port}`,
    ];
    const child = spawn("/usr/sbin/smtp-source", args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(0);
      else reject(new Error(`smtp-source against ${sys.name} exited ${code}: ${err.slice(0, 500)}`));
    });
  });
}

async function runOne(sys: MailSystem, sessions: number, count: number, size: number): Promise<Result> {
  emptyMaildir(sys.maildir);
  const sampler = peakSampler(() => sys.masterPid());
  const t0 = performance.now();
  await smtpSource(sys, sessions, count, size);
  const accepted = performance.now();
  const deadline = Date.now() + 120_000;
  let delivered = countMaildir(sys.maildir);
  while (delivered < count && Date.now() < deadline) {
    await sleep(20);
    delivered = countMaildir(sys.maildir);
  }
  const done = performance.now();
  const peak = sampler.stop();
  return {
    system: sys.name,
    sessions,
    count,
    acceptedPerS: count / ((accepted - t0) / 1000),
    deliveredPerS: delivered / ((done - t0) / 1000),
    delivered,
    peak,
  };
}

function mib(kib: number): string {
  return (kib / 1024).toFixed(1);
}

function table(results: Result[], idle: Record<string, Memory>, latency: Latency[]): string {
  const rows = [
    "| workload | postern msg/s | Postfix msg/s | ratio | postern peak PSS MiB | Postfix peak PSS MiB |",
    "|---|---|---|---|---|---|",
  ];
  const sessions = [...new Set(results.map((r) => r.sessions))];
  for (const s of sessions) {
    const p = results.find((r) => r.system === "postern" && r.sessions === s);
    const f = results.find((r) => r.system === "postfix" && r.sessions === s);
    if (!p || !f) continue;
    rows.push(
      `| accept, ${s} session${s === 1 ? "" : "s"} | ${p.acceptedPerS.toFixed(0)} | ${f.acceptedPerS.toFixed(0)} | ${(p.acceptedPerS / f.acceptedPerS).toFixed(2)} | ${mib(p.peak.pssKiB)} | ${mib(f.peak.pssKiB)} |`,
    );
    rows.push(
      `| to Maildir, ${s} session${s === 1 ? "" : "s"} | ${p.deliveredPerS.toFixed(0)} | ${f.deliveredPerS.toFixed(0)} | ${(p.deliveredPerS / f.deliveredPerS).toFixed(2)} | | |`,
    );
  }
  const lp = latency.find((l) => l.system === "postern");
  const lf = latency.find((l) => l.system === "postfix");
  if (lp && lf)
    rows.push(
      `| single message, accepted / in Maildir (ms, median) | ${lp.acceptMs.toFixed(2)} / ${lp.deliverMs.toFixed(2)} | ${lf.acceptMs.toFixed(2)} / ${lf.deliverMs.toFixed(2)} | ${(lf.acceptMs / lp.acceptMs).toFixed(2)} / ${(lf.deliverMs / lp.deliverMs).toFixed(2)} | | |`,
    );
  const pi = idle["postern"];
  const fi = idle["postfix"];
  if (pi && fi)
    rows.push(
      `| idle (after start) | RSS ${mib(pi.rssKiB)} / PSS ${mib(pi.pssKiB)} MiB, ${pi.processes} processes | RSS ${mib(fi.rssKiB)} / PSS ${mib(fi.pssKiB)} MiB, ${fi.processes} processes | | | |`,
    );
  return rows.join("\n");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "1000" },
      sessions: { type: "string", default: "1,10,50" },
      size: { type: "string", default: "2048" },
      latency: { type: "string", default: "50" },
      out: { type: "string" },
      "port-base": { type: "string", default: "23000" },
      "postfix-port": { type: "string", default: "24025" },
      only: { type: "string" },
    },
  });
  if (process.getuid?.() !== 0) throw new Error("run as root: Postfix's master needs it");
  ensurePostfix();
  const count = Number(values.count);
  const size = Number(values.size);
  const sessionList = values.sessions.split(",").map(Number);
  const root = mkdtempSync(join(tmpdir(), "postern-bench-"));
  const makers: [string, () => MailSystem][] = [
    ["postfix", () => postfix(root, Number(values["postfix-port"]))],
    ["postern", () => postern(root, Number(values["port-base"]))],
  ];
  const systems = makers.filter(([name]) => !values.only || name === values.only).map(([, make]) => make());
  const results: Result[] = [];
  const latency: Latency[] = [];
  const idle: Record<string, Memory> = {};
  try {
    for (const s of systems) s.start();
    await sleep(3000);
    for (const s of systems) idle[s.name] = memoryOf(s.masterPid());
    const latencyCount = Number(values.latency);
    if (latencyCount > 0)
      for (const sys of systems) {
        const l = await singleMessageLatency(sys, latencyCount, size);
        process.stderr.write(
          `${sys.name} single message: accepted ${l.acceptMs.toFixed(2)} ms, in Maildir ${l.deliverMs.toFixed(2)} ms (median of ${l.messages})\n`,
        );
        latency.push(l);
        await sleep(1000);
      }
    for (const sessions of sessionList) {
      for (const sys of systems) {
        const r = await runOne(sys, sessions, count, size);
        process.stderr.write(
          `${sys.name} sessions=${sessions}: accepted ${r.acceptedPerS.toFixed(0)} msg/s, delivered ${r.delivered}/${count} at ${r.deliveredPerS.toFixed(0)} msg/s, peak PSS ${mib(r.peak.pssKiB)} MiB\n`,
        );
        results.push(r);
        await sleep(1000);
      }
    }
  } finally {
    for (const s of systems) {
      try {
        s.stop();
      } catch {
        /* already stopped */
      }
    }
  }
  const report = `SMTP benchmark, ${new Date().toISOString()}, ${count} messages of ${size} bytes per run\n\n${table(results, idle, latency)}\n`;
  process.stdout.write(report);
  if (values.out)
    writeFileSync(
      values.out,
      JSON.stringify({ date: new Date().toISOString(), count, size, results, latency, idle }, null, 2),
    );
  rmSync(root, { recursive: true, force: true });
}

await main();
