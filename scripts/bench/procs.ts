/*
 * procs — the benchmarks' shared helpers: memory of a whole mail system (a master process
 * and every descendant, summed RSS and PSS from /proc/PID/smaps_rollup, in KiB), medians,
 * and installing an anchor's Debian package when it is missing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

export function descendants(root: number): number[] {
  const all = readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
  const children = new Map<number, number[]>();
  for (const pid of all) {
    const ppid = parentOf(pid);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

function field(text: string, name: string): number {
  const m = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) : 0;
}

export interface Memory {
  rssKiB: number;
  pssKiB: number;
  processes: number;
}

export function memoryOf(root: number): Memory {
  let rssKiB = 0;
  let pssKiB = 0;
  let processes = 0;
  for (const pid of descendants(root)) {
    try {
      const smaps = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      rssKiB += field(smaps, "Rss");
      pssKiB += field(smaps, "Pss");
      processes++;
    } catch {
      /* exited meanwhile */
    }
  }
  return { rssKiB, pssKiB, processes };
}

/** Sample memory every intervalMs until stop() and report the peak. */
export function peakSampler(root: () => number, intervalMs = 200): { stop(): Memory } {
  let peak: Memory = { rssKiB: 0, pssKiB: 0, processes: 0 };
  const timer = setInterval(() => {
    const m = memoryOf(root());
    if (m.pssKiB > peak.pssKiB) peak = m;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

/** The larger of two memory figures, by PSS (a run may be shorter than one sample). */
export const higher = (a: Memory, b: Memory): Memory => (a.pssKiB >= b.pssKiB ? a : b);

/** The median of some figures (0 for none). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? 0 : s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** Installs a Debian package unless `probe` (a file it ships) exists already. */
export function ensurePackage(probe: string, pkg: string): void {
  if (existsSync(probe)) return;
  execFileSync("sh", ["-c", `DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg} >/dev/null`], {
    stdio: "inherit",
  });
}
