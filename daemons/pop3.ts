#!/usr/bin/env node
import { servePop3 } from "../lib/pop3d/session.js";
import { pop3dSettings } from "../lib/pop3d/settings.js";
/*
 * pop3 — the POP3 mail process (Dovecot's pop3): serves sessions that pop3-login has
 * authenticated and handed over (the client's socket, passed through master, or for TLS a
 * relay on queue_directory/private/pop3), on the user's Maildir or mbox.
 * Runs as the mail owner. See lib/pop3d and lib/pop3/mail-engine.ts.
 */
import { runServer } from "../lib/server/index.js";

await runServer("pop3", ({ config, log }) => {
  const shared = { settings: pop3dSettings(config), log };
  return { onConnection: (socket, _listener, handoff) => servePop3(socket, shared, handoff) };
});
