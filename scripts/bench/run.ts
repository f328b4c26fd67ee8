/*
 * run — the benchmark suite's one entry point (`npm run bench`, as root): runs the SMTP
 * (vs Postfix), POP3 and IMAP (vs Dovecot) benchmarks one after the other, each against its
 * anchor in the same run, then writes one table of every workload — postern, anchor, ratio
 * (>1: postern is better) — with idle memory, the date and the machine, to
 * scripts/bench/RESULTS.md, and a bar chart of the ratios to scripts/bench/ratios.svg.
 *
 *   npm run bench [-- --quick] [--only smtp,pop3,imap]
 *
 * --quick uses small counts (a smoke run of the whole suite in a few minutes); without it
 * the benchmarks run with the sizes the issues ask for (SMTP 1/10/50 sessions, IMAP 100,000
 * messages). Each benchmark has its own deadlines and cleans up after itself.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Memory, median } from "./procs.js";

/** Peak memory of one system during one workload (KiB); absent where a workload does not sample it. */
interface Peak {
  readonly pssKiB: number;
  readonly rssKiB: number;
}

interface Row {
  readonly workload: string;
  readonly unit: string;
  readonly postern: number;
  readonly anchor: number;
  readonly anchorName: string;
  /** postern/anchor for rates, anchor/postern for latencies: >1 means postern is better. */
  readonly ratio: number;
  readonly posternPeak?: Peak;
  readonly anchorPeak?: Peak;
}

/** Each whole system's memory right after start, per benchmark. */
interface Idle {
  readonly bench: string;
  readonly anchorName: string;
  readonly postern: Memory;
  readonly anchor: Memory;
}

/** The highest of some peaks (by PSS, as the samplers pick them). */
function highest(peaks: readonly Peak[]): Peak | undefined {
  return peaks.reduce<Peak | undefined>((a, b) => (a && a.pssKiB >= b.pssKiB ? a : b), undefined);
}

export function idleOf(
  bench: string,
  anchorName: string,
  anchorKey: string,
  idle?: Record<string, Memory>,
): Idle[] {
  const postern = idle?.["postern"];
  const anchor = idle?.[anchorKey];
  return postern && anchor ? [{ bench, anchorName, postern, anchor }] : [];
}

const HERE = fileURLToPath(new URL(".", import.meta.url));
const REPO_BENCH = fileURLToPath(new URL("../../../scripts/bench/", import.meta.url));

function runBench(script: string, args: string[], out: string): unknown {
  execFileSync(process.execPath, [join(HERE, script), ...args, "--out", out], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  return JSON.parse(readFileSync(out, "utf8")) as unknown;
}

export interface SmtpJson {
  results: { system: string; sessions: number; acceptedPerS: number; deliveredPerS: number; peak: Peak }[];
  idle?: Record<string, Memory>;
  latency?: { system: string; acceptMs: number; deliverMs: number }[];
}
export function smtpRows(j: SmtpJson): Row[] {
  const rows: Row[] = [];
  const lp = j.latency?.find((l) => l.system === "postern");
  const lf = j.latency?.find((l) => l.system === "postfix");
  if (lp && lf)
    for (const [key, label] of [
      ["acceptMs", "accepted"],
      ["deliverMs", "in Maildir"],
    ] as const)
      rows.push({
        workload: `SMTP single message, ${label}`,
        unit: "ms",
        postern: lp[key],
        anchor: lf[key],
        anchorName: "Postfix",
        ratio: lf[key] / lp[key],
      });
  for (const sessions of [...new Set(j.results.map((r) => r.sessions))]) {
    for (const [key, label] of [
      ["acceptedPerS", "accept"],
      ["deliveredPerS", "to Maildir"],
    ] as const) {
      const of = (s: string) =>
        median(j.results.filter((r) => r.system === s && r.sessions === sessions).map((r) => r[key]));
      const peakOf = (s: string) =>
        highest(j.results.filter((r) => r.system === s && r.sessions === sessions).map((r) => r.peak));
      const p = of("postern");
      const a = of("postfix");
      rows.push({
        workload: `SMTP ${label}, ${sessions} session(s)`,
        unit: "msg/s",
        postern: p,
        anchor: a,
        anchorName: "Postfix",
        ratio: p / a,
        ...peaks(peakOf("postern"), peakOf("postfix")),
      });
    }
  }
  return rows;
}

/** Both peaks of a row, or none when either system's is missing. */
function peaks(posternPeak?: Peak, anchorPeak?: Peak): { posternPeak?: Peak; anchorPeak?: Peak } {
  return posternPeak && anchorPeak ? { posternPeak, anchorPeak } : {};
}

export interface Pop3Json {
  results: { system: string; clients: number; mode: string; msgPerS: number; peak: Peak }[];
  idle?: Record<string, Memory>;
}
export function pop3Rows(j: Pop3Json): Row[] {
  const keys = [...new Set(j.results.map((r) => `${r.clients}/${r.mode}`))];
  return keys.map((k) => {
    const [clients, mode] = k.split("/");
    const runs = (s: string) => j.results.filter((r) => r.system === s && `${r.clients}/${r.mode}` === k);
    const p = median(runs("postern").map((r) => r.msgPerS));
    const a = median(runs("dovecot").map((r) => r.msgPerS));
    const name = `POP3 RETR, ${clients} client(s)${mode === "pipe" ? ", pipelined" : ""}`;
    const peak = (s: string) => highest(runs(s).map((r) => r.peak));
    return {
      workload: name,
      unit: "msg/s",
      postern: p,
      anchor: a,
      anchorName: "Dovecot",
      ratio: p / a,
      ...peaks(peak("postern"), peak("dovecot")),
    };
  });
}

export interface ImapJson {
  figures: {
    workload: string;
    unit: string;
    system: string;
    value: number;
    lower: boolean;
    peakPss: number;
    peakRss?: number;
  }[];
  idle?: Record<string, Memory>;
}
export function imapRows(j: ImapJson): Row[] {
  return [...new Set(j.figures.map((f) => f.workload))].map((w) => {
    const runs = (s: string) => j.figures.filter((f) => f.workload === w && f.system === s);
    const first = j.figures.find((f) => f.workload === w);
    const p = median(runs("postern").map((f) => f.value));
    const a = median(runs("dovecot").map((f) => f.value));
    const peak = (s: string) => highest(runs(s).map((f) => ({ pssKiB: f.peakPss, rssKiB: f.peakRss ?? 0 })));
    return {
      workload: `IMAP ${w}`,
      unit: first?.unit ?? "",
      postern: p,
      anchor: a,
      anchorName: "Dovecot",
      ratio: first?.lower ? a / p : p / a,
      ...peaks(peak("postern"), peak("dovecot")),
    };
  });
}

export function markdown(rows: Row[], idle: Idle[], machine: string, date: string): string {
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const peak = (p?: Peak) => (p ? `${mib(p.pssKiB)} / ${p.rssKiB ? mib(p.rssKiB) : "?"}` : "");
  const mem = (m: Memory) => `${mib(m.pssKiB)} / ${mib(m.rssKiB)} (${m.processes} processes)`;
  const lines = [
    "# Benchmark results",
    "",
    `${date}, ${machine}. Generated by \`npm run bench\` (scripts/bench/run.ts); each workload ran against`,
    "its anchor in the same run on loopback. Ratio > 1 means postern is better (rates: postern/anchor;",
    "latencies: anchor/postern). Chart: [ratios.svg](ratios.svg). Memory is that of each whole system",
    "(master and every worker; PSS counts shared pages once), peak sampled every 200 ms during the workload.",
    "",
    "| workload | unit | postern | anchor | anchor value | ratio | postern peak PSS / RSS MiB | anchor peak PSS / RSS MiB |",
    "|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.unit} | ${fmt(r.postern)} | ${r.anchorName} | ${fmt(r.anchor)} | ${r.ratio.toFixed(2)} | ${peak(r.posternPeak)} | ${peak(r.anchorPeak)} |`,
    ),
    "",
  ];
  if (idle.length > 0)
    lines.push(
      "Idle, right after start (PSS / RSS MiB):",
      "",
      "| benchmark | postern | anchor |",
      "|---|---|---|",
      ...idle.map((i) => `| ${i.bench} | ${mem(i.postern)} | ${i.anchorName}: ${mem(i.anchor)} |`),
      "",
    );
  return lines.join("\n");
}

/** A horizontal bar chart of the ratios on a log scale, with the 1.0 line marked. */
export function ratioChart(rows: readonly Row[]): string {
  const left = 300;
  const width = 420;
  const barH = 18;
  const gap = 6;
  const top = 30;
  const height = top + rows.length * (barH + gap) + 30;
  const min = 0.01;
  const max = 10;
  const x = (r: number) =>
    left +
    ((Math.log10(Math.min(max, Math.max(min, r))) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) *
      width;
  const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + width + 60}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<text x="10" y="18" font-weight="bold">postern / anchor (log scale; right of the line: postern is better)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const colour = r.ratio >= 1 ? "#2e7d32" : r.ratio >= 0.5 ? "#f9a825" : "#c62828";
    parts.push(`<text x="${left - 8}" y="${y + 13}" text-anchor="end">${esc(r.workload)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.ratio) - left).toFixed(1)}" height="${barH}" fill="${colour}"/>`,
    );
    parts.push(`<text x="${(x(r.ratio) + 4).toFixed(1)}" y="${y + 13}">${r.ratio.toFixed(2)}</text>`);
  });
  const one = x(1).toFixed(1);
  parts.push(
    `<line x1="${one}" y1="${top - 6}" x2="${one}" y2="${height - 24}" stroke="#000" stroke-dasharray="4 3"/>`,
  );
  for (const tick of [0.01, 0.1, 1, 10])
    parts.push(`<text x="${x(tick).toFixed(1)}" y="${height - 8}" text-anchor="middle">${tick}</text>`);
  parts.push("</svg>", "");
  return parts.join("\n");
}

/** The three benchmarks: script, arguments (the issues' sizes, or --quick), rows, anchor. */
function benchmarks(quick: boolean) {
  return [
    {
      name: "smtp",
      args: quick
        ? ["--count", "200", "--sessions", "1,10", "--latency", "10"]
        : ["--count", "1000", "--sessions", "1,10,50"],
      rows: (j: unknown) => smtpRows(j as SmtpJson),
      label: "SMTP",
      anchorName: "Postfix",
      anchorKey: "postfix",
    },
    {
      name: "pop3",
      args: quick ? ["--count", "300", "--repeat", "1"] : [],
      rows: (j: unknown) => pop3Rows(j as Pop3Json),
      label: "POP3",
      anchorName: "Dovecot",
      anchorKey: "dovecot",
    },
    {
      name: "imap",
      args: quick ? ["--big", "20000", "--repeat", "1", "--appends", "100"] : [],
      rows: (j: unknown) => imapRows(j as ImapJson),
      label: "IMAP",
      anchorName: "Dovecot",
      anchorKey: "dovecot",
    },
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: "boolean", default: false }, only: { type: "string" } },
  });
  const only = new Set((values.only ?? "smtp,pop3,imap").split(","));
  const quick = values.quick;
  const dir = mkdtempSync(join(tmpdir(), "postern-bench-run-"));
  const rows: Row[] = [];
  const idle: Idle[] = [];
  try {
    for (const b of benchmarks(quick)) {
      if (!only.has(b.name)) continue;
      const j = runBench(`${b.name}.js`, b.args, join(dir, `${b.name}.json`));
      rows.push(...b.rows(j));
      idle.push(...idleOf(b.label, b.anchorName, b.anchorKey, (j as { idle?: Record<string, Memory> }).idle));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${quick ? " (--quick sizes)" : ""}`;
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(join(REPO_BENCH, "RESULTS.md"), markdown(rows, idle, machine, date));
  writeFileSync(join(REPO_BENCH, "ratios.svg"), ratioChart(rows));
  process.stdout.write(
    `\n${markdown(rows, idle, machine, date)}\nwritten to ${join(REPO_BENCH, "RESULTS.md")} and ratios.svg\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  await main().catch((e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
