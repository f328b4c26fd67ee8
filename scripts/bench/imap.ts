import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ImapClient, withDeadline } from "./imap-client.js";
import { ensurePackage, higher, type Memory, median, memoryOf, peakSampler } from "./procs.js";
import { dovecot, type Pop3System, posternPop3 } from "./systems.js";

interface Figure {
  readonly workload: string;
  readonly unit: string;
  readonly system: string;
  readonly value: number;
  /** true: lower is better (latency). */
  readonly lower: boolean;
  readonly peakPss: number;
  readonly peakRss: number;
}

const USERS = { small: "bench1", big: "bench2", body: "bench3", append: "bench4" } as const;

function message(i: number, needle: boolean): string {
  const target = 2048 + ((i * 2654435761) % 2048);
  const head = [
    `From: Sender ${i} <sender${i}@example.org>`,
    "To: bench@localhost",
    `Subject: benchmark message ${i}`,
    `Date: Sat, 22 Nov 2026 10:00:${String(i % 60).padStart(2, "0")} +0000`,
    `Message-ID: <bench.${i}@example.org>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "",
  ].join("\n");
  const lines: string[] = needle ? ["the word zanzibar appears here"] : [];
  let size = head.length + 1;
  for (let n = 0; size < target; n++) {
    const text = `line ${n} of message ${i}: ${randomBytes(24).toString("base64")}`;
    lines.push(text);
    size += text.length + 1;
  }
  return `${head}\n${lines.join("\n")}\n`;
}

function fillFolder(systems: Pop3System[], user: string, count: number, small: boolean): void {
  for (let i = 1; i <= count; i++) {
    const text = small ? `Subject: m${i}\nFrom: a@example.org\n\nbody ${i}\n` : message(i, i % 100 === 0);
    const crlf = Buffer.byteLength(text) + text.split("\n").length - 1;
    const name = `${1_790_000_000 + i}.M${i}P${process.pid}.bench,S=${Buffer.byteLength(text)},W=${crlf}`;
    for (const sys of systems) writeFileSync(join(sys.maildirOf(user), "new", name), text);
  }
}

async function session(sys: Pop3System, user: string, open: Set<ImapClient>): Promise<ImapClient> {
  const c = await ImapClient.open(sys.port, open);
  await c.login(user, sys.password);
  return c;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

function must(r: { status: string; text: string }, what: string): void {
  if (r.status !== "OK") throw new Error(`${what}: ${r.status} ${r.text}`);
}

type Workload = (
  sys: Pop3System,
  open: Set<ImapClient>,
  o: Options,
) => Promise<{ value: number; unit: string; lower: boolean }>;

const selectLatency =
  (user: string): Workload =>
  async (sys, open) => {
    const c = await session(sys, user, open);
    const times: number[] = [];
    for (let i = 0; i < 5; i++)
      times.push(await timed(async () => must(await c.command("SELECT INBOX"), "SELECT")));
    await c.logout();
    return { value: median(times) * 1000, unit: "ms", lower: true };
  };

const WORKLOADS: Record<string, Workload> = {
  "select-10k": selectLatency(USERS.small),
  "select-big": selectLatency(USERS.big),
  "fetch-flags": async (sys, open) => {
    const c = await session(sys, USERS.small, open);
    must(await c.command("EXAMINE INBOX"), "EXAMINE");
    let n = 0;
    const s = await timed(async () => {
      const r = await c.command("FETCH 1:* (FLAGS UID)");
      must(r, "FETCH");
      n = r.untagged.length;
    });
    await c.logout();
    return { value: n / s, unit: "msg/s", lower: false };
  },
  "fetch-body": async (sys, open) => {
    const c = await session(sys, USERS.body, open);
    must(await c.command("EXAMINE INBOX"), "EXAMINE");
    let bytes = 0;
    const s = await timed(async () => {
      const r = await c.command("FETCH 1:* BODY.PEEK[]");
      must(r, "FETCH");
      bytes = r.literalBytes;
    });
    await c.logout();
    return { value: bytes / 1e6 / s, unit: "MB/s", lower: false };
  },
  "search-text": async (sys, open) => {
    const c = await session(sys, USERS.body, open);
    must(await c.command("EXAMINE INBOX"), "EXAMINE");
    const rounds = 5;
    const s = await timed(async () => {
      for (let i = 0; i < rounds; i++) {
        const r = await c.command('SEARCH BODY "zanzibar"');
        must(r, "SEARCH");
        if (!/^\* SEARCH( \d+){10}$/.test(r.untagged[0] ?? ""))
          throw new Error(`SEARCH found ${r.untagged[0]}`);
      }
    });
    await c.logout();
    return { value: rounds / s, unit: "searches/s", lower: false };
  },
  append: async (sys, open, o) => {
    const c = await session(sys, USERS.append, open);
    const msg = Buffer.from(message(7, false).replace(/\n/g, "\r\n"));
    const s = await timed(async () => {
      for (let i = 0; i < o.appends; i++) must(await c.append("INBOX", msg, "\\Seen"), "APPEND");
    });
    await c.logout();
    return { value: o.appends / s, unit: "appends/s", lower: false };
  },
  mixed: async (sys, open, o) => {
    const rounds = 20;
    const one = async (k: number) => {
      const c = await session(sys, USERS.body, open);
      for (let i = 0; i < rounds; i++) {
        must(await c.command("SELECT INBOX"), "SELECT");
        const from = 1 + ((k * 97 + i * 31) % 950);
        must(await c.command(`FETCH ${from}:${from + 49} (FLAGS UID ENVELOPE)`), "FETCH");
        must(await c.command(`FETCH ${from} BODY.PEEK[]`), "FETCH BODY");
        must(await c.command(`STORE ${from} +FLAGS.SILENT (\\Seen)`), "STORE");
        must(await c.command("NOOP"), "NOOP");
      }
      await c.logout();
    };
    const s = await timed(() => Promise.all(Array.from({ length: o.clients }, (_, k) => one(k))));
    return { value: (o.clients * rounds * 5) / s, unit: "commands/s", lower: false };
  },
};

function options() {
  const { values } = parseArgs({
    options: {
      big: { type: "string", default: "100000" },
      appends: { type: "string", default: "500" },
      clients: { type: "string", default: "8" },
      repeat: { type: "string", default: "3" },
      deadline: { type: "string", default: "300" },
      "port-base": { type: "string", default: "23000" },
      "dovecot-port": { type: "string", default: "24143" },
      only: { type: "string" },
      out: { type: "string" },
    },
  });
  return {
    big: Number(values.big),
    appends: Number(values.appends),
    clients: Number(values.clients),
    repeat: Number(values.repeat),
    deadlineS: Number(values.deadline),
    portBase: Number(values["port-base"]),
    dovecotPort: Number(values["dovecot-port"]),
    only: values.only?.split(",") ?? Object.keys(WORKLOADS),
    out: values.out,
  };
}
type Options = ReturnType<typeof options>;

async function runWorkload(name: string, sys: Pop3System, o: Options): Promise<Figure> {
  const open = new Set<ImapClient>();
  const sampler = peakSampler(() => sys.masterPid());
  try {
    const workload = WORKLOADS[name];
    if (workload === undefined) throw new Error(`unknown workload ${name}`);
    const r = await withDeadline(workload(sys, open, o), o.deadlineS, `${sys.name} ${name}`);
    const peak = higher(sampler.stop(), memoryOf(sys.masterPid())); // a workload may be shorter than one sample
    return { workload: name, system: sys.name, ...r, peakPss: peak.pssKiB, peakRss: peak.rssKiB };
  } catch (e) {
    sampler.stop();
    throw e;
  } finally {
    for (const c of open) c.destroy();
  }
}

/** One SELECT per folder so both servers have built their indexes before timing. */
async function warmUp(sys: Pop3System, o: Options): Promise<void> {
  for (const user of Object.values(USERS)) {
    const open = new Set<ImapClient>();
    const c = await withDeadline(session(sys, user, open), o.deadlineS, `${sys.name} login ${user}`);
    const sel = await withDeadline(c.command("SELECT INBOX"), o.deadlineS, `${sys.name} warm-up ${user}`);
    must(sel, "SELECT");
    if (!sel.untagged.includes("* 0 EXISTS"))
      must(await c.command("FETCH 1:* (FLAGS UID ENVELOPE)"), "FETCH");
    await c.logout();
  }
}

const mib = (kib: number) => (kib / 1024).toFixed(1);

function table(figures: Figure[], idle: Record<string, Memory>): string {
  const rows = [
    "| workload | postern | Dovecot | ratio | postern peak PSS MiB | Dovecot peak PSS MiB |",
    "|---|---|---|---|---|---|",
  ];
  for (const w of [...new Set(figures.map((f) => f.workload))]) {
    const of = (s: string) => figures.filter((f) => f.workload === w && f.system === s);
    const p = of("postern");
    const d = of("dovecot");
    if (p.length === 0 || d.length === 0) continue;
    const pv = median(p.map((f) => f.value));
    const dv = median(d.map((f) => f.value));
    const lower = p[0]?.lower === true;
    const ratio = lower ? dv / pv : pv / dv;
    const unit = p[0]?.unit ?? "";
    rows.push(
      `| ${w} (${unit}) | ${pv.toFixed(1)} | ${dv.toFixed(1)} | ${ratio.toFixed(2)} | ${mib(Math.max(...p.map((f) => f.peakPss)))} | ${mib(Math.max(...d.map((f) => f.peakPss)))} |`,
    );
  }
  const cell = (m: Memory | undefined) =>
    m ? `RSS ${mib(m.rssKiB)} / PSS ${mib(m.pssKiB)} MiB, ${m.processes} processes` : "";
  rows.push(`| idle (after start) | ${cell(idle["postern"])} | ${cell(idle["dovecot"])} | | | |`);
  return rows.join("\n");
}

async function main(): Promise<void> {
  const o = options();
  if (process.getuid?.() !== 0) throw new Error("run as root: Dovecot's master needs it");
  ensurePackage("/usr/lib/dovecot/imap", "dovecot-imapd");
  const password = randomBytes(9).toString("base64url");
  const root = mkdtempSync(join(tmpdir(), "postern-bench-imap-"));
  const started: Pop3System[] = [];
  try {
    const systems = [
      posternPop3(root, o.portBase, 4, password, "imap"),
      dovecot(root, o.dovecotPort, 4, password, "imap"),
    ];
    fillFolder(systems, USERS.small, 10_000, true);
    fillFolder(systems, USERS.big, o.big, true);
    fillFolder(systems, USERS.body, 1000, false);
    for (const s of systems) {
      s.ownMailboxes();
      started.push(s);
      s.start();
    }
    await new Promise((r) => setTimeout(r, 2000));
    const idle: Record<string, Memory> = {};
    for (const s of systems) idle[s.name] = memoryOf(s.masterPid());
    for (const s of systems) await warmUp(s, o);
    const figures: Figure[] = [];
    for (const name of o.only)
      for (let rep = 0; rep < o.repeat; rep++)
        for (const sys of systems) {
          const f = await runWorkload(name, sys, o);
          process.stderr.write(`${sys.name} ${name} #${rep + 1}: ${f.value.toFixed(1)} ${f.unit}\n`);
          figures.push(f);
        }
    const date = new Date().toISOString();
    process.stdout.write(
      `IMAP benchmark, ${date}, big folder ${o.big} messages, median of ${o.repeat}\n\n${table(figures, idle)}\n`,
    );
    if (o.out) writeFileSync(o.out, JSON.stringify({ date, ...o, figures, idle }, null, 2));
  } finally {
    for (const s of started) {
      try {
        s.stop();
      } catch {
        /* already stopped */
      }
    }
    rmSync(root, { recursive: true, force: true });
  }
}

await main().catch((e: unknown) => {
  process.stderr.write(`imap benchmark: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
