/*
 * sandbox — end-to-end test harness: a real `postern init --dev` sandbox in a temp
 * directory with a free loopback port base, the real postern command to start and stop
 * it, and waits on the real maillog. Nothing is mocked.
 */
import { execFile, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const POSTERN = join(REPO, "dist/daemons/postern.js");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [POSTERN, ...args],
      { env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

const PORT_OFFSETS = [25, 110, 143, 465, 587, 993, 995];
/** Test processes running side by side reserve their bases here (O_EXCL files). */
const RESERVATIONS = join(tmpdir(), "postern-test-ports");
const RESERVATION_STALE_MS = 30 * 60_000;

/** Claims `base` for this process; false when another test process holds it. */
function reserve(base: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, String(base));
  try {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st !== undefined && Date.now() - st.mtimeMs > RESERVATION_STALE_MS) rmSync(file, { force: true });
    closeSync(openSync(file, "wx"));
    return true;
  } catch {
    return false;
  }
}

export function releasePortBase(base: number): void {
  rmSync(join(RESERVATIONS, String(base)), { force: true });
}

/**
 * A port base N such that N+25 ... N+995 are free on 127.0.0.1 and no other test process
 * uses it. Bases are multiples of 100 between 10000 and 29900: no two bases share a port
 * (no two offsets differ by a multiple of 100), and all stay below Linux's ephemeral range
 * (32768+), where the tests' own client sockets could take one.
 */
export async function freePortBase(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const base = 10000 + Math.floor(Math.random() * 200) * 100;
    if (!reserve(base)) continue;
    const ok = await Promise.all(PORT_OFFSETS.map((o) => portFree(base + o)));
    if (ok.every(Boolean)) return base;
    releasePortBase(base);
  }
  throw new Error("no free port base");
}

/** POSTERN_KEEP_SANDBOX=1: a sandbox whose test timed out in a wait is kept for inspection. */
const KEEP_ON_FAILURE = process.env.POSTERN_KEEP_SANDBOX === "1";

/** Deferred mail retried within a second or two (fault and crash tests). */
export const FAST_RETRIES = [
  "minimal_backoff_time = 1s",
  "maximal_backoff_time = 2s",
  "queue_run_delay = 1s",
];

/** Put a file where user's Maildir should be: even root cannot deliver into it (4.x.x). */
export function blockMaildir(sb: Sandbox, user: string): string {
  const maildir = join(sb.dir, "mail", user, "Maildir");
  rmSync(maildir, { recursive: true, force: true });
  mkdirSync(join(sb.dir, "mail", user), { recursive: true });
  writeFileSync(maildir, "not a directory\n");
  return maildir;
}

/** Undo blockMaildir: an empty directory takes the file's place. */
export function repairMaildir(sb: Sandbox, user: string): void {
  const maildir = join(sb.dir, "mail", user, "Maildir");
  rmSync(maildir);
  renameSync(mkdtempSync(join(sb.dir, "mail", user, "tmp-")), maildir);
}

export class Sandbox {
  /** A wait of this sandbox's test timed out (destroy() keeps it with POSTERN_KEEP_SANDBOX=1). */
  private failed = false;

  private constructor(
    readonly dir: string,
    readonly base: number,
  ) {}

  static async create(opts: { user?: string } = {}): Promise<Sandbox> {
    const dir = mkdtempSync(join(tmpdir(), "postern-e2e-"));
    const base = await freePortBase();
    const r = await run([
      "init",
      "--dev",
      dir,
      "--port-base",
      String(base),
      ...(opts.user ? ["--user", opts.user] : []),
    ]);
    if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
    return new Sandbox(dir, base);
  }

  /** A sandbox with main.cf `settings` (postern conf -e) applied, started. */
  static async started(opts: { user?: string }, settings: string[]): Promise<Sandbox> {
    const sb = await Sandbox.create(opts);
    if (settings.length > 0) {
      const r = await sb.cli(["conf", "-e", ...settings]);
      if (r.code !== 0) throw new Error(`conf -e failed: ${r.stderr}`);
    }
    await sb.start();
    return sb;
  }

  get smtpPort(): number {
    return this.base + 25;
  }

  cli(args: string[], opts: { input?: string | Buffer } = {}): Promise<RunResult> {
    return run(["-c", this.dir, ...args], opts);
  }

  async start(): Promise<void> {
    const r = await this.cli(["start"]);
    if (r.code !== 0) throw new Error(`start failed (${r.code}): ${r.stderr}`);
  }

  async stop(): Promise<void> {
    await this.cli(["stop"]);
  }

  maillog(): string {
    const f = join(this.dir, "maillog");
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }

  /** Wait until the maillog matches re (polling), or fail after timeoutMs. */
  async waitLog(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.maillog().match(re);
      if (m) return m;
      if (Date.now() > deadline) {
        this.failed = true;
        throw new Error(`timeout waiting for ${re} in maillog:\n${this.maillog().slice(-3000)}`);
      }
      await sleep(50);
    }
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = probe();
      if (v !== undefined && v !== false) return v;
      if (Date.now() > deadline) {
        this.failed = true;
        throw new Error(`timeout waiting for ${what}\n${this.maillog().slice(-3000)}`);
      }
      await sleep(50);
    }
  }

  /**
   * What a failed wait needs to be understood: the files in each queue (name, size, mode),
   * `postern queue -p`, the sandbox's live processes and the maillog's last 80 lines.
   */
  async diagnose(): Promise<string> {
    const out: string[] = [];
    for (const q of ["incoming", "active", "deferred", "hold", "corrupt"]) {
      const dir = join(this.dir, "spool", q);
      const files = existsSync(dir) ? readdirSync(dir) : [];
      out.push(`${q}/: ${files.length} file(s)`);
      for (const f of files.slice(0, 40)) {
        try {
          const st = statSync(join(dir, f));
          const age = ((Date.now() - st.mtimeMs) / 1000).toFixed(1);
          out.push(`  ${f} size=${st.size} mode=${(st.mode & 0o7777).toString(8)} mtime_age=${age}s`);
        } catch {
          out.push(`  ${f} (gone)`);
        }
      }
    }
    const q = await this.cli(["queue", "-p"]);
    out.push(`postern queue -p (exit ${q.code}):`, q.stdout.slice(0, 4000), q.stderr.slice(0, 1000));
    out.push("processes:");
    for (const pid of processesOf(this.dir)) {
      try {
        out.push(`  ${pid} ${readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim()}`);
      } catch {
        /* gone */
      }
    }
    out.push("maillog (last 80 lines):", ...this.maillog().split("\n").slice(-81));
    if (KEEP_ON_FAILURE) out.push(`sandbox kept in ${this.dir}`);
    return out.join("\n");
  }

  async destroy(): Promise<void> {
    await this.cli(["abort"]).catch(() => undefined);
    if (this.failed && KEEP_ON_FAILURE) {
      process.stderr.write(`sandbox kept for inspection: ${this.dir}\n`);
      releasePortBase(this.base);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
    releasePortBase(this.base);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Pids of processes whose command line mentions the sandbox directory. */
export function processesOf(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      if (cmd.includes(dir)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Pids of the sandbox's processes running dist/daemons/<daemon>.js. */
export function daemonPids(dir: string, daemon: string): number[] {
  return pidsWith(dir, `/daemons/${daemon}.js`);
}

/** The sandbox's processes whose command line contains every one of `words`. */
export function pidsWith(dir: string, ...words: string[]): number[] {
  return processesOf(dir).filter((pid) => {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return words.every((w) => cmdline.includes(w));
    } catch {
      return false; // exited since processesOf listed it
    }
  });
}

/** Run a program, collecting output (for swaks, python3). */
export function runProgram(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? "");
  });
}
