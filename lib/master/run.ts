/*
 * run — master's process wiring: arguments, signals, readiness report to the parent
 * (`postern start` waits for it), and exit codes. A start failure prints
 * "postern/master: fatal: ..." on stderr and exits 1 with nothing left running.
 */
import { errorText, log } from "../log/index.js";
import { Master } from "./master.js";

export interface MasterReadyMessage {
  t: "master-ready" | "master-failed";
  pid: number;
  text?: string;
}

function report(m: MasterReadyMessage): void {
  if (process.send && process.connected) {
    process.send(m);
    process.disconnect();
  }
}

export async function runMasterProcess(argv: string[]): Promise<void> {
  let configDir = process.env["POSTERN_CONFIG_DIR"] ?? "/etc/postern";
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "-c") configDir = argv[++i] ?? configDir;
    else if (argv[i] === "-v") verbose = true;
  }
  const master = new Master(configDir, verbose);
  try {
    await master.start();
  } catch (err) {
    const text = errorText(err);
    process.stderr.write(`postern/master: fatal: ${text}\n`);
    try {
      log().fatal(text);
    } catch {
      /* logging is best effort here */
    }
    report({ t: "master-failed", pid: process.pid, text });
    process.exit(1);
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    master.stop(sig).finally(() => process.exit(0));
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => {
    master.abort();
    process.exit(0);
  });
  process.on("SIGHUP", () => void master.reload());
  process.on("SIGUSR1", () => master.reopenLog());
  process.on("SIGPIPE", () => undefined);
  process.on("uncaughtException", (err) => {
    log().panic(`uncaught exception: ${err.stack ?? err.message}`);
  });
  report({ t: "master-ready", pid: process.pid });
}
