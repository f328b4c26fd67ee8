/*
 * sendmail — `postern sendmail [sendmail options]`, `postern mailq`, `postern newaliases`:
 * the classic interfaces under the postern command, with -c applied (lib/sendmail does the work).
 */
import { sendmailMain } from "../sendmail/cli.js";
import type { CliCommand } from "./context.js";

export const sendmailCommand: CliCommand = {
  name: "sendmail",
  usage: "sendmail [-t] [-i] [-f sender] [-F name] [-bs|-bp|-bi] [recipient ...]",
  summary: "submit mail like sendmail(1); the message is read from standard input",
  run: (ctx, argv) => sendmailMain(argv, "sendmail", { configDir: ctx.configDir }),
};
