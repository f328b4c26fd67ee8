/*
 * cli — `postern recipe test [-f rcfile] [--user U] [--programs] [--sender S] < message`:
 * run the recipes against a message read from stdin WITHOUT delivering anything and print
 * which recipes matched, why, and where the message would go (procmail has no dry run).
 * The rc files are the site-wide <config_directory>/procmailrc (when present) and the
 * user's ~/.procmailrc, or only the file given with -f. Programs (`?` conditions and
 * backquotes) are not run unless --programs is given; pipes, filters and forwarding are
 * never run. --user names a system user (/etc/passwd) whose home and mailbox are used.
 * Security: reads the rc files with the caller's privileges; runs nothing by default.
 */
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type CliCommand, type CliContext, CliFatal, UsageError } from "../cli/context.js";
import { explainRecipes, type RecipeContext } from "./index.js";

interface Who {
  name: string;
  home: string;
}

function lookupUser(name: string | undefined): Who {
  const me = userInfo();
  if (name === undefined || name === me.username) return { name: me.username, home: me.homedir };
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.split(":")[0] === name);
  const home = line?.split(":")[5];
  if (home === undefined) throw new CliFatal(`unknown user: ${name}`);
  return { name, home };
}

async function run(ctx: CliContext, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      f: { type: "string", short: "f" },
      user: { type: "string" },
      sender: { type: "string" },
      programs: { type: "boolean" },
    },
  });
  if (positionals[0] !== "test" || positionals.length > 1)
    throw new UsageError("recipe test [-f rcfile] [--user U] [--programs] < message");
  const who = lookupUser(values.user);
  const siteRc = join(ctx.configDir, "procmailrc");
  const rc: RecipeContext = {
    home: who.home,
    logname: who.name,
    sender: values.sender ?? "MAILER-DAEMON",
    recipient: who.name,
    defaultMailbox: `/var/mail/${who.name}`,
    sendmail: ["/usr/sbin/sendmail"],
    timeoutMs: 30_000,
    dryRun: true,
    ...(values.programs === true ? { dryRunPrograms: true } : {}),
    ...(values.f !== undefined ? { userRc: values.f } : { userRc: join(who.home, ".procmailrc") }),
    ...(values.f === undefined && existsSync(siteRc) ? { siteRc } : {}),
  };
  if (values.f !== undefined && !existsSync(values.f)) throw new CliFatal(`cannot read ${values.f}`);
  ctx.out(await explainRecipes(await ctx.stdin(), rc));
  return 0;
}

export const recipeCommand: CliCommand = {
  name: "recipe",
  usage: "recipe test [-f rcfile] [--user U]",
  summary: "show where a message on stdin would be delivered by the recipes (dry run)",
  run,
};
