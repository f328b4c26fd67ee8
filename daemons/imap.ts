#!/usr/bin/env node
/*
 * imap — the IMAP mail process (Dovecot's imap): serves sessions that imap-login has
 * authenticated and handed over (the client's socket, passed through master, or for TLS a
 * relay on queue_directory/private/imap), on the user's Maildir++ folders. Runs as the mail owner. See lib/imapd and lib/imap/engine.
 */
import { serveImap } from "../lib/imapd/session.js";
import { imapdSettings } from "../lib/imapd/settings.js";
import { runServer } from "../lib/server/index.js";

await runServer("imap", ({ config, log }) => {
  const shared = { settings: imapdSettings(config), log };
  return { onConnection: (socket, _listener, handoff) => serveImap(socket, shared, handoff) };
});
