/*
 * control — start, start-fg, stop, abort, reload, status, logrotate: the life cycle of
 * master, with postfix-script's messages. `start` forks master detached and returns 0
 * only once master reports that every listener is open; a failure prints master's reason.
 */
import { fork } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadMainCf } from "../config/index.js";
import { P } from "../config/params.js";
import { masterRunning } from "../master/pidfile.js";
import { type MasterReadyMessage, runMasterProcess } from "../master/run.js";
import { type CliCommand, type CliContext, CliFatal } from "./context.js";

function pidPath(ctx: CliContext): { path: string; name: string; timeout: number } {
  const main = loadMainCf(ctx.configDir);
  return {
    path: join(main.get(P.queue_directory), "pid", "master.pid"),
    name: main.get(P.mail_name),
    timeout: main.get(P.shutdown_timeout),
  };
}

function say(ctx: CliContext, text: string): void {
  ctx.err(`postern/postern-script: ${text}`);
}

const start: CliCommand = {
  name: "start",
  usage: "start",
  summary: "start the mail system in the background",
  async run(ctx) {
    const { path, name } = pidPath(ctx);
    if (await masterRunning(path)) throw new CliFatal(`the ${name} mail system is already running`);
    say(ctx, `starting the ${name} mail system`);
    const masterJs = fileURLToPath(new URL("../../daemons/master.js", import.meta.url));
    const args = ["-c", ctx.configDir, ...(ctx.verbose ? ["-v"] : [])];
    const child = fork(masterJs, args, {
      detached: true,
      stdio: ["ignore", "ignore", "ignore", "ipc"],
      execArgv: [],
    });
    const result = await new Promise<MasterReadyMessage>((resolve) => {
      child.once("message", (m) => resolve(m as MasterReadyMessage));
      child.once("exit", (code) =>
        resolve({ t: "master-failed", pid: 0, text: `master exited with status ${code}` }),
      );
    });
    child.removeAllListeners("exit");
    if (child.connected) child.disconnect();
    child.unref();
    if (result.t !== "master-ready") throw new CliFatal(result.text ?? "master failed to start");
    return 0;
  },
};

const startFg: CliCommand = {
  name: "start-fg",
  usage: "start-fg",
  summary: "run master in the foreground (systemd, containers)",
  async run(ctx) {
    await runMasterProcess(["-c", ctx.configDir, ...(ctx.verbose ? ["-v"] : [])]);
    return new Promise<number>(() => undefined); // master exits the process itself
  },
};

async function signalMaster(ctx: CliContext, sig: NodeJS.Signals): Promise<number> {
  const { path, name } = pidPath(ctx);
  const pid = await masterRunning(path);
  if (!pid) throw new CliFatal(`the ${name} mail system is not running`);
  process.kill(pid, sig);
  return pid;
}

async function waitGone(pid: number, timeoutS: number): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

const stop: CliCommand = {
  name: "stop",
  usage: "stop",
  summary: "stop the mail system, letting sessions finish",
  async run(ctx) {
    const { name, timeout } = pidPath(ctx);
    say(ctx, `stopping the ${name} mail system`);
    const pid = await signalMaster(ctx, "SIGTERM");
    if (!(await waitGone(pid, timeout + 10))) throw new CliFatal(`master pid ${pid} did not stop`);
    return 0;
  },
};

const abort: CliCommand = {
  name: "abort",
  usage: "abort",
  summary: "stop the mail system at once, killing every process",
  async run(ctx) {
    const { name } = pidPath(ctx);
    say(ctx, `aborting the ${name} mail system`);
    const pid = await signalMaster(ctx, "SIGINT");
    await waitGone(pid, 10);
    return 0;
  },
};

const reload: CliCommand = {
  name: "reload",
  usage: "reload",
  summary: "re-read the configuration files",
  async run(ctx) {
    const { name } = pidPath(ctx);
    loadMainCf(ctx.configDir);
    say(ctx, `refreshing the ${name} mail system`);
    await signalMaster(ctx, "SIGHUP");
    return 0;
  },
};

const status: CliCommand = {
  name: "status",
  usage: "status",
  summary: "exit 0 and print master's pid when running, exit 1 when not",
  async run(ctx) {
    const { path, name } = pidPath(ctx);
    const pid = await masterRunning(path);
    if (!pid) {
      say(ctx, `the ${name} mail system is not running`);
      return 1;
    }
    say(ctx, `the ${name} mail system is running: PID: ${pid}`);
    return 0;
  },
};

const logrotate: CliCommand = {
  name: "logrotate",
  usage: "logrotate",
  summary: "reopen maillog_file in every process (after the file was rotated)",
  async run(ctx) {
    await signalMaster(ctx, "SIGUSR1");
    return 0;
  },
};

export const controlCommands: CliCommand[] = [start, startFg, stop, abort, reload, status, logrotate];
