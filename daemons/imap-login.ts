#!/usr/bin/env node
/*
 * imap-login — the IMAP pre-authentication process (Dovecot's imap-login): greeting,
 * CAPABILITY, STARTTLS/imaps, LOGIN and AUTHENTICATE via the auth service, then hand-off
 * to the imap mail process: the client's socket through master, or with TLS this process
 * proxying the stream. Unprivileged, no
 * mail access. See lib/imap-login and lib/imap/login-engine.ts.
 */
import { AuthClient } from "../lib/auth/client.js";
import { P } from "../lib/config/params.js";
import { serveImapLogin } from "../lib/imap-login/session.js";
import { imapLoginSettings } from "../lib/imap-login/settings.js";
import { runServer } from "../lib/server/index.js";

await runServer("imap-login", ({ config, log, passer }) => {
  const settings = imapLoginSettings(config, (m) => log.warning(m));
  const auth = new AuthClient(
    config.get(P.queue_directory),
    config.get(P.auth_failure_delay_max) * 1000 + config.get(P.ipc_timeout) * 1000,
  );
  const shared = { settings, auth, log, passer };
  return { onConnection: (socket) => serveImapLogin(socket, shared) };
});
