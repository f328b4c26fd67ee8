/*
 * cli — the `postern` command: global options (-c config_dir, -v; POSTERN_CONFIG_DIR),
 * then a subcommand from the table. Usage errors print a usage message and exit 2;
 * configuration and runtime errors print "postern: fatal: ..." and exit 1.
 */
import { ConfigError } from "../config/index.js";
import { recipeCommand } from "../recipes/cli.js";
import { authTestCommand } from "./auth-test.js";
import { catCommand } from "./cat.js";
import { checkCommand } from "./check.js";
import { confCommand } from "./conf.js";
import { type CliCommand, CliFatal, makeContext, UsageError } from "./context.js";
import { controlCommands } from "./control.js";
import { initCommand } from "./init.js";
import { aliasesCommand, mapCommand } from "./maps.js";
import { pwCommand } from "./pw.js";
import { queueCommand } from "./queue.js";
import { sendmailCommand } from "./sendmail.js";
import { setPermissionsCommand } from "./set-permissions.js";
import { superCommand } from "./super.js";
import { userCommand } from "./user.js";

export const COMMANDS: readonly CliCommand[] = [
  ...controlCommands,
  checkCommand,
  setPermissionsCommand,
  confCommand,
  initCommand,
  userCommand,
  mapCommand,
  aliasesCommand,
  queueCommand,
  superCommand,
  catCommand,
  sendmailCommand,
  pwCommand,
  authTestCommand,
  recipeCommand,
];

export function usageText(): string {
  const rows = COMMANDS.map((c) => `  ${c.usage.padEnd(40)} ${c.summary}`);
  return `usage: postern [-c config_dir] [-v] COMMAND [ARGS]\n\ncommands:\n${rows.join("\n")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  let configDir = process.env["POSTERN_CONFIG_DIR"] ?? "/etc/postern";
  let verbose = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-c") {
      const v = argv[++i];
      if (!v) return usage("-c needs a directory");
      configDir = v;
    } else if (a === "-v") verbose = true;
    else if (a === "-h" || a === "--help") {
      process.stdout.write(usageText());
      return 0;
    } else if (a?.startsWith("-")) return usage(`unknown option: ${a}`);
    else break;
  }
  const name = argv[i];
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) return usage(name ? `unknown command: ${name}` : "no command given");
  const ctx = makeContext(configDir, verbose);
  try {
    return await cmd.run(ctx, argv.slice(i + 1));
  } catch (err) {
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"))
    ) {
      process.stderr.write(`postern: ${err.message}\nusage: postern ${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof CliFatal || err instanceof ConfigError || err instanceof Error) {
      process.stderr.write(`postern: fatal: ${err.message}\n`);
      if (verbose && !(err instanceof CliFatal) && !(err instanceof ConfigError))
        process.stderr.write(`${err.stack ?? ""}\n`);
      return 1;
    }
    process.stderr.write(`postern: fatal: ${String(err)}\n`);
    return 1;
  }
}

function usage(problem: string): number {
  process.stderr.write(`postern: ${problem}\n${usageText()}`);
  return 2;
}
