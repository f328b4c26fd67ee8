/*
 * check — `postern check`: load main.cf and master.cf exactly as master will (any error is
 * fatal and names file and line), warn about parameters postern does not know, make sure
 * the queue directories exist and the maillog is writable, and that every daemon program
 * named in master.cf is installed. Privilege separation (lib/cli/privileges.ts): as root,
 * the users and group master will run services as must exist; chroot = y is warned about
 * for services that cannot be confined (lib/master/confine); wrong owners or modes of the
 * queue, its sockets and the maillog are warned about with path, expected and actual values
 * (`postern set-permissions` repairs them); TLS keys a dropped service cannot read are
 * warned about.
 */
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import { loadMainCf, loadMasterCf, type MainCf, type MasterService } from "../config/index.js";
import { P } from "../config/params.js";
import { daemonProgram } from "../master/master.js";
import { ensureQueueTree, formatProblem, inspect } from "../master/permissions.js";
import { makePolicy } from "../smtpd/policy-hooks.js";
import { type CliCommand, type CliContext, CliFatal } from "./context.js";
import {
  chrootWarnings,
  privilegeContext,
  recipientMapWarnings,
  systemExpectations,
  tlsReadabilityWarnings,
} from "./privileges.js";

/** At most this many problems are listed one by one (a queue may hold many files). */
const PROBLEM_LIMIT = 20;

function checkPermissions(ctx: CliContext, main: MainCf, services: MasterService[]): void {
  const priv = privilegeContext(main);
  for (const w of chrootWarnings(main, services)) ctx.warn(w);
  ensureQueueTree(main.get(P.queue_directory), priv.owners);
  const problems = inspect(systemExpectations(main, services, priv.owners));
  for (const p of problems.slice(0, PROBLEM_LIMIT)) ctx.warn(formatProblem(p, priv.names));
  if (problems.length > PROBLEM_LIMIT)
    ctx.warn(`... and ${problems.length - PROBLEM_LIMIT} more paths with wrong owner or mode`);
  if (problems.length > 0) ctx.warn("run postern set-permissions to repair owners and modes");
  if (!priv.privs) return;
  for (const w of tlsReadabilityWarnings(main, services, priv.privs)) ctx.warn(w);
  for (const w of recipientMapWarnings(main, services, priv.privs)) ctx.warn(w);
}

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
    checkPermissions(ctx, main, services);
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
