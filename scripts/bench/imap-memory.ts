/*
 * imap-memory — measuring aid (not part of the benchmark run): a postern sandbox alone with
 * the IMAP benchmark's folders (10,000 and --big tiny messages, 1,000 of some 2 KiB), driven
 * through the benchmark's warm-up and workloads one step at a time, printing the imap
 * process's RSS/PSS after each step and the peak sampled every 50 ms during it; --smaps
 * adds its largest mappings at the end.
 *   sudo node dist/scripts/bench/imap-memory.js [--big 100000] [--port-base 54000] [--smaps]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ImapClient } from "./imap-client.js";
import { descendants } from "./procs.js";
import { posternPop3 } from "./systems.js";

const { values } = parseArgs({
  options: {
    big: { type: "string", default: "100000" },
    "port-base": { type: "string", default: "54000" },
    keep: { type: "boolean", default: false },
    smaps: { type: "boolean", default: false },
  },
});
const big = Number(values.big);

function fill(dir: string, count: number, body: (i: number) => string): void {
  for (let i = 1; i <= count; i++) {
    const text = body(i);
    const crlf = Buffer.byteLength(text) + text.split("\n").length - 1;
    const name = `${1_790_000_000 + i}.M${i}P${process.pid}.bench,S=${Buffer.byteLength(text)},W=${crlf}`;
    writeFileSync(join(dir, "new", name), text);
  }
}

const small = (i: number) => `Subject: m${i}\nFrom: a@example.org\n\nbody ${i}\n`;
const medium = (i: number) =>
  `From: Sender ${i} <s${i}@example.org>\nTo: bench@localhost\nSubject: message ${i}\nDate: Sat, 22 Nov 2026 10:00:00 +0000\nMessage-ID: <b.${i}@example.org>\n\n${randomBytes(1500).toString("base64")}\n`;

function kib(pid: number, field: string): number {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(t)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function procName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

const root = mkdtempSync(join(tmpdir(), "postern-imapmem-"));
const sys = posternPop3(root, Number(values["port-base"]), 4, "secret-pw-1", "imap");
fill(sys.maildirOf("bench1"), 10_000, small);
fill(sys.maildirOf("bench2"), big, small);
fill(sys.maildirOf("bench3"), 1000, medium);
sys.start();
await new Promise((r) => setTimeout(r, 1500));

function imapPid(): number | undefined {
  return descendants(sys.masterPid()).find((p) => /daemons\/imap\.js/.test(procName(p)));
}

/** User + system CPU time of a process so far, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

async function step(name: string, fn: () => Promise<void>): Promise<void> {
  let peakRss = 0;
  let peakPss = 0;
  const sample = () => {
    const p = imapPid();
    if (p === undefined) return;
    peakRss = Math.max(peakRss, kib(p, "Rss"));
    peakPss = Math.max(peakPss, kib(p, "Pss"));
  };
  const timer = setInterval(sample, 50);
  const cpu0 = cpuMs(imapPid());
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const cpu = cpuMs(imapPid()) - cpu0;
  clearInterval(timer);
  sample();
  const p = imapPid();
  const rss = p === undefined ? 0 : kib(p, "Rss");
  const pss = p === undefined ? 0 : kib(p, "Pss");
  console.log(
    `${name.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms, imap CPU ${String(cpu).padStart(5)} ms, RSS ${(rss / 1024).toFixed(1)} PSS ${(pss / 1024).toFixed(1)} (peak RSS ${(peakRss / 1024).toFixed(1)} PSS ${(peakPss / 1024).toFixed(1)})`,
  );
}

const open = new Set<ImapClient>();
async function session(user: string): Promise<ImapClient> {
  const c = await ImapClient.open(sys.port, open);
  await c.login(user, sys.password);
  return c;
}
const ok = (r: { status: string; text: string }) => {
  if (r.status !== "OK") throw new Error(r.text);
};

try {
  await step("login", async () => {
    const c = await session("bench4");
    await c.logout();
  });
  for (const [user, label] of [
    ["bench1", "10k"],
    ["bench2", "big"],
    ["bench3", "1000"],
  ] as const) {
    const c = await session(user);
    await step(`warm-up SELECT ${label}`, async () => ok(await c.command("SELECT INBOX")));
    await step(`warm-up FETCH ENVELOPE ${label}`, async () =>
      ok(await c.command("FETCH 1:* (FLAGS UID ENVELOPE)")),
    );
    await c.logout();
  }
  const c = await session("bench2");
  await step("SELECT big x200", async () => {
    for (let i = 0; i < 200; i++) ok(await c.command("SELECT INBOX"));
  });
  await step("FETCH 1:* (FLAGS UID) big x5", async () => {
    for (let i = 0; i < 5; i++) ok(await c.command("FETCH 1:* (FLAGS UID)"));
  });
  await c.logout();
  const d = await session("bench1");
  await step("EXAMINE+FETCH FLAGS 10k x20", async () => {
    for (let i = 0; i < 20; i++) {
      ok(await d.command("EXAMINE INBOX"));
      ok(await d.command("FETCH 1:* (FLAGS UID)"));
    }
  });
  await d.logout();
  const e = await session("bench3");
  await step("FETCH BODY.PEEK[] 1000 x5", async () => {
    ok(await e.command("EXAMINE INBOX"));
    for (let i = 0; i < 5; i++) ok(await e.command("FETCH 1:* BODY.PEEK[]"));
  });
  await step("SEARCH BODY x20", async () => {
    for (let i = 0; i < 20; i++) ok(await e.command('SEARCH BODY "zanzibar"'));
  });
  await step("mixed-like x100", async () => {
    for (let i = 0; i < 100; i++) {
      ok(await e.command("SELECT INBOX"));
      const from = 1 + ((i * 31) % 950);
      ok(await e.command(`FETCH ${from}:${from + 49} (FLAGS UID ENVELOPE)`));
      ok(await e.command(`FETCH ${from} BODY.PEEK[]`));
      ok(await e.command(`STORE ${from} +FLAGS.SILENT (\\Seen)`));
      ok(await e.command("NOOP"));
    }
  });
  await e.logout();
  await step("idle 2s", () => new Promise((r) => setTimeout(r, 2000)));
  const p = imapPid();
  if (p !== undefined && values.smaps) {
    const maps: [number, string][] = [];
    let head = "";
    for (const line of readFileSync(`/proc/${p}/smaps`, "utf8").split("\n")) {
      if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) head = line;
      const m = /^Rss:\s+(\d+) kB/.exec(line);
      if (m) maps.push([Number(m[1]), head]);
    }
    maps.sort((a, b) => b[0] - a[0]);
    for (const [kb, h] of maps.slice(0, 25)) console.log(`${(kb / 1024).toFixed(1).padStart(7)} MiB  ${h}`);
  }
} finally {
  for (const c of open) c.destroy();
  sys.stop();
  if (values.keep) console.log(`kept ${root}`);
  else rmSync(root, { recursive: true, force: true });
}
