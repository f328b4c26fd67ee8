/*
 * pipe — delivery to a |command (aliases, .forward, mailbox_command) and to a /file.
 *
 * A command runs as `/bin/sh -c command` in its own process group with the message on
 * stdin (the From_ line and trace headers first, as Postfix local(8) writes them), a clean
 * environment (PATH=/usr/bin:/bin, TZ and LANG passed through, and local(8)'s HOME LOGNAME
 * USER SHELL SENDER RECIPIENT LOCAL DOMAIN EXTENSION ORIGINAL_RECIPIENT, message-derived
 * values filtered to command_expansion_filter's safe characters), as the given uid/gid when
 * running as root. Past command_time_limit the whole process group is killed. The result
 * follows Postfix's pipe_command(): exit 0 sent; output starting with an RFC 3463 code
 * decides; sysexits codes 64-78 map through Postfix's sys_exits table (75 EX_TEMPFAIL and
 * 71 EX_OSERR defer); another status bounces 5.3.0 "Command died with status N"; a signal
 * defers. The first line of output (stdout+stderr, printable, truncated) is quoted back.
 * A /file destination is an mbox append with locking, or a Maildir when it ends in "/".
 * Security: the command line is trusted configuration (alias, .forward owner); message data
 * only reaches it through the filtered environment and stdin.
 */
import { spawn } from "node:child_process";
import { chunksOf, type MessageContent } from "./content.js";
import { deliverToMaildir } from "./maildir.js";
import { deliverToMbox } from "./mbox.js";
import { isPrivileged, type Privs } from "./privs.js";

export interface CommandOutcome {
  readonly status: "sent" | "bounced" | "deferred";
  readonly dsn: string;
  readonly text: string;
  /** For the maillog only. */
  readonly detail?: string;
}

export interface CommandOptions {
  /** Text written before the content (From_ line and trace headers). */
  readonly prepend: string;
  /** Environment for the command (see commandEnvironment). */
  readonly env: Readonly<Record<string, string>>;
  /** command_time_limit in milliseconds. */
  readonly timeLimitMs: number;
  /** Run as this uid/gid (only honoured when running as root). */
  readonly privs?: Privs;
  /** Working directory (default "/"). */
  readonly cwd?: string;
}

/** Postfix's sys_exits table: status → [dsn, text]. */
export const SYS_EXITS: Readonly<Record<number, readonly [string, string]>> = {
  64: ["5.3.0", "command line usage error"],
  65: ["5.6.0", "data format error"],
  66: ["5.3.0", "cannot open input"],
  67: ["5.1.1", "user unknown"],
  68: ["5.1.2", "host name unknown"],
  69: ["5.3.0", "service unavailable"],
  70: ["5.3.0", "internal software error"],
  71: ["4.3.0", "system resource problem"],
  72: ["5.3.0", "critical OS file missing"],
  73: ["5.2.0", "can't create user output file"],
  74: ["5.3.0", "input/output error"],
  75: ["4.3.0", "temporary failure"],
  76: ["5.5.0", "remote error in protocol"],
  77: ["5.7.0", "permission denied"],
  78: ["5.3.5", "local configuration error"],
};

const OUTPUT_CAP = 2048;
const QUOTED_OUTPUT_MAX = 200;
const SAFE_VALUE = /[^0-9A-Za-z!@%\-_=+:,./]/g;

export interface CommandEnvFields {
  readonly home: string;
  readonly user: string;
  readonly shell: string;
  readonly sender: string;
  readonly recipient: string;
  readonly originalRecipient?: string;
  readonly extension?: string;
}

/** local(8)'s command environment. */
export function commandEnvironment(f: CommandEnvFields): Record<string, string> {
  const at = f.recipient.lastIndexOf("@");
  const clean = (v: string): string => v.replace(SAFE_VALUE, "_");
  const env: Record<string, string> = {
    PATH: "/usr/bin:/bin",
    HOME: f.home,
    LOGNAME: f.user,
    USER: f.user,
    SHELL: f.shell === "" ? "/bin/sh" : f.shell,
    SENDER: clean(f.sender),
    RECIPIENT: clean(f.recipient),
    LOCAL: clean(at < 0 ? f.recipient : f.recipient.slice(0, at)),
    DOMAIN: clean(at < 0 ? "" : f.recipient.slice(at + 1)),
    EXTENSION: clean(f.extension ?? ""),
    ORIGINAL_RECIPIENT: clean(f.originalRecipient ?? f.recipient),
  };
  for (const name of ["TZ", "LANG"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** The first non-empty line of command output, printable, truncated. */
export function quotedOutput(output: string): string {
  const first = output.split("\n").find((l) => l.trim() !== "") ?? "";
  const printable = first
    .replace(/\t/g, " ")
    .replace(/[^\x20-\x7e]/g, "_")
    .trim();
  return printable.length > QUOTED_OUTPUT_MAX ? `${printable.slice(0, QUOTED_OUTPUT_MAX)}...` : printable;
}

/** Map how the command ended to a delivery outcome (Postfix pipe_command()). */
export function commandOutcome(
  command: string,
  end: { code: number | null; signal: string | null; timedOut: boolean },
  output: string,
): CommandOutcome {
  const out = quotedOutput(output);
  const suffix = out !== "" ? `. Command output: ${out}` : "";
  if (end.timedOut)
    return { status: "deferred", dsn: "4.3.0", text: `Command time limit exceeded: "${command}"${suffix}` };
  if (end.signal !== null) {
    return {
      status: "deferred",
      dsn: "4.3.0",
      text: `Command died with signal ${end.signal}: "${command}"${suffix}`,
    };
  }
  const code = end.code ?? 0;
  if (code === 0) return { status: "sent", dsn: "2.0.0", text: `delivered to command: ${command}` };
  const dsnInOutput = /^([245])\.(\d{1,3})\.(\d{1,3})\s+(.*)$/.exec(out);
  if (dsnInOutput !== null) {
    const [, cls = "5", sub = "0", det = "0", text = ""] = dsnInOutput;
    return { status: cls === "4" ? "deferred" : "bounced", dsn: `${cls}.${sub}.${det}`, text };
  }
  const sysexit = SYS_EXITS[code];
  if (sysexit !== undefined) {
    const [dsn, text] = sysexit;
    return { status: dsn.startsWith("4") ? "deferred" : "bounced", dsn, text: `${text}${suffix}` };
  }
  return { status: "bounced", dsn: "5.3.0", text: `Command died with status ${code}: "${command}"${suffix}` };
}

/** Run `command` with the message on stdin; never throws for command failures. */
export async function deliverToCommand(
  command: string,
  content: MessageContent,
  opts: CommandOptions,
): Promise<CommandOutcome> {
  const ids = opts.privs !== undefined && isPrivileged() ? { uid: opts.privs.uid, gid: opts.privs.gid } : {};
  const child = spawn("/bin/sh", ["-c", command], {
    cwd: opts.cwd ?? "/",
    env: { ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    ...ids,
  });
  let output = "";
  const collect = (chunk: Buffer): void => {
    if (output.length < OUTPUT_CAP) output += chunk.toString("latin1").slice(0, OUTPUT_CAP - output.length);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, opts.timeLimitMs);
  const exited = new Promise<{ code: number | null; signal: string | null; spawnError?: Error }>(
    (resolve) => {
      child.on("error", (err) => resolve({ code: null, signal: null, spawnError: err }));
      child.on("close", (code, signal) => resolve({ code, signal }));
    },
  );
  const fed = await feedStdin(child.stdin, opts.prepend, content);
  if (fed.readError !== undefined) killGroup(child.pid);
  const end = await exited;
  clearTimeout(timer);
  if (fed.readError !== undefined) {
    return { status: "deferred", dsn: "4.3.0", text: "error reading message content", detail: fed.readError };
  }
  if (end.spawnError !== undefined) {
    return {
      status: "deferred",
      dsn: "4.3.0",
      text: `cannot execute command: "${command}": ${end.spawnError.message}`,
    };
  }
  return commandOutcome(command, { code: end.code, signal: end.signal, timedOut }, output);
}

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

/**
 * Write the message to the command; a command that stops reading early (EPIPE) is not an
 * error, but failing to read the message is: the command must not see a truncated message
 * as complete, so the caller kills it.
 */
async function feedStdin(
  stdin: NodeJS.WritableStream,
  prepend: string,
  content: MessageContent,
): Promise<{ readError?: string }> {
  const broken = new Promise<void>((resolve) => {
    stdin.on("error", () => resolve());
    stdin.on("close", () => resolve());
  });
  const write = (buf: Buffer): Promise<void> =>
    new Promise((resolve) => {
      if (stdin.write(buf)) resolve();
      else stdin.once("drain", () => resolve());
    });
  const pump = async (): Promise<{ readError?: string }> => {
    await write(Buffer.from(prepend, "utf8"));
    try {
      for await (const chunk of chunksOf(content)) await Promise.race([write(chunk), broken]);
    } catch (err) {
      return { readError: err instanceof Error ? err.message : String(err) };
    }
    stdin.end();
    return {};
  };
  return await Promise.race([pump(), broken.then(() => ({}))]);
}

export interface FileOptions {
  readonly sender: string;
  readonly arrival: Date;
  readonly prepend: string;
  readonly privs?: Privs;
  readonly sizeLimit?: number;
  readonly lockTimeoutMs?: number;
}

/** Deliver to a /file destination: mbox append, or Maildir for a path ending in "/". */
export async function deliverToFile(
  path: string,
  content: MessageContent,
  opts: FileOptions,
): Promise<number> {
  const owner = opts.privs !== undefined ? { uid: opts.privs.uid, gid: opts.privs.gid } : {};
  const limit = opts.sizeLimit !== undefined ? { sizeLimit: opts.sizeLimit } : {};
  if (path.endsWith("/")) {
    return (await deliverToMaildir(path, content, { prepend: opts.prepend, ...owner, ...limit })).size;
  }
  const lock = opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {};
  const mbox = {
    sender: opts.sender,
    arrival: opts.arrival,
    prepend: opts.prepend,
    ...owner,
    ...limit,
    ...lock,
  };
  return (await deliverToMbox(path, content, mbox)).size;
}
