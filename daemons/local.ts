#!/usr/bin/env node
import { fileURLToPath } from "node:url";
/*
 * local — the local delivery agent (Postfix's local(8)): aliases, .forward, Maildir, mbox,
 * commands and files, for recipients in mydestination. Serves qmgr on
 * queue_directory/private/local. See lib/delivery and lib/local.
 */
import { readPasswdFile } from "../lib/auth/passwd-file.js";
import { CleanupClient } from "../lib/cleanup/client.js";
import { P } from "../lib/config/params.js";
import { createUserResolver, readSystemPasswd } from "../lib/delivery/users.js";
import { recipesHook } from "../lib/local/recipes.js";
import { serveLocal } from "../lib/local/service.js";
import { openMap } from "../lib/maps/index.js";
import { runServer } from "../lib/server/index.js";

await runServer("local", async ({ config, log }) => {
  const system = await readSystemPasswd();
  const account = (name: string) => system.get(name);
  const privsUser = account(config.get(P.default_privs));
  const vmail = account(config.get(P.virtual_uid));
  const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, home: "/" };
  const passdb = config.get(P.user_passdb);
  const timeoutMs = config.get(P.ipc_timeout) * 1000;
  const svc = {
    cfg: {
      localDomains: config.get(P.mydestination).map((d) => d.toLowerCase().replace(/\.$/, "")),
      recipientDelimiter: config.get(P.recipient_delimiter),
      ownerRequestSpecial: config.get(P.owner_request_special),
      mailLocation: config.get(P.mail_location),
      homeMailbox: config.get(P.home_mailbox),
      mailSpoolDirectory: config.get(P.mail_spool_directory),
      mailboxCommand: config.get(P.mailbox_command),
      forwardPath: config
        .get(P.forward_path)
        .split(/[\s,]+/)
        .filter(Boolean),
      allowMailToCommands: config.get(P.allow_mail_to_commands),
      allowMailToFiles: config.get(P.allow_mail_to_files),
      defaultPrivs: privsUser ? { uid: privsUser.uid, gid: privsUser.gid, home: privsUser.home } : self,
      commandTimeLimit: config.get(P.command_time_limit),
      mailboxSizeLimit: config.get(P.mailbox_size_limit),
      prependDeliveredHeader: config.get(P.prepend_delivered_header),
      hostname: config.get(P.myhostname),
      recipes: recipesHook({
        enabled: config.get(P.recipes_enable),
        siteRc: config.get(P.recipes_site_rc),
        sendmail: [
          process.execPath,
          fileURLToPath(new URL("./postern.js", import.meta.url)),
          "-c",
          config.configDir,
          "sendmail",
        ],
        timeoutMs: config.get(P.command_time_limit) * 1000,
        sizeLimit: config.get(P.mailbox_size_limit),
        location: {
          mailLocation: config.get(P.mail_location),
          homeMailbox: config.get(P.home_mailbox),
          mailSpoolDirectory: config.get(P.mail_spool_directory),
        },
        log,
      }),
    },
    deps: {
      aliasMaps: config.get(P.alias_maps).map((spec) => openMap(spec, { format: "aliases" })),
      lookupUser: createUserResolver({
        virtualUsers: () => readPasswdFile(passdb),
        ...(vmail ? { virtualUid: vmail.uid, virtualGid: vmail.gid } : {}),
        systemUsers: config.get(P.local_system_users),
      }),
    },
    cleanup: new CleanupClient(config.get(P.queue_directory), timeoutMs),
    log,
    timeoutMs,
  };
  return { onConnection: (socket) => serveLocal(socket, svc) };
});
