/*
 * programs — run the programs a recipe names: `| command` actions and filters, `?`
 * conditions, backquotes, TRAP and `!` forwarding through sendmail.
 *
 * Each program runs as `$SHELL -c command` (or, for sendmail, an argv) in its own process
 * group, with the recipe variables as its environment, the message (or part of it) on
 * stdin and the current MAILDIR as working directory. When the context names a uid/gid and
 * we are root, the child runs as that user: commands from a user's rc never run as root.
 * Past the per-program time limit the whole group is killed and the run counts as a
 * failure (procmail's TIMEOUT). stdout is collected (for filters and backquotes) up to a
 * cap; stderr goes to the caller (procmail sends it to LOGFILE). A program that stops
 * reading its input early is not an error (procmail's `i` flag semantics are applied by
 * the caller).
 * Security: the command text is trusted rc content of the user it runs as.
 */
import { spawn } from "node:child_process";
import { isPrivileged } from "../delivery/privs.js";

export interface ProgramOptions {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly input: Buffer;
  readonly timeoutMs: number;
  readonly uid?: number;
  readonly gid?: number;
  /** Collect stdout (filters, backquotes); otherwise it is discarded. */
  readonly captureStdout: boolean;
  /** Largest stdout kept, in bytes. */
  readonly maxOutput?: number;
}

export interface ProgramResult {
  /** Exit status; -1 when killed by a signal, timed out or not started. */
  readonly exitCode: number;
  readonly stdout: Buffer;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** The program did not read all of its input. */
  readonly inputTruncated: boolean;
  readonly spawnError?: string;
}

const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** Run argv[0] with argv[1..]; never throws. */
export async function runArgv(argv: readonly string[], opts: ProgramOptions): Promise<ProgramResult> {
  const [file, ...args] = argv;
  if (file === undefined || file === "") {
    return {
      exitCode: -1,
      stdout: Buffer.alloc(0),
      stderr: "",
      timedOut: false,
      inputTruncated: false,
      spawnError: "empty command",
    };
  }
  const ids = opts.uid !== undefined && isPrivileged() ? { uid: opts.uid, gid: opts.gid ?? opts.uid } : {};
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: { ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    ...ids,
  });
  const out: Buffer[] = [];
  let outBytes = 0;
  const cap = opts.maxOutput ?? DEFAULT_MAX_OUTPUT;
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    if (!opts.captureStdout || outBytes >= cap) return;
    out.push(c);
    outBytes += c.length;
  });
  child.stderr.on("data", (c: Buffer) => {
    if (stderr.length < 65536) stderr += c.toString("latin1");
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, opts.timeoutMs);
  const ended = new Promise<{ code: number | null; error?: string }>((resolve) => {
    child.on("error", (err) => resolve({ code: null, error: err.message }));
    child.on("close", (code) => resolve({ code }));
  });
  const inputTruncated = await feed(child.stdin, opts.input);
  const end = await ended;
  clearTimeout(timer);
  const stdout = Buffer.concat(out).subarray(0, cap);
  const base = { stdout, stderr, timedOut, inputTruncated };
  if (end.error !== undefined) return { ...base, exitCode: -1, spawnError: end.error };
  return { ...base, exitCode: timedOut || end.code === null ? -1 : end.code };
}

/** Run `shell -c command`. */
export async function runShell(shell: string, command: string, opts: ProgramOptions): Promise<ProgramResult> {
  return await runArgv([shell === "" ? "/bin/sh" : shell, "-c", command], opts);
}

/** Write the input; resolves true when the program closed its stdin before taking it all. */
async function feed(stdin: NodeJS.WritableStream, input: Buffer): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    let done = false;
    const finish = (truncated: boolean): void => {
      if (!done) {
        done = true;
        resolve(truncated);
      }
    };
    stdin.on("error", () => finish(true));
    stdin.write(input, (err) => finish(err !== null && err !== undefined));
    stdin.end();
  });
}
