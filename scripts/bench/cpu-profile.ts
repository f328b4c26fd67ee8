/*
 * cpu-profile — sums self time per function in V8 .cpuprofile files, heaviest first, so
 * a profile of a postern worker reads in a terminal:
 *   POSTERN_PROFILE_DIR=/tmp/prof postern -c DIR start   (workers write profiles on exit)
 *   node dist/scripts/bench/cpu-profile.js [--top 20] /tmp/prof/*.cpuprofile
 * Talks to: the files named on the command line only.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

function frameName(f: CallFrame): string {
  const where = f.url.replace(/^.*\/dist\//, "").replace(/^file:\/\//, "");
  return `${f.functionName || "(anonymous)"} ${where}${where ? `:${f.lineNumber + 1}` : ""}`;
}

/** Self time in milliseconds per function, and which daemon the profile came from. */
export function selfTimes(profile: CpuProfile): {
  daemon: string;
  totalMs: number;
  byFunction: Map<string, number>;
} {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  let daemon = "";
  profile.samples.forEach((id, i) => {
    const frame = frames.get(id);
    if (frame === undefined) return;
    const name = frameName(frame);
    byFunction.set(name, (byFunction.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  for (const f of frames.values()) {
    const m = /\/daemons\/([\w-]+)\.js$/.exec(f.url);
    if (m?.[1]) daemon = m[1];
  }
  return { daemon, totalMs: (profile.endTime - profile.startTime) / 1000, byFunction };
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: "string", default: "15" } },
    allowPositionals: true,
  });
  for (const file of positionals) {
    const { daemon, totalMs, byFunction } = selfTimes(JSON.parse(readFileSync(file, "utf8")) as CpuProfile);
    console.log(`== ${file} (${daemon || "?"}), ${totalMs.toFixed(0)} ms`);
    const rows = [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
    for (const [name, ms] of rows) console.log(`${ms.toFixed(1).padStart(9)}  ${name}`);
  }
}

main();
