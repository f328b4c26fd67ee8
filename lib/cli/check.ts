/*
 * check — `postern check`: load main.cf and master.cf exactly as master will (any error is
 * fatal and names file and line), warn about parameters postern does not know, make sure
 * the queue directories exist and the maillog is writable, and that every daemon program
 * named in master.cf is installed.
 */
import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { loadMainCf, loadMasterCf } from "../config/index.js";
import { P } from "../config/params.js";
import { daemonProgram } from "../master/master.js";
import { ensureQueueDirs } from "../queue/index.js";
import { makePolicy } from "../smtpd/policy-hooks.js";
import { type CliCommand, CliFatal } from "./context.js";

export const checkCommand: CliCommand = {
  name: "check",
  usage: "check",
  summary: "verify the configuration and the queue directories",
  async run(ctx) {
    const main = loadMainCf(ctx.configDir);
    for (const name of main.unknownNames()) {
      const line = main.explicit.get(name)?.line;
      ctx.warn(
        `${main.file}${line ? `, line ${line}` : ""}: unused parameter: ${name}=${main.raw(name) ?? ""}`,
      );
    }
    for (const p of Object.values(P)) main.get(p); // every value converts, or this throws naming file and line
    // Restriction lists and their tables, exactly as smtpd will build them at start.
    try {
      makePolicy(main, (m) => ctx.warn(m));
    } catch (err) {
      throw new CliFatal(`${main.file}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const services = loadMasterCf(main);
    for (const svc of services) {
      const prog = daemonProgram(main, svc.command);
      if (!existsSync(prog))
        throw new CliFatal(`${main.configDir}/master.cf, line ${svc.line}: no such daemon program: ${prog}`);
    }
    const queueDir = main.get(P.queue_directory);
    mkdirSync(queueDir, { recursive: true });
    ensureQueueDirs(queueDir);
    const logFile = main.get(P.maillog_file);
    if (!logFile.startsWith("/dev/")) {
      try {
        accessSync(existsSync(logFile) ? logFile : dirname(logFile), constants.W_OK);
      } catch {
        ctx.warn(`maillog_file ${logFile} is not writable`);
      }
    }
    return 0;
  },
};
