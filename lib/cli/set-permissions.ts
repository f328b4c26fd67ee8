/*
 * set-permissions — `postern set-permissions`: give the queue, its sockets and the maillog
 * the owners and modes lib/master/permissions describes (Postfix's `postfix
 * set-permissions`): missing queue directories are created, every file below the queue
 * directories is given to mail_owner, and each change is printed. As root it changes owners
 * and modes; as another user (the dev sandbox) only modes, since nobody else can chown.
 * Maildrop files keep their owner: pickup trusts it as the submitting user.
 */
import { loadMainCf, loadMasterCf } from "../config/index.js";
import { repair } from "../master/permissions.js";
import { type CliCommand, UsageError } from "./context.js";
import { privilegeContext, systemExpectations } from "./privileges.js";

export const setPermissionsCommand: CliCommand = {
  name: "set-permissions",
  usage: "set-permissions",
  summary: "repair owners and modes of the queue, its sockets and the maillog",
  async run(ctx, argv) {
    if (argv.length > 0) throw new UsageError(`set-permissions takes no arguments: ${argv.join(" ")}`);
    const main = loadMainCf(ctx.configDir);
    const services = loadMasterCf(main);
    const priv = privilegeContext(main);
    if (!priv.owners) ctx.warn("not running as root: only modes are repaired, owners are left as they are");
    const changes = repair(systemExpectations(main, services, priv.owners), {
      trees: true,
      names: priv.names,
    });
    for (const change of changes) ctx.out(`postern: set-permissions: ${change}`);
    return 0;
  },
};
